#pragma once
// Consistent copy of a page that the host rewrites under a seqlock, read
// the way the kernel's ptp_vmclock does: even seq_count, barrier, copy,
// barrier, same seq_count. The caller's `inside` runs within the window
// so that a counter reading belongs to the copied calibration.
#include <time.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <fmt/format.h>

#include "abi.h"
#include "result.h"

namespace vmc {

struct SeqlockLimits {
  uint32_t max_retries = 1'000'000;
  int64_t time_limit_ns = 100'000'000;  // the kernel gives up after 100 ms
};

// Why a seqlock read gave up. Callers decide on this, never on the text.
enum class SeqlockFailure : uint8_t {
  none,
  stuck_odd,      // seq_count odd until the limit: the host never finished its update
  kept_changing,  // even each time, but never the same twice across a copy
};

// An error from reading a page: the usual Error, and whether (and how) the
// seqlock was the cause.
struct PageError : Error {
  SeqlockFailure seqlock = SeqlockFailure::none;
};

struct RawCopy {
  alignas(8) std::array<uint8_t, sizeof(abi::vmclock_abi)> bytes{};
  size_t len = 0;
  uint32_t seq = 0;
  uint32_t retries = 0;
};

namespace detail {
inline int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}
inline uint32_t load_seq(const volatile uint8_t* base, int order) {
  auto* p = reinterpret_cast<const uint32_t*>(const_cast<const uint8_t*>(base) +
                                              offsetof(abi::vmclock_abi, seq_count));
  uint32_t v = __atomic_load_n(p, order);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}
}  // namespace detail

// One attempt: copies out.len bytes and runs `inside` within the window.
// True when seq_count was even and unchanged across the copy (out.seq set);
// `seen` gets the first seq_count read either way. No allocation, no
// system call: libvmclock's now() uses it directly.
template <class Inside>
bool seqlock_copy_once(const volatile uint8_t* base, RawCopy& out, Inside&& inside, uint32_t& seen) {
  const size_t words = out.len / 8;
  auto* src = reinterpret_cast<const uint64_t*>(const_cast<const uint8_t*>(base));
  auto* dst = reinterpret_cast<uint64_t*>(out.bytes.data());
  uint32_t s = detail::load_seq(base, __ATOMIC_ACQUIRE);
  seen = s;
  if (s & 1u) return false;
  for (size_t i = 0; i < words; ++i) dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
  for (size_t i = words * 8; i < out.len; ++i) out.bytes[i] = base[i];
  inside();
  std::atomic_thread_fence(std::memory_order_acquire);
  if (detail::load_seq(base, __ATOMIC_RELAXED) != s) return false;
  out.seq = s;
  return true;
}

// `base` must be 8-byte aligned (a mapping or an aligned buffer).
template <class Inside>
Result<RawCopy, PageError> seqlock_read(const volatile uint8_t* base, size_t len, Inside&& inside,
                                        SeqlockLimits lim = {}) {
  RawCopy out;
  out.len = len < out.bytes.size() ? len : out.bytes.size();
  int64_t started = 0;
  uint32_t last_seq = 0;
  for (uint32_t attempt = 0; attempt <= lim.max_retries; ++attempt) {
    if (attempt > 0) {
      int64_t now = detail::mono_ns();
      if (attempt == 1) started = now;
      else if (now - started > lim.time_limit_ns) break;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    }
    if (seqlock_copy_once(base, out, inside, last_seq)) {
      out.retries = attempt;
      return out;
    }
  }
  if (last_seq & 1u)
    return PageError{{Errc::data, fmt::format("field seq_count stuck odd ({}): the host never finished its "
                                              "update within the time limit",
                                              last_seq)},
                     SeqlockFailure::stuck_odd};
  return PageError{{Errc::temp_fail, fmt::format("field seq_count kept changing for {} ms (last {})",
                                                 lim.time_limit_ns / 1'000'000, last_seq)},
                   SeqlockFailure::kept_changing};
}

}  // namespace vmc
