#include "sink.h"

#include <cmath>

#include "sock_layout.h"

namespace vmc::chrony {

SampleSink::~SampleSink() = default;

int precision_log2(uint64_t maxerror_ns) {
  if (maxerror_ns == 0) return -30;
  double p = std::ceil(std::log2(static_cast<double>(maxerror_ns) * 1e-9));
  // chrony's own precision option stops at 2^-30 s (about 1 ns); the upper
  // clamp only keeps the int meaningful for absurd bounds.
  if (p < -30) return -30;
  if (p > 30) return 30;
  return static_cast<int>(p);
}

SockSample to_sock_sample(const vmc::Sample& s) {
  SockSample out{};
  int64_t sec = s.system.ns / kNsPerSec;
  int64_t rem = s.system.ns % kNsPerSec;
  if (rem < 0) { rem += kNsPerSec; --sec; }
  int64_t usec = rem / 1000;
  out.tv.tv_sec = static_cast<time_t>(sec);
  out.tv.tv_usec = static_cast<suseconds_t>(usec);
  out.offset = static_cast<double>(s.offset.count) * 1e-9;
  out.pulse = 0;
  out.leap = static_cast<int>(s.leap);
  out._pad = 0;
  out.magic = kSockMagic;
  return out;
}

}  // namespace vmc::chrony
