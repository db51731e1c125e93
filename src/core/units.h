// SPDX-License-Identifier: Apache-2.0
#pragma once
// Strong types for the three time units the page mixes: whole seconds,
// nanoseconds and 2^-64 fractions of a second. Mixing them compiles only
// through the named conversions below.
#include <compare>
#include <cstdint>
#include <optional>

namespace vmc {

__extension__ using u128 = unsigned __int128;
__extension__ using i128 = __int128;

struct Nanoseconds {
  int64_t count = 0;
  constexpr auto operator<=>(const Nanoseconds&) const = default;
  constexpr Nanoseconds operator+(Nanoseconds o) const { return {count + o.count}; }
  constexpr Nanoseconds operator-(Nanoseconds o) const { return {count - o.count}; }
};

struct Seconds {
  int64_t count = 0;
  constexpr auto operator<=>(const Seconds&) const = default;
};

// A fraction of one second in units of 2^-64 s.
struct Frac64 {
  uint64_t raw = 0;
  constexpr auto operator<=>(const Frac64&) const = default;
  // Rounded down, as vmclockctl reports nanoseconds.
  constexpr Nanoseconds to_ns_floor() const {
    return {static_cast<int64_t>((static_cast<u128>(raw) * 1'000'000'000u) >> 64)};
  }
  constexpr Nanoseconds to_ns_nearest() const {
    u128 p = static_cast<u128>(raw) * 1'000'000'000u;
    return {static_cast<int64_t>((p + (static_cast<u128>(1) << 63)) >> 64)};
  }
  static constexpr Frac64 from_ns(uint32_t ns) {
    // ceil keeps from_ns(x).to_ns_floor() == x for every x < 1e9
    u128 p = (static_cast<u128>(ns) << 64) + 999'999'999u;
    return {static_cast<uint64_t>(p / 1'000'000'000u)};
  }
};

// An instant as whole seconds plus a 2^-64 fraction: exact for every value
// the page can express.
struct Time64 {
  Seconds sec{};
  Frac64 frac{};
  constexpr auto operator<=>(const Time64&) const = default;
  constexpr Nanoseconds nsec_floor() const { return frac.to_ns_floor(); }
};

// A CLOCK_REALTIME-style instant in integer nanoseconds since the epoch
// (fits in int64 until 2262).
struct SysTime {
  int64_t ns = 0;
  constexpr auto operator<=>(const SysTime&) const = default;
};

inline constexpr int64_t kNsPerSec = 1'000'000'000;

// Difference a - b in nanoseconds, rounded to nearest; nullopt when it
// does not fit in int64 (a page centuries away from the system clock).
constexpr std::optional<Nanoseconds> diff_ns(Time64 a, SysTime b) {
  i128 whole = static_cast<i128>(a.sec.count) * kNsPerSec - b.ns;  // |.| < 2^97: no overflow
  u128 frac_ns_x64 = static_cast<u128>(a.frac.raw) * 1'000'000'000u;
  i128 r = whole + static_cast<i128>((frac_ns_x64 + (static_cast<u128>(1) << 63)) >> 64);
  if (r > INT64_MAX || r < INT64_MIN) return std::nullopt;
  return Nanoseconds{static_cast<int64_t>(r)};
}

}  // namespace vmc
