// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where the page comes from, behind one interface (as chrony's refclock
// drivers): the vmclock device, a regular file (simulator, fixtures), or
// memory owned by the process (tests, benchmarks).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "abi.h"
#include "page_notify.h"
#include "result.h"

namespace vmc {

class PageSource {
 public:
  virtual ~PageSource() = default;
  // Bytes to read under the seqlock: a live mapping, or a buffer that a
  // pread() refilled just now. 8-byte aligned.
  virtual Result<std::span<const volatile uint8_t>> view() = 0;
  // Follows a file replaced by rename, truncated or removed; cheap enough
  // to call once per sample.
  virtual Status refresh() { return Ok{}; }
  // The device's notifications (page_notify.h), or null: watch on a timer.
  virtual Notifier* notifier() { return nullptr; }
  // False when the copy is made by the kernel (pread): the counter is then
  // read just after the copy, not inside its window.
  virtual bool counter_in_window() const { return true; }
  // True when view() returns one mapping for the source's lifetime that
  // nothing can truncate (memory, the device's mmap): the sampler's fast
  // path then reads it without asking view() again or guarding against
  // SIGBUS. False, the safe answer, for a page file (replaced, truncated)
  // and for any source that does not say.
  virtual bool mapping_is_stable() const { return false; }
  virtual std::string_view kind() const = 0;
  // Why the source reads the way kind() says when that is a fallback (for
  // "device-pread": the mmap() error), for the line that names the kind;
  // empty otherwise.
  virtual std::string note() const { return {}; }
  const std::string& path() const { return path_; }

 protected:
  explicit PageSource(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Opens a character device as the vmclock device and anything else as a
// page file. Errors name the path and the reason (Errc::no_input).
Result<std::unique_ptr<PageSource>> open_page_source(const std::string& path);

Result<std::unique_ptr<PageSource>> open_device_source(const std::string& path);
Result<std::unique_ptr<PageSource>> open_file_source(const std::string& path);

// A page in process memory, for tests and benchmarks; write it with
// PageWriter over writable(). As long as a real page may be: at most
// abi::kMaxPageBytes (a longer one is a test's mistake: std::length_error).
class MemoryPageSource final : public PageSource {
 public:
  explicit MemoryPageSource(size_t len = abi::kPageBytes);
  Result<std::span<const volatile uint8_t>> view() override { return std::span<const volatile uint8_t>(buf_.get(), len_); }
  std::string_view kind() const override { return "memory"; }
  bool mapping_is_stable() const override { return true; }
  volatile uint8_t* writable() { return buf_.get(); }
  size_t size() const { return len_; }

 private:
  struct Free { void operator()(volatile uint8_t* p) const; };
  std::unique_ptr<volatile uint8_t, Free> buf_;
  size_t len_;
};

}  // namespace vmc
