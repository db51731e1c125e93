// SPDX-License-Identifier: Apache-2.0
// Encodes a Sample into the fields of chrony's SHM segment (shm_sample.h);
// no I/O.
#include "shm_sample.h"

#include <cmath>

namespace vmc::chrony {
namespace {

void split_ns(int64_t ns, time_t& sec, int& usec, int& nsec) {
  int64_t s = ns / kNsPerSec, r = ns % kNsPerSec;
  if (r < 0) { r += kNsPerSec; --s; }
  sec = static_cast<time_t>(s);
  nsec = static_cast<int>(r);
  usec = static_cast<int>(r / 1000);  // chrony ignores NSec unless USec == NSec/1000
}

}  // namespace

ShmTime to_shm_time(const vmc::Sample& s) {
  ShmTime v{};
  split_ns(s.system.ns + s.offset.count, v.clockTimeStampSec, v.clockTimeStampUSec, v.clockTimeStampNSec);
  split_ns(s.system.ns, v.receiveTimeStampSec, v.receiveTimeStampUSec, v.receiveTimeStampNSec);
  v.leap = static_cast<int>(s.leap);
  v.precision = precision_log2(s.maxerror_ns);
  v.nsamples = 0;
  return v;
}

int precision_log2(uint64_t maxerror_ns) {
  if (maxerror_ns == 0) return -30;
  double p = std::ceil(std::log2(static_cast<double>(maxerror_ns) * 1e-9));
  // chrony's own precision option stops at 2^-30 s (about 1 ns); the upper
  // clamp only keeps the int meaningful for absurd bounds.
  if (p < -30) return -30;
  if (p > 30) return 30;
  return static_cast<int>(p);
}

}  // namespace vmc::chrony
