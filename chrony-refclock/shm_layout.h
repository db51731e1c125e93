#pragma once
// The SHM refclock segment, copied field by field from chrony 4.3
// refclock_shm.c (struct shmTime), which is gpsd's/ntpd's layout for LP64.
// Also read by tests, as chronyd reads it, to prove what was (not) written.
#include <cstddef>
#include <cstdint>
#include <ctime>

#include "result.h"

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

// What chronyd's shm_poll() would make of the segment right now.
struct ShmReading {
  ShmTime raw{};
  bool accepted = false;    // mode, count and valid let chrony take it
  bool nsec_used = false;   // NSec/1000 == USec for both stamps
  int64_t clock_ns = 0;     // as chrony would build the timestamps
  int64_t receive_ns = 0;
  int64_t offset_ns() const { return clock_ns - receive_ns; }
};

// Attaches read-only (Errc::no_input when there is no segment). With
// `consume`, clears valid on an accepted sample, as chronyd does.
Result<ShmReading> read_shm_segment(int unit, bool consume = false);
// Removes a segment a test created (IPC_RMID); absent is fine.
Status remove_shm_segment(int unit);

}  // namespace vmc::chrony
