// SPDX-License-Identifier: Apache-2.0
#pragma once
// A page calibrated against this CPU's counter, published with PageWriter
// into a MemoryPageSource (or a file): what every benchmark samples.
#include <time.h>

#include <cstdint>

#include "counter.h"
#include "page.h"
#include "page_source.h"
#include "page_writer.h"
#include "cross_timestamp.h"

namespace vmc::bench {

// Counter ticks per second, measured against CLOCK_MONOTONIC_RAW over `ms`.
inline double counter_hz(int ms = 50) {
  auto mono = [] {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  double t0 = mono();
  uint64_t c0 = read_counter();
  timespec d{0, ms * 1'000'000L};
  nanosleep(&d, nullptr);
  double t1 = mono();
  uint64_t c1 = read_counter();
  return static_cast<double>(c1 - c0) / ((t1 - t0) / 1e9);
}

// A synchronized UTC page anchored now at CLOCK_REALTIME + offset_ns.
inline Page calibrated_page(double hz, int64_t offset_ns = 37'500) {
  Page p;
  p.counter_id = kNativeCounter;
  p.time_type = abi::TimeType::utc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.flags = abi::Flags{}
                .with(abi::Flag::time_maxerror_valid)
                .with(abi::Flag::time_esterror_valid)
                .with(abi::Flag::period_maxerror_valid)
                .with(abi::Flag::period_esterror_valid)
                .with(abi::Flag::vm_gen_counter_present);
  p.vm_generation_counter = 1;
  p.disruption_marker = 1;
  // period in 2^-(64+shift) s; shift 8 keeps 2^64*256/hz below 2^64 for hz > 256.
  p.counter_period_shift = 8;
  p.counter_period_frac_sec = static_cast<uint64_t>(18446744073709551616.0L * 256.0L / static_cast<long double>(hz));
  p.counter_period_maxerror_rate_frac_sec = p.counter_period_frac_sec / 10'000'000;  // 100 ppb
  p.counter_period_esterror_rate_frac_sec = p.counter_period_frac_sec / 100'000'000;
  p.time_maxerror_nanosec = 1000;
  p.time_esterror_nanosec = 100;
  SysTime now = realtime_now();
  p.counter_value = read_counter();
  int64_t t = now.ns + offset_ns;
  p.time_sec = static_cast<uint64_t>(t / kNsPerSec);
  p.time_frac_sec = Frac64::from_ns(static_cast<uint32_t>(t % kNsPerSec)).raw;
  return p;
}

struct MemoryPage {
  MemoryPageSource src{4096};
  PageWriter writer{src.writable(), src.size()};
  explicit MemoryPage(const Page& p) { writer.publish(p); }
};

}  // namespace vmc::bench
