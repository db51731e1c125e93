// SPDX-License-Identifier: Apache-2.0
#pragma once
// AWS ClockBound's shared-memory segment, version 2 (clock-bound-shm 2.0:
// /var/run/clockbound/shm0), as its clients read it: the one place its
// layout and its protocol's constants live. Native byte order, like
// ClockBound's own writer: it never leaves the machine.
//
// The body's times are CLOCK_MONOTONIC_COARSE (clients age the bound with
// that clock), unlike vmclockd's own segment (bound_segment.h), which is
// dated in CLOCK_REALTIME.
#include <cstddef>
#include <cstdint>

namespace vmc::clockbound {

struct timespec64 {
  int64_t sec;
  int64_t nsec;
};

struct segment {
  uint32_t magic[2];     // kMagic0, kMagic1
  uint32_t segsize;      // kSegmentBytes
  uint16_t version;      // kVersion; 0 while (re)initialised: not usable
  uint16_t generation;   // seqlock: odd while written, 0 never written
  timespec64 as_of;      // CLOCK_MONOTONIC_COARSE when bound_nsec held
  timespec64 void_after; // CLOCK_MONOTONIC_COARSE after which nothing holds
  int64_t bound_nsec;    // |CLOCK_REALTIME - true time| <= this at as_of
  uint64_t disruption_marker;
  uint32_t max_drift_ppb;
  int32_t clock_status;  // Status
  uint8_t clock_disruption_support_enabled;
  uint8_t padding[7];
};
static_assert(offsetof(segment, segsize) == 8);
static_assert(offsetof(segment, version) == 12);
static_assert(offsetof(segment, generation) == 14);
static_assert(offsetof(segment, as_of) == 16);
static_assert(offsetof(segment, void_after) == 32);
static_assert(offsetof(segment, bound_nsec) == 48);
static_assert(offsetof(segment, disruption_marker) == 56);
static_assert(offsetof(segment, max_drift_ppb) == 64);
static_assert(offsetof(segment, clock_status) == 68);
static_assert(offsetof(segment, clock_disruption_support_enabled) == 72);
static_assert(sizeof(segment) == 80);

inline constexpr size_t kHeaderBytes = offsetof(segment, as_of);
inline constexpr size_t kBodyBytes = sizeof(segment) - kHeaderBytes;
inline constexpr uint32_t kMagic0 = 0x414D5A4E;  // "NZMA" in memory on little-endian hosts
inline constexpr uint32_t kMagic1 = 0x43420200;
inline constexpr uint32_t kSegmentBytes = sizeof(segment);
inline constexpr uint16_t kVersion = 2;

// clock_status as clients read it.
enum class Status : int32_t { unknown = 0, synchronized = 1, freerunning = 2, disrupted = 3 };

// A client turns a Synchronized (or FreeRunning) older than this into
// FreeRunning on its own, and refuses a max_drift_ppb of kMaxDriftPpb or more.
inline constexpr int64_t kClientStaleNs = 5'000'000'000;
inline constexpr uint32_t kMaxDriftPpb = 1'000'000'000;

// The generation after `g` once a write is complete: wraps past 65535 to
// 2, never to 0 (never written) nor 1 (odd).
constexpr uint16_t next_even(uint16_t g) {
  const uint16_t n = static_cast<uint16_t>(g + ((g & 1u) ? 1u : 2u));
  return n == 0 ? 2 : n;
}
static_assert(next_even(0) == 2 && next_even(1) == 2 && next_even(65534) == 2 && next_even(65535) == 2);
static_assert(next_even(4) == 6 && next_even(5) == 6);

// What a client checks before it maps the segment.
inline bool header_usable(const segment& s) {
  return s.magic[0] == kMagic0 && s.magic[1] == kMagic1 && s.segsize >= kSegmentBytes && s.version == kVersion;
}

}  // namespace vmc::clockbound
