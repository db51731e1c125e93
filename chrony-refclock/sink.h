// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where samples go: one interface, one small file per chrony refclock kind
// (shm_sink.cpp, sock_sink.cpp), as chrony keeps refclock_shm.c and
// refclock_sock.c behind refclock.h; what each puts on the wire is encoded
// apart (shm_sample.h, sock_sample.h). chronyd creates the SHM segment and
// binds the SOCK socket; a sink is the client of both.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "log_sink.h"
#include "result.h"
#include "cross_timestamp.h"

namespace vmc::chrony {

struct SinkHealth {
  bool ok = false;
  std::string state;  // "attached", "connected", "waiting for chronyd", ...
  uint64_t published = 0;
  uint64_t failed = 0;
  std::string last_error;
};

class SampleSink {
 public:
  virtual ~SampleSink() = default;
  virtual std::string_view name() const = 0;
  // Never blocks. A sink whose peer is away returns Errc::temp_fail and
  // keeps trying to reach it on later calls.
  virtual Status publish(const vmc::Sample&) = 0;
  // Marks anything not yet consumed invalid: on a disruption and at exit.
  virtual void withdraw() = 0;
  virtual SinkHealth health() const = 0;
};

struct ShmOptions {
  // chronyd normally creates the segment; creating it ourselves lets the
  // feeder start first, but chronyd must then be able to attach (it exits
  // at start when it cannot), hence owner-only by default like chronyd's.
  bool create = true;
  int perm = 0600;
  LogFn log;
};

struct SockOptions {
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{10'000};
  LogFn log;
};

// `unit` is the number in `refclock SHM <unit>` (key 0x4e545030 + unit).
Result<std::unique_ptr<SampleSink>> make_shm_sink(int unit, ShmOptions opts = {});
// `path` is the one in `refclock SOCK <path>`. Succeeds when chronyd is not
// there yet: the sink connects when it appears.
Result<std::unique_ptr<SampleSink>> make_sock_sink(std::string path, SockOptions opts = {});

}  // namespace vmc::chrony
