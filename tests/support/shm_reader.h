// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test support: reads chrony's SHM segment as chronyd 4.3 shm_poll() does,
// to prove what the SHM sink did (not) write. Not in the daemon: only the
// tests link it (vmc_test_support in tests/CMakeLists.txt).
#include <cstdint>

#include "result.h"
#include "shm_sample.h"

namespace vmc::chrony {

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
