// SPDX-License-Identifier: Apache-2.0
#pragma once
// The SHM refclock segment, copied field by field from chrony 4.3
// refclock_shm.c (struct shmTime), which is gpsd's/ntpd's layout for LP64,
// and the encoding of a Sample into its fields. Writing them under chrony's
// count/valid protocol is shm_sink.cpp's business.
#include <cstddef>
#include <cstdint>
#include <ctime>

#include "cross_timestamp.h"

namespace vmc::chrony {

inline constexpr int kShmKeyBase = 0x4e545030;  // "NTP0"

struct ShmTime {
  int mode;  // 1: the reader checks count before and after its copy
  int count;
  time_t clockTimeStampSec;  // reference time
  int clockTimeStampUSec;
  time_t receiveTimeStampSec;  // system time of the same instant
  int receiveTimeStampUSec;
  int leap;  // 0 none, 1 insert, 2 delete
  int precision;
  int nsamples;
  int valid;
  int clockTimeStampNSec;  // chrony 4.3 declares these int, gpsd unsigned
  int receiveTimeStampNSec;
  int dummy[8];
};

static_assert(sizeof(time_t) == 8, "the layout below is the 64-bit time_t one");
static_assert(offsetof(ShmTime, mode) == 0);
static_assert(offsetof(ShmTime, count) == 4);
static_assert(offsetof(ShmTime, clockTimeStampSec) == 8);
static_assert(offsetof(ShmTime, clockTimeStampUSec) == 16);
static_assert(offsetof(ShmTime, receiveTimeStampSec) == 24);
static_assert(offsetof(ShmTime, receiveTimeStampUSec) == 32);
static_assert(offsetof(ShmTime, leap) == 36);
static_assert(offsetof(ShmTime, precision) == 40);
static_assert(offsetof(ShmTime, nsamples) == 44);
static_assert(offsetof(ShmTime, valid) == 48);
static_assert(offsetof(ShmTime, clockTimeStampNSec) == 52);
static_assert(offsetof(ShmTime, receiveTimeStampNSec) == 56);
static_assert(offsetof(ShmTime, dummy) == 60);
static_assert(sizeof(ShmTime) == 96);

// The sample's fields of a segment: both stamps (to the nanosecond, with
// USec = NSec/1000 so chrony uses NSec), leap and precision. mode, count
// and valid are left 0: they belong to the writer's protocol.
ShmTime to_shm_time(const vmc::Sample& s);

// log2 of the error bound in seconds, rounded up, as the precision field
// wants it (1 ns -> -29, 1 us -> -19, 1 ms -> -9). 0 ns gives -30.
int precision_log2(uint64_t maxerror_ns);

}  // namespace vmc::chrony
