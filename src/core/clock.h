// SPDX-License-Identifier: Apache-2.0
#pragma once
// The system clocks, read the one way everything in vmclockd reads them:
// CLOCK_MONOTONIC for intervals and limits, CLOCK_REALTIME for the system
// time a page's time is compared with.
#include <time.h>

#include <cstdint>

#include "units.h"

namespace vmc {

inline int64_t mono_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

inline SysTime realtime_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return SysTime{ts.tv_sec * kNsPerSec + ts.tv_nsec};
}

}  // namespace vmc
