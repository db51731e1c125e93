// SPDX-License-Identifier: Apache-2.0
#pragma once
// The SOCK refclock datagram, copied field by field from chrony 4.3
// refclock_sock.c (struct sock_sample), and its encoding from a Sample;
// chronyd drops any datagram that is not exactly this size or lacks the
// magic. Sending it is sock_sink.cpp's business.
#include <sys/time.h>

#include <cstddef>
#include <cstdint>

#include "cross_timestamp.h"

namespace vmc::chrony {

inline constexpr int kSockMagic = 0x534f434b;  // "SOCK"

struct SockSample {
  struct timeval tv;  // system time of the sample
  double offset;      // reference - system, seconds
  int pulse;          // 0: a full time sample, not a PPS edge
  int leap;           // 0 none, 1 insert, 2 delete
  int _pad;
  int magic;
};

static_assert(offsetof(SockSample, tv) == 0);
static_assert(offsetof(SockSample, offset) == 16);
static_assert(offsetof(SockSample, pulse) == 24);
static_assert(offsetof(SockSample, leap) == 28);
static_assert(offsetof(SockSample, _pad) == 32);
static_assert(offsetof(SockSample, magic) == 36);
static_assert(sizeof(SockSample) == 40);

// tv is the system time truncated to microseconds and the offset is the
// sample's own: chrony reads it as "at system time tv, reference - system
// was offset", which moving the instant by < 1 us does not change (adding
// the truncated nanoseconds to the offset would bias it by 0.5 us).
SockSample to_sock_sample(const vmc::Sample& s);

}  // namespace vmc::chrony
