// SPDX-License-Identifier: Apache-2.0
#pragma once
// The page's bound on the system clock at one counter reading, in two
// multiplies: |page time(counter) - CLOCK_REALTIME| + maxerror(counter),
// rounded up. The per-calibration constants are derived once (from()),
// the per-call work is what libvmclock's now() can afford. time_at()
// stays the exact reference: tests hold the two together, and at() says
// nullopt (use time_at()) outside the range where its integers are safe.
#include <cstdint>
#include <optional>

#include "abi.h"
#include "page.h"
#include "units.h"

namespace vmc {

class FastBound {
 public:
  // nullopt when the page has no valid maxerror or its numbers are outside
  // the fast range (times past 2116, counters slower than 64 kHz).
  static std::optional<FastBound> from(const Page& p, int utc_minus_page_sec) {
    if (!p.flags.has(abi::Flag::time_maxerror_valid)) return std::nullopt;
    constexpr i128 kLimit = static_cast<i128>(1) << 62;
    i128 sec_ns = (static_cast<i128>(p.time_sec) + utc_minus_page_sec) * kNsPerSec;
    if (p.time_sec > static_cast<uint64_t>(INT64_MAX) || sec_ns < 0 || sec_ns >= kLimit) return std::nullopt;
    FastBound f;
    f.counter_value_ = p.counter_value;
    f.t0_ = (sec_ns << 64) + static_cast<i128>(static_cast<u128>(p.time_frac_sec) * kNsPerSec);
    f.tick_ = scaled(p.counter_period_frac_sec, p.counter_period_shift, false);
    f.maxerror_ns_ = p.time_maxerror_nanosec;
    f.rate_valid_ = p.flags.has(abi::Flag::period_maxerror_valid);
    f.err_tick_ = f.rate_valid_ ? scaled(p.counter_period_maxerror_rate_frac_sec, p.counter_period_shift, true) : 0;
    if (f.tick_ >= kTickLimit || f.err_tick_ >= kTickLimit || f.maxerror_ns_ >= (uint64_t{1} << 62))
      return std::nullopt;
    return f;
  }

  // nullopt: the counter is too far from counter_value for the fast
  // integers (~1 day at 3 GHz), or the answer would not fit.
  std::optional<uint64_t> at(uint64_t counter, int64_t realtime_ns) const {
    const int64_t delta = static_cast<int64_t>(counter - counter_value_);
    const uint64_t mag = delta < 0 ? 0 - static_cast<uint64_t>(delta) : static_cast<uint64_t>(delta);
    if (mag > kMaxDelta) return std::nullopt;
    // CLOCK_REALTIME before 1970 or after 2116: not this arithmetic's job.
    if (realtime_ns < 0 || realtime_ns >= (int64_t{1} << 62)) return std::nullopt;
    if (mag != 0 && !rate_valid_) return std::nullopt;  // no bound away from counter_value (time_at agrees)
    // ns * 2^64; tick_ is floored, so the time may be low by < 2^-16 ns:
    // the +1 below covers it along with the rounding up.
    i128 t = t0_ + static_cast<i128>(delta) * static_cast<i128>(tick_);
    i128 off = t - (static_cast<i128>(realtime_ns) << 64);
    u128 a = off < 0 ? static_cast<u128>(-off) : static_cast<u128>(off);
    u128 off_ns = (a >> 64) + 1 + ((static_cast<uint64_t>(a) != 0) ? 1 : 0);
    u128 growth = static_cast<u128>(mag) * err_tick_;
    u128 err_ns = (growth >> 64) + ((static_cast<uint64_t>(growth) != 0) ? 1 : 0);
    u128 b = off_ns + maxerror_ns_ + err_ns;
    if (b > static_cast<u128>(INT64_MAX / 2)) return std::nullopt;
    return static_cast<uint64_t>(b);
  }

 private:
  static constexpr uint64_t kMaxDelta = uint64_t{1} << 48;
  static constexpr u128 kTickLimit = static_cast<u128>(1) << 78;  // 16 us per tick
  // x * 1e9 / 2^shift in units of 2^-64 ns per tick, floored or rounded up.
  static u128 scaled(uint64_t x, uint8_t shift, bool up) {
    u128 p = static_cast<u128>(x) * kNsPerSec;
    if (shift >= 128) return up && p != 0 ? 1 : 0;
    u128 q = p >> shift;
    if (up && shift > 0 && (p & ((static_cast<u128>(1) << shift) - 1)) != 0) ++q;
    return q;
  }

  uint64_t counter_value_ = 0;
  i128 t0_ = 0;      // page time (UTC) at counter_value, ns * 2^64
  u128 tick_ = 0;    // ns per tick * 2^64, floored
  u128 err_tick_ = 0;  // maxerror growth per tick, ns * 2^64, rounded up
  uint64_t maxerror_ns_ = 0;
  bool rate_valid_ = false;
};

}  // namespace vmc
