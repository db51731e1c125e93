// SPDX-License-Identifier: Apache-2.0
// Test support: chronyd's side of the SHM segment (shm_reader.h).
#include "shm_reader.h"

#include <sys/ipc.h>
#include <sys/shm.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace vmc::chrony {

Result<ShmReading> read_shm_segment(int unit, bool consume) {
  const key_t key = static_cast<key_t>(kShmKeyBase + unit);
  int id = shmget(key, sizeof(ShmTime), 0);
  if (id < 0) {
    int e = errno;
    return make_error(e == ENOENT ? Errc::no_input : Errc::os,
                      fmt::format("shm: unit {} (key {:#x}): shmget: {}", unit, key, std::strerror(e)));
  }
  void* p = shmat(id, nullptr, consume ? 0 : SHM_RDONLY);
  if (p == reinterpret_cast<void*>(-1)) {
    int e = errno;
    return make_error(Errc::os, fmt::format("shm: unit {}: shmat: {}", unit, std::strerror(e)));
  }
  auto* shm = static_cast<ShmTime*>(p);
  ShmReading r;
  // The same steps as chrony 4.3 shm_poll(): copy, then compare count.
  std::memcpy(&r.raw, const_cast<const ShmTime*>(shm), sizeof(ShmTime));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int count_after = __atomic_load_n(&shm->count, __ATOMIC_RELAXED);
  const ShmTime& t = r.raw;
  r.accepted = !((t.mode == 1 && t.count != count_after) || !(t.mode == 0 || t.mode == 1) || !t.valid);
  if (r.accepted && consume) __atomic_store_n(&shm->valid, 0, __ATOMIC_SEQ_CST);
  r.nsec_used = t.clockTimeStampNSec / 1000 == t.clockTimeStampUSec &&
                t.receiveTimeStampNSec / 1000 == t.receiveTimeStampUSec;
  int64_t cn = r.nsec_used ? t.clockTimeStampNSec : int64_t{1000} * t.clockTimeStampUSec;
  int64_t rn = r.nsec_used ? t.receiveTimeStampNSec : int64_t{1000} * t.receiveTimeStampUSec;
  r.clock_ns = static_cast<int64_t>(t.clockTimeStampSec) * kNsPerSec + cn;
  r.receive_ns = static_cast<int64_t>(t.receiveTimeStampSec) * kNsPerSec + rn;
  shmdt(p);
  return r;
}

Status remove_shm_segment(int unit) {
  int id = shmget(static_cast<key_t>(kShmKeyBase + unit), 0, 0);
  if (id < 0) return errno == ENOENT ? Status(Ok{}) : make_error(Errc::os, fmt::format("shm: unit {}: shmget: {}", unit, std::strerror(errno)));
  if (shmctl(id, IPC_RMID, nullptr) != 0)
    return make_error(Errc::os, fmt::format("shm: unit {}: IPC_RMID: {}", unit, std::strerror(errno)));
  return Ok{};
}

}  // namespace vmc::chrony
