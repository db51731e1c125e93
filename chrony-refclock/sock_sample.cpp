// SPDX-License-Identifier: Apache-2.0
// Encodes a Sample as chrony's SOCK datagram (sock_sample.h); no I/O.
#include "sock_sample.h"

namespace vmc::chrony {

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
