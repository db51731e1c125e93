// SPDX-License-Identifier: Apache-2.0
#pragma once
// Time at a counter value, exactly, from the page's calibration:
//   t = time_sec + time_frac_sec/2^64 + delta * period / 2^(64 + shift)
// with delta signed and the products in 128 bits.
#include <cstdint>
#include <optional>

#include "page.h"
#include "units.h"

namespace vmc {

struct TimeAt {
  Time64 time;                            // in the page's time_type
  int64_t delta_ticks = 0;                // counter - counter_value
  std::optional<uint64_t> maxerror_ns;    // rounded up; absent when not valid
  std::optional<uint64_t> esterror_ns;
};

// Errc::data when the result or an error bound does not fit (the delta is
// absurd for this calibration): never a wrapped value.
Result<TimeAt> time_at(const Page& p, uint64_t counter);

// delta * rate / 2^(64+shift) seconds, in nanoseconds rounded up.
Result<uint64_t> error_growth_ns(uint64_t abs_delta, uint64_t rate, uint8_t shift);

// Seconds elapsed for `abs_delta` ticks, as a 64.64 fixed-point value.
u128 ticks_to_frac64(uint64_t abs_delta, uint64_t period, uint8_t shift);

}  // namespace vmc
