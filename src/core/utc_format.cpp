// SPDX-License-Identifier: Apache-2.0
#include "utc_format.h"

#include <fmt/format.h>
#include <time.h>

namespace vmc {

std::string format_utc(Time64 t) {
  time_t s = static_cast<time_t>(t.sec.count);
  struct tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, t.nsec_floor().count);
}

std::string format_utc(SysTime t) {
  int64_t s = t.ns >= 0 ? t.ns / kNsPerSec : -((-t.ns + kNsPerSec - 1) / kNsPerSec);
  uint32_t ns = static_cast<uint32_t>(t.ns - s * kNsPerSec);
  return format_utc(Time64{Seconds{s}, Frac64::from_ns(ns)});
}

}  // namespace vmc
