// SPDX-License-Identifier: Apache-2.0
#pragma once
// Consistent reads of memory the host rewrites under a seqlock, the way
// the kernel's ptp_vmclock does: even seq_count, barrier, read, barrier,
// same seq_count. The one reader of the protocol: a window around the
// caller's reads (seqlock_window), a copy of the page in one window
// (seqlock_copy_once) and the retry policy over either (seqlock_retry),
// with seqlock_read() the usual combination. The caller's `inside` runs
// within the window so that a counter reading belongs to what was copied.
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <fmt/format.h>

#include "abi.h"
#include "clock.h"
#include "result.h"

namespace vmc {

struct SeqlockLimits {
  uint32_t max_retries = 1'000'000;
  int64_t time_limit_ns = 100'000'000;  // the kernel gives up after 100 ms
  // time_limit_ns meaning "retries only": no clock read, no system call
  // (libvmclock's now()).
  static constexpr int64_t kUntimed = INT64_MAX;
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
inline uint32_t load_seq(const volatile uint8_t* base, int order) {
  auto* p = reinterpret_cast<const uint32_t*>(const_cast<const uint8_t*>(base) +
                                              offsetof(abi::vmclock_abi, seq_count));
  uint32_t v = __atomic_load_n(p, order);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}
}  // namespace detail

// The CPU's spin-wait hint (x86 PAUSE, arm64 YIELD), for a loop that
// busy-waits on memory the host or another thread writes, as the retries
// below do.
inline void spin_wait_hint() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// seq_count as a window opens (acquire: the reads after it see the data
// of this count or newer).
inline uint32_t seqlock_begin(const volatile uint8_t* base) { return detail::load_seq(base, __ATOMIC_ACQUIRE); }

// Whether the window opened at `seq` is still consistent: the reads in it
// are ordered before this second load of seq_count.
inline bool seqlock_unchanged(const volatile uint8_t* base, uint32_t seq) {
  std::atomic_thread_fence(std::memory_order_acquire);
  return detail::load_seq(base, __ATOMIC_RELAXED) == seq;
}

// `inside` in a window known to be at seq_count `expect` (even): true when
// seq_count was `expect` before and after it. Nothing is copied: this is
// the fast path of a reader that decoded the page at `expect` already.
template <class Inside>
bool seqlock_window(const volatile uint8_t* base, uint32_t expect, Inside&& inside) {
  const uint32_t s = seqlock_begin(base);
  if (s != expect || (s & 1u) != 0) return false;
  inside();
  return seqlock_unchanged(base, s);
}

// The fast-path windows of a reader that decoded the page at `expect`
// already, with seq_count loaded by `load(const volatile uint32_t*,
// uint32_t&)` in acquire order, which may fail: libvmclock's guarded_load()
// of a page file truncated under its mapping (bus_guard.h).
enum class Window : uint8_t { fresh, moved, faulted };

namespace detail {
inline const volatile uint32_t* seq_word(const volatile uint8_t* base) {
  return reinterpret_cast<const volatile uint32_t*>(base + offsetof(abi::vmclock_abi, seq_count));
}
inline uint32_t seq_value(uint32_t word) {
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap32(word);
  return word;
}
}  // namespace detail

// seqlock_window() with its two loads made by `load`.
template <class Load, class Inside>
Window seqlock_window_loaded(const volatile uint8_t* base, uint32_t expect, Load&& load, Inside&& inside) {
  uint32_t w;
  if (!load(detail::seq_word(base), w)) [[unlikely]] return Window::faulted;
  const uint32_t s = detail::seq_value(w);
  if (s != expect || (s & 1u) != 0) [[unlikely]] return Window::moved;
  inside();
  std::atomic_thread_fence(std::memory_order_acquire);
  if (!load(detail::seq_word(base), w)) [[unlikely]] return Window::faulted;
  return detail::seq_value(w) == s ? Window::fresh : Window::moved;
}

// Whether seq_count still reads `expect` (even): for a reader that uses
// only what it decoded at `expect` and reads nothing else from the page,
// this one load is the whole window.
template <class Load>
Window seqlock_still_loaded(const volatile uint8_t* base, uint32_t expect, Load&& load) {
  uint32_t w;
  if (!load(detail::seq_word(base), w)) [[unlikely]] return Window::faulted;
  const uint32_t s = detail::seq_value(w);
  return s == expect && (s & 1u) == 0 ? Window::fresh : Window::moved;
}

// One attempt: copies out.len bytes and runs `inside` within the window.
// True when seq_count was even and unchanged across the copy (out.seq set);
// `seen` gets the first seq_count read either way. No allocation, no
// system call.
template <class Inside>
bool seqlock_copy_once(const volatile uint8_t* base, RawCopy& out, Inside&& inside, uint32_t& seen) {
  const size_t words = out.len / 8;
  auto* src = reinterpret_cast<const uint64_t*>(const_cast<const uint8_t*>(base));
  auto* dst = reinterpret_cast<uint64_t*>(out.bytes.data());
  const uint32_t s = seqlock_begin(base);
  seen = s;
  if (s & 1u) return false;
  for (size_t i = 0; i < words; ++i) dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
  for (size_t i = words * 8; i < out.len; ++i) out.bytes[i] = base[i];
  inside();
  if (!seqlock_unchanged(base, s)) return false;
  out.seq = s;
  return true;
}

struct SeqlockTries {
  SeqlockFailure failure = SeqlockFailure::none;
  uint32_t retries = 0;   // attempts before the one that succeeded
  uint32_t last_seq = 0;  // the last seq_count an attempt saw
};

namespace detail {
// The attempts after a failed first one: kept out of line so that the
// callers' fast paths stay as small as a single attempt.
template <class Attempt>
[[gnu::noinline, gnu::cold]] SeqlockTries seqlock_retry_more(Attempt& attempt, SeqlockLimits lim, uint32_t seen) {
  SeqlockTries t;
  t.last_seq = seen;
  int64_t started = 0;
  for (uint32_t n = 1; n <= lim.max_retries; ++n) {
    if (lim.time_limit_ns != SeqlockLimits::kUntimed) {
      const int64_t now = mono_now_ns();
      if (n == 1) started = now;
      else if (now - started > lim.time_limit_ns) break;
    }
    spin_wait_hint();
    if (attempt(t.last_seq)) {
      t.retries = n;
      return t;
    }
  }
  t.failure = (t.last_seq & 1u) ? SeqlockFailure::stuck_odd : SeqlockFailure::kept_changing;
  return t;
}
}  // namespace detail

// The retry policy, once: `attempt(seen)` (true: a consistent read; `seen`
// the seq_count it found) until it succeeds, max_retries more attempts
// have failed, or time_limit_ns has passed since the first retry. Between
// attempts the CPU is told it is spinning.
template <class Attempt>
SeqlockTries seqlock_retry(Attempt&& attempt, SeqlockLimits lim = {}) {
  SeqlockTries t;
  if (attempt(t.last_seq)) [[likely]]
    return t;
  return detail::seqlock_retry_more(attempt, lim, t.last_seq);
}

// A consistent copy of up to 112 bytes of the page at `base` (8-byte
// aligned: a mapping or an aligned buffer), `inside` run in its window.
template <class Inside>
Result<RawCopy, PageError> seqlock_read(const volatile uint8_t* base, size_t len, Inside&& inside,
                                        SeqlockLimits lim = {}) {
  RawCopy out;
  out.len = len < out.bytes.size() ? len : out.bytes.size();
  const SeqlockTries t =
      seqlock_retry([&](uint32_t& seen) { return seqlock_copy_once(base, out, inside, seen); }, lim);
  switch (t.failure) {
    case SeqlockFailure::none: out.retries = t.retries; return out;
    case SeqlockFailure::stuck_odd:
      return PageError{{Errc::data, fmt::format("field seq_count stuck odd ({}): the host never finished its "
                                                "update within the time limit",
                                                t.last_seq)},
                       t.failure};
    case SeqlockFailure::kept_changing: break;
  }
  return PageError{{Errc::temp_fail, fmt::format("field seq_count kept changing for {} ms (last {})",
                                                 lim.time_limit_ns / 1'000'000, t.last_seq)},
                   t.failure};
}

}  // namespace vmc
