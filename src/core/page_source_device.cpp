// The vmclock device (/dev/vmclock0, ptp_vmclock 6.13+): one page mapped
// read-only at offset 0; pread() when the mapping is refused (the kernel
// then makes the consistent copy itself); poll() when the device sends
// notifications (7.0+, NOTIFICATION_PRESENT).
#include <fcntl.h>
#include <poll.h>

#include <cstring>
#include <fmt/format.h>

#include "abi.h"
#include "fd.h"
#include "page_source.h"

namespace vmc {
namespace {

class DevicePageSource final : public PageSource {
 public:
  explicit DevicePageSource(std::string path) : PageSource(std::move(path)) {}

  Status open() {
    fd_.reset(retry_eintr([&] { return ::open(path_.c_str(), O_RDONLY | O_CLOEXEC); }));
    if (!fd_) return make_error(Errc::no_input, fmt::format("{}: cannot open: {}", path_, std::strerror(errno)));
    void* p = ::mmap(nullptr, abi::kPageBytes, PROT_READ, MAP_SHARED, fd_.get(), 0);
    if (p != MAP_FAILED) {
      map_ = Mapping(p, abi::kPageBytes);
    } else {
      mmap_errno_ = errno;
    }
    // A device that supports poll() answers it without error; one that does
    // not (6.x) returns POLLIN|POLLRDNORM at once by default, which would
    // spin: only trust it when the page says notifications exist.
    return Ok{};
  }

  Result<std::span<const volatile uint8_t>> view() override {
    if (map_) return std::span<const volatile uint8_t>(static_cast<const volatile uint8_t*>(map_.get()), map_.size());
    ssize_t n = retry_eintr([&] { return ::pread(fd_.get(), buf_, sizeof buf_, 0); });
    if (n < 0) return make_error(Errc::io, fmt::format("{}: pread: {}", path_, std::strerror(errno)));
    return std::span<const volatile uint8_t>(buf_, static_cast<size_t>(n));
  }

  int notify_fd() const override { return notify_ ? fd_.get() : -1; }
  void enable_notify(bool on) { notify_ = on; }
  bool counter_in_window() const override { return static_cast<bool>(map_); }
  bool mapping_is_stable() const override { return static_cast<bool>(map_); }
  std::string_view kind() const override { return map_ ? "device-mmap" : "device-pread"; }
  std::string note() const override {
    return map_ ? std::string() : fmt::format("mmap refused: {}", std::strerror(mmap_errno_));
  }

 private:
  Fd fd_;
  Mapping map_;
  alignas(8) uint8_t buf_[abi::kPageBytes]{};
  bool notify_ = false;
  int mmap_errno_ = 0;
};

}  // namespace

Result<std::unique_ptr<PageSource>> open_device_source(const std::string& path) {
  auto src = std::make_unique<DevicePageSource>(path);
  if (auto s = src->open(); !s) return s.error();
  // Notifications are announced by the page itself.
  auto v = src->view();
  if (v && v->size() > offsetof(abi::vmclock_abi, flags) + 8) {
    uint64_t flags = 0;
    for (int i = 7; i >= 0; --i) flags = flags << 8 | (*v)[offsetof(abi::vmclock_abi, flags) + static_cast<size_t>(i)];
    src->enable_notify((flags & static_cast<uint64_t>(abi::Flag::notification_present)) != 0);
  }
  return std::unique_ptr<PageSource>(std::move(src));
}

}  // namespace vmc
