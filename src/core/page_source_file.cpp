// SPDX-License-Identifier: Apache-2.0
// A page in a regular file, mapped read-only and shared so that the
// writer's updates show through. A writer may replace the file atomically
// (rename), truncate or remove it; refresh() follows each case. The file
// is mapped whole up to the largest page there is (64 KiB on arm64), so
// its `size` may reach the file's length.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <fmt/format.h>

#include "abi.h"
#include "fd.h"
#include "file_kind.h"
#include "page_source.h"

namespace vmc {
namespace {

class FilePageSource final : public PageSource {
 public:
  explicit FilePageSource(std::string path) : PageSource(std::move(path)) {}

  Status open() {
    // O_NONBLOCK: a FIFO put at the path (after open_page_source() looked,
    // or on a re-open after a rename) must not wait for a writer.
    Fd fd(retry_eintr([&] { return ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); }));
    if (!fd) return make_error(Errc::no_input, fmt::format("{}: cannot open: {}", path_, std::strerror(errno)));
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0)
      return make_error(Errc::no_input, fmt::format("{}: cannot stat: {}", path_, std::strerror(errno)));
    if (!S_ISREG(st.st_mode))
      return make_error(Errc::no_input, fmt::format("{}: is {}: the page must be the vmclock device or a regular file",
                                                    path_, file_kind(st.st_mode)));
    if (st.st_size < static_cast<off_t>(abi::kMinSize))
      return make_error(Errc::data, fmt::format("{}: {} bytes, shorter than the {}-byte vmclock structure",
                                                path_, st.st_size, abi::kMinSize));
    size_t len = std::min<size_t>(static_cast<size_t>(st.st_size), abi::kMaxPageBytes);
    void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED)
      return make_error(Errc::no_input, fmt::format("{}: cannot map: {}", path_, std::strerror(errno)));
    map_ = Mapping(p, len);
    fd_ = std::move(fd);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return Ok{};
  }

  Result<std::span<const volatile uint8_t>> view() override {
    if (!map_) return make_error(Errc::no_input, fmt::format("{}: not mapped: {}", path_, why_unmapped_));
    return std::span<const volatile uint8_t>(static_cast<const volatile uint8_t*>(map_.get()), map_.size());
  }

  Status refresh() override {
    struct stat st{};
    if (::stat(path_.c_str(), &st) != 0) {
      // Removed: the old inode is a frozen page nobody updates any more.
      unmap(fmt::format("removed ({})", std::strerror(errno)));
      return make_error(Errc::no_input, fmt::format("{}: {}", path_, why_unmapped_));
    }
    if (!map_ || st.st_dev != dev_ || st.st_ino != ino_) {
      map_.reset();
      fd_.reset();
      if (auto s = open(); !s) {
        why_unmapped_ = s.error().message;
        return s;
      }
      return Ok{};
    }
    // Same device and inode: `st` describes the mapped file itself, no
    // fstat() needed (one system call less per sample).
    const struct stat& cur = st;
    const size_t want = std::min<size_t>(static_cast<size_t>(cur.st_size), abi::kMaxPageBytes);
    if (want > map_.size()) {
      // A writer filling the file in place: map what it holds now.
      void* p = ::mmap(nullptr, want, PROT_READ, MAP_SHARED, fd_.get(), 0);
      if (p == MAP_FAILED)
        return make_error(Errc::no_input, fmt::format("{}: cannot map: {}", path_, std::strerror(errno)));
      map_ = Mapping(p, want);
      return Ok{};
    }
    if (static_cast<size_t>(cur.st_size) < map_.size()) {
      // Reading past the new end of a truncated file would raise SIGBUS.
      unmap(fmt::format("truncated to {} bytes", cur.st_size));
      return make_error(Errc::data, fmt::format("{}: {}", path_, why_unmapped_));
    }
    return Ok{};
  }

  std::string_view kind() const override { return "file"; }

 private:
  void unmap(std::string why) {
    map_.reset();
    fd_.reset();
    dev_ = 0;
    ino_ = 0;
    why_unmapped_ = std::move(why);
  }
  Fd fd_;
  Mapping map_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::string why_unmapped_;
};

}  // namespace

Result<std::unique_ptr<PageSource>> open_file_source(const std::string& path) {
  auto src = std::make_unique<FilePageSource>(path);
  if (auto s = src->open(); !s) return s.error();
  return std::unique_ptr<PageSource>(std::move(src));
}

}  // namespace vmc
