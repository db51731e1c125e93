// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers on this machine's real counter: a tight (CLOCK_REALTIME,
// counter) pair, the counter's frequency against CLOCK_REALTIME, and a page
// calibrated so that its time is CLOCK_REALTIME plus a chosen offset.
// Shared by the sampler's and libvmclock's tests.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "counter.h"
#include "page.h"
#include "page_writer.h"
#include "cross_timestamp.h"
#include "units.h"

namespace vmc::testing {

using abi::Flag;

struct Pair {
  int64_t ns;  // CLOCK_REALTIME at the counter reading (bracket midpoint)
  uint64_t counter;
  int64_t bracket;
};

inline Pair tight_pair() {
  Pair best{0, 0, INT64_MAX};
  for (int i = 0; i < 50; ++i) {
    SysTime a = realtime_now();
    uint64_t c = read_counter();
    SysTime b = realtime_now();
    if (b.ns - a.ns < best.bracket) best = {a.ns + (b.ns - a.ns) / 2, c, b.ns - a.ns};
  }
  return best;
}

struct Calibration {
  uint8_t shift = 16;
  uint64_t period = 0;  // 2^-(64+16) s per tick
  double hz = 0;
};

// The counter's frequency against CLOCK_REALTIME over ~200 ms.
inline const Calibration& calibration() {
  static Calibration cal = [] {
    Pair a = tight_pair();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Pair b = tight_pair();
    Calibration c;
    u128 ticks = b.counter - a.counter;
    u128 ns = static_cast<u128>(b.ns - a.ns);
    // period = round(2^80 * ns / (ticks * 1e9))
    u128 num = (static_cast<u128>(1) << 80) * ns;
    u128 den = ticks * 1'000'000'000u;
    c.period = static_cast<uint64_t>((num + den / 2) / den);
    c.hz = static_cast<double>(ticks) * 1e9 / static_cast<double>(ns);
    MESSAGE("counter calibrated at " << c.hz / 1e6 << " MHz over " << static_cast<double>(ns) / 1e6 << " ms");
    return c;
  }();
  return cal;
}

// Publishes a page whose time is CLOCK_REALTIME + page_minus_real_ns at the
// counter reading of a tight pair.
// `tweak` changes the page before it is published (status, marker, flags).
inline void publish_calibrated(PageWriter& w, int64_t page_minus_real_ns, abi::TimeType tt, int16_t tai_offset,
                               const std::function<void(Page&)>& tweak = {}) {
  const Calibration& cal = calibration();
  Pair now = tight_pair();
  Page p;
  p.counter_id = kNativeCounter;
  p.time_type = tt;
  p.tai_offset_sec = tai_offset;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_period_shift = cal.shift;
  p.counter_period_frac_sec = cal.period;
  p.counter_period_maxerror_rate_frac_sec = cal.period / 100'000;  // 10 ppm
  p.counter_value = now.counter;
  int64_t t = now.ns + page_minus_real_ns;
  p.time_sec = static_cast<uint64_t>(t / kNsPerSec);
  p.time_frac_sec = Frac64::from_ns(static_cast<uint32_t>(t % kNsPerSec)).raw;
  p.time_maxerror_nanosec = 1000;
  p.disruption_marker = 7;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid).with(Flag::period_maxerror_valid);
  if (tt == abi::TimeType::tai) p.flags = p.flags.with(Flag::tai_offset_valid);
  if (tweak) tweak(p);
  w.publish(p);
}

}  // namespace vmc::testing
