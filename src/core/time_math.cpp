// SPDX-License-Identifier: Apache-2.0
#include "time_math.h"

#include <fmt/format.h>

#include <limits>

namespace vmc {

u128 ticks_to_frac64(uint64_t abs_delta, uint64_t period, uint8_t shift) {
  u128 p = static_cast<u128>(abs_delta) * period;  // cannot overflow 128 bits
  return shift >= 128 ? 0 : p >> shift;
}


namespace {
// Rounded up: going backwards still floors the time, and an error bound
// never loses the bits below 2^-64 s.
u128 ticks_to_frac64_ceil(uint64_t abs_delta, uint64_t period, uint8_t shift) {
  u128 p = static_cast<u128>(abs_delta) * period;
  if (shift >= 128) return p != 0 ? 1 : 0;
  u128 q = p >> shift;
  return (shift > 0 && (p & ((static_cast<u128>(1) << shift) - 1)) != 0) ? q + 1 : q;
}
}  // namespace

Result<uint64_t> error_growth_ns(uint64_t abs_delta, uint64_t rate, uint8_t shift) {
  u128 e = ticks_to_frac64_ceil(abs_delta, rate, shift);
  uint64_t whole = static_cast<uint64_t>(e >> 64);
  uint64_t lo = static_cast<uint64_t>(e);
  constexpr uint64_t kMaxWhole = (std::numeric_limits<uint64_t>::max() - kNsPerSec) / kNsPerSec;
  if (whole > kMaxWhole)
    return make_error(Errc::data, fmt::format("error bound overflows for a delta of {} ticks at rate {}",
                                              abs_delta, rate));
  u128 frac_ns = static_cast<u128>(lo) * 1'000'000'000u;
  uint64_t ns = static_cast<uint64_t>(frac_ns >> 64) + (static_cast<uint64_t>(frac_ns) != 0 ? 1 : 0);
  return whole * static_cast<uint64_t>(kNsPerSec) + ns;
}

namespace {
Result<std::optional<uint64_t>> bound(bool time_valid, bool rate_valid, uint64_t base_ns, uint64_t abs_delta,
                                      uint64_t rate, uint8_t shift) {
  if (!time_valid) return std::optional<uint64_t>{};
  if (abs_delta == 0) return std::optional<uint64_t>{base_ns};
  // Without a valid rate the bound away from counter_value is unknown.
  if (!rate_valid) return std::optional<uint64_t>{};
  auto g = error_growth_ns(abs_delta, rate, shift);
  if (!g) return g.error();
  if (*g > std::numeric_limits<uint64_t>::max() - base_ns)
    return make_error(Errc::data, "error bound overflows");
  return std::optional<uint64_t>{base_ns + *g};
}
}  // namespace

Result<TimeAt> time_at(const Page& p, uint64_t counter) {
  constexpr uint64_t kMaxSec = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (p.time_sec > kMaxSec)
    return make_error(Errc::data, fmt::format("field time_sec is {}, beyond any representable time", p.time_sec));
  TimeAt r;
  r.delta_ticks = static_cast<int64_t>(counter - p.counter_value);
  const bool negative = r.delta_ticks < 0;
  const uint64_t abs_delta = negative ? 0 - static_cast<uint64_t>(r.delta_ticks) : static_cast<uint64_t>(r.delta_ticks);
  u128 step = negative ? ticks_to_frac64_ceil(abs_delta, p.counter_period_frac_sec, p.counter_period_shift)
                       : ticks_to_frac64(abs_delta, p.counter_period_frac_sec, p.counter_period_shift);
  u128 base = static_cast<u128>(p.time_sec) << 64 | p.time_frac_sec;
  u128 t;
  if (!negative) {
    // Results must stay below 2^63 s: time_sec is u64 but we report int64.
    if (step > (static_cast<u128>(kMaxSec) << 64 | ~static_cast<uint64_t>(0)) - base)
      return make_error(Errc::data, fmt::format("counter delta {} ticks overflows the time (period {}, shift {})",
                                                r.delta_ticks, p.counter_period_frac_sec, p.counter_period_shift));
    t = base + step;
    r.time = Time64{Seconds{static_cast<int64_t>(t >> 64)}, Frac64{static_cast<uint64_t>(t)}};
  } else if (step <= base) {
    t = base - step;
    r.time = Time64{Seconds{static_cast<int64_t>(t >> 64)}, Frac64{static_cast<uint64_t>(t)}};
  } else {
    // Before the epoch of the time type: negative seconds, positive fraction.
    u128 neg = step - base;
    if ((neg >> 64) >= kMaxSec)
      return make_error(Errc::data, fmt::format("counter delta {} ticks overflows the time", r.delta_ticks));
    int64_t sec = -static_cast<int64_t>(neg >> 64);
    uint64_t lo = static_cast<uint64_t>(neg);
    if (lo != 0) { sec -= 1; lo = 0 - lo; }
    r.time = Time64{Seconds{sec}, Frac64{lo}};
  }
  using abi::Flag;
  auto mx = bound(p.flags.has(Flag::time_maxerror_valid), p.flags.has(Flag::period_maxerror_valid),
                  p.time_maxerror_nanosec, abs_delta, p.counter_period_maxerror_rate_frac_sec, p.counter_period_shift);
  if (!mx) return mx.error();
  auto es = bound(p.flags.has(Flag::time_esterror_valid), p.flags.has(Flag::period_esterror_valid),
                  p.time_esterror_nanosec, abs_delta, p.counter_period_esterror_rate_frac_sec, p.counter_period_shift);
  if (!es) return es.error();
  r.maxerror_ns = *mx;
  r.esterror_ns = *es;
  return r;
}

}  // namespace vmc
