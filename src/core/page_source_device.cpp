// SPDX-License-Identifier: Apache-2.0
// The vmclock device (/dev/vmclock0, ptp_vmclock 6.13+): one page of the
// kernel's page size (64 KiB on some arm64 kernels) mapped read-only at
// offset 0; pread() when the mapping is refused (the kernel then makes the
// consistent copy itself); poll() only where the driver really implements
// it (page_notify.h).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fmt/format.h>
#include <optional>
#include <vector>

#include "abi.h"
#include "fd.h"
#include "page.h"
#include "page_source.h"

namespace vmc {
namespace {

class DevicePageSource final : public PageSource {
 public:
  explicit DevicePageSource(std::string path) : PageSource(std::move(path)) {}

  Status open() {
    // O_NONBLOCK: a character device that is not a vmclock (a tty) must not
    // hold open(); the vmclock driver ignores the flag.
    fd_.reset(retry_eintr([&] { return ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); }));
    if (!fd_) return make_error(Errc::no_input, fmt::format("{}: cannot open: {}", path_, std::strerror(errno)));
    // The driver maps exactly one kernel page, whatever the page's size.
    const long ps = ::sysconf(_SC_PAGESIZE);
    const size_t len = ps > 0 ? static_cast<size_t>(ps) : abi::kPageBytes;
    void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_.get(), 0);
    if (p != MAP_FAILED) {
      map_ = Mapping(p, len);
    } else {
      mmap_errno_ = errno;
      buf_.assign(len / sizeof(uint64_t), 0);
    }
    return Ok{};
  }

  // Chooses how the page is watched, from the page's flag and the driver's
  // answer to one poll().
  void probe_notifications() {
    bool flag = false;
    if (auto v = view(); v && v->size() >= abi::kMinSize) {
      uint8_t b[sizeof(uint64_t)];
      for (size_t i = 0; i < sizeof b; ++i) b[i] = (*v)[offsetof(abi::vmclock_abi, flags) + i];
      flag = (load_le64(b) & static_cast<uint64_t>(abi::Flag::notification_present)) != 0;
    }
    notifier_ = Notifier::probe(fd_.get(), flag);
  }

  Result<std::span<const volatile uint8_t>> view() override {
    if (map_) return std::span<const volatile uint8_t>(static_cast<const volatile uint8_t*>(map_.get()), map_.size());
    auto* b = reinterpret_cast<uint8_t*>(buf_.data());
    ssize_t n = retry_eintr([&] { return ::pread(fd_.get(), b, buf_.size() * sizeof(uint64_t), 0); });
    if (n < 0) return make_error(Errc::io, fmt::format("{}: pread: {}", path_, std::strerror(errno)));
    return std::span<const volatile uint8_t>(b, static_cast<size_t>(n));
  }

  Notifier* notifier() override { return notifier_ ? &*notifier_ : nullptr; }
  bool counter_in_window() const override { return static_cast<bool>(map_); }
  bool mapping_is_stable() const override { return static_cast<bool>(map_); }
  std::string_view kind() const override { return map_ ? "device-mmap" : "device-pread"; }
  std::string note() const override {
    return map_ ? std::string() : fmt::format("mmap refused: {}", std::strerror(mmap_errno_));
  }

 private:
  Fd fd_;
  Mapping map_;
  std::vector<uint64_t> buf_;  // the pread() copy: 8-byte aligned
  std::optional<Notifier> notifier_;
  int mmap_errno_ = 0;
};

}  // namespace

Result<std::unique_ptr<PageSource>> open_device_source(const std::string& path) {
  auto src = std::make_unique<DevicePageSource>(path);
  if (auto s = src->open(); !s) return s.error();
  src->probe_notifications();
  return std::unique_ptr<PageSource>(std::move(src));
}

}  // namespace vmc
