// SPDX-License-Identifier: Apache-2.0
// C++ on top of vmclock.h: an owning handle, and the answer with
// std::chrono types. Header-only; links libvmclock like the C API.
#pragma once
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "vmclock/vmclock.h"

namespace vmclock {

using sys_ns = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

// vmclock_open() failed: what() names the paths and reasons, error() is the errno.
class open_error : public std::runtime_error {
 public:
  open_error(int err, const char* what) : std::runtime_error(what), err_(err) {}
  int error() const noexcept { return err_; }

 private:
  int err_;
};

enum class status : int32_t {
  unknown = VMCLOCK_UNKNOWN,
  synchronized = VMCLOCK_SYNCHRONIZED,
  freerunning = VMCLOCK_FREERUNNING,
  disrupted = VMCLOCK_DISRUPTED,
};

struct bound {
  sys_ns earliest, latest, realtime;
  std::chrono::nanoseconds half_width;
  enum status status = status::unknown;
  int32_t source = VMCLOCK_SOURCE_NONE;
  uint64_t disruption_marker = 0;
  // True when earliest/latest are a bound (SYNCHRONIZED or FREERUNNING).
  bool valid() const { return status == status::synchronized || status == status::freerunning; }
};

inline std::string_view name(status s) { return vmclock_status_name(static_cast<int32_t>(s)); }

class clock {
 public:
  // Throws open_error naming the paths when neither the page nor the
  // segment can be used.
  explicit clock(const char* page_path = nullptr, const char* segment_path = nullptr, uint32_t flags = 0) {
    vmclock_options o{};
    o.size = sizeof o;
    o.page_path = page_path;
    o.segment_path = segment_path;
    o.flags = flags;
    if (int rc = vmclock_open(&c_, &o); rc != 0)
      throw open_error(-rc, vmclock_open_error());
  }
  clock(clock&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  clock& operator=(clock&& o) noexcept {
    if (this != &o) { vmclock_close(c_); c_ = std::exchange(o.c_, nullptr); }
    return *this;
  }
  clock(const clock&) = delete;
  clock& operator=(const clock&) = delete;
  ~clock() { vmclock_close(c_); }

  // noexcept: the status carries every outcome.
  bound now() const noexcept {
    vmclock_bound b;
    vmclock_now(c_, &b, sizeof b);
    auto tp = [](const timespec& t) { return sys_ns(std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)); };
    return bound{tp(b.earliest), tp(b.latest), tp(b.realtime),
                 std::chrono::nanoseconds(static_cast<int64_t>(b.bound_ns)), static_cast<status>(b.status),
                 b.source, b.disruption_marker};
  }
  // Why the last answer had no bound, for people.
  std::string_view why() const noexcept { return vmclock_why(c_); }
  vmclock_t* get() const noexcept { return c_; }

 private:
  vmclock_t* c_ = nullptr;
};

}  // namespace vmclock
