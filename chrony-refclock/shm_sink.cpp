// SPDX-License-Identifier: Apache-2.0
// The SHM refclock writer: gpsd's protocol over chrony's segment. chrony
// reads in mode 1 (count must not move during its copy) and only when valid
// is set, so valid is cleared before anything else changes and set last.
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "shm_sample.h"
#include "sink.h"

namespace vmc::chrony {
namespace {

template <class T>
void put(T& field, T v) { __atomic_store_n(&field, v, __ATOMIC_RELAXED); }

Result<int> shm_id(int unit, bool create, int perm) {
  key_t key = static_cast<key_t>(kShmKeyBase + unit);
  int id = shmget(key, sizeof(ShmTime), create ? (IPC_CREAT | (perm & 0777)) : 0);
  if (id >= 0) return id;
  int e = errno;
  return make_error(e == ENOENT ? Errc::no_input : Errc::os,
                    fmt::format("shm: unit {} (key {:#x}): shmget: {}{}", unit, key, std::strerror(e),
                                e == EINVAL ? " (segment smaller than 96 bytes?)" : ""));
}

// Whoever can write the segment feeds chronyd's refclock: a segment made
// before us by another user, or writable by group or others, is refused.
// Root's is accepted (chronyd, started as root, may have made it).
Status check_owner(int unit, int id) {
  shmid_ds ds{};
  if (shmctl(id, IPC_STAT, &ds) != 0) {
    int e = errno;
    return make_error(Errc::os, fmt::format("shm: unit {}: shmctl(IPC_STAT): {}", unit, std::strerror(e)));
  }
  const uid_t me = geteuid();
  const auto mode = static_cast<unsigned>(ds.shm_perm.mode & 0777);
  const bool owner_ok = ds.shm_perm.uid == me || ds.shm_perm.uid == 0;
  if (owner_ok && (mode & 0022) == 0) return Ok{};
  const key_t key = static_cast<key_t>(kShmKeyBase + unit);
  return make_error(Errc::unavailable,
                    fmt::format("shm: unit {} (key {:#x}): the segment is owned by uid {} with mode {:04o}: {}; "
                                "remove it (ipcrm -M {:#x}) and restart chronyd and vmclockd",
                                unit, key, ds.shm_perm.uid, mode,
                                owner_ok ? "group or others may write chronyd's samples"
                                         : fmt::format("not by this user (uid {}) or root", me),
                                key));
}

class ShmSink final : public SampleSink {
 public:
  ShmSink(int unit, ShmTime* shm, ShmOptions opts) : unit_(unit), shm_(shm), opts_(std::move(opts)) {}
  ~ShmSink() override {
    withdraw();
    shmdt(shm_);
  }
  std::string_view name() const override { return "shm"; }

  Status publish(const vmc::Sample& s) override {
    const ShmTime v = to_shm_time(s);
    ShmTime& m = *shm_;
    put(m.mode, 1);
    put(m.valid, 0);
    put(m.count, __atomic_load_n(&m.count, __ATOMIC_RELAXED) + 1);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    put(m.clockTimeStampSec, v.clockTimeStampSec);
    put(m.clockTimeStampUSec, v.clockTimeStampUSec);
    put(m.clockTimeStampNSec, v.clockTimeStampNSec);
    put(m.receiveTimeStampSec, v.receiveTimeStampSec);
    put(m.receiveTimeStampUSec, v.receiveTimeStampUSec);
    put(m.receiveTimeStampNSec, v.receiveTimeStampNSec);
    put(m.leap, v.leap);
    put(m.precision, v.precision);
    put(m.nsamples, v.nsamples);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    put(m.count, __atomic_load_n(&m.count, __ATOMIC_RELAXED) + 1);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    put(m.valid, 1);
    ++published_;
    return Ok{};
  }

  void withdraw() override {
    __atomic_store_n(&shm_->valid, 0, __ATOMIC_SEQ_CST);
  }

  SinkHealth health() const override {
    return SinkHealth{true, fmt::format("attached to unit {} (key {:#x})", unit_, kShmKeyBase + unit_),
                      published_, 0, {}};
  }

 private:
  int unit_;
  ShmTime* shm_;
  ShmOptions opts_;
  uint64_t published_ = 0;
};

}  // namespace

Result<std::unique_ptr<SampleSink>> make_shm_sink(int unit, ShmOptions opts) {
  auto id = shm_id(unit, opts.create, opts.perm);
  if (!id) return id.error();
  if (auto ok = check_owner(unit, *id); !ok) return ok.error();
  void* p = shmat(*id, nullptr, 0);
  if (p == reinterpret_cast<void*>(-1)) {
    int e = errno;
    return make_error(Errc::os, fmt::format("shm: unit {}: shmat: {}", unit, std::strerror(e)));
  }
  log_line(opts.log, fmt::format("shm: attached to unit {} (key {:#x})", unit, kShmKeyBase + unit));
  return std::unique_ptr<SampleSink>(new ShmSink(unit, static_cast<ShmTime*>(p), std::move(opts)));
}

}  // namespace vmc::chrony
