// SPDX-License-Identifier: Apache-2.0
#pragma once
// Whether a status file still speaks for a running daemon. A file left by
// a daemon that stopped, died or hangs must never read as healthy: the
// writer must be the same process (pid, boot, start time) and must still
// rewrite the file every kStatusRefreshNs.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "status_view.h"

namespace vmc {

// Older than this, the file is stale (the writer is stopped or hung).
inline constexpr int64_t kStatusStaleAfterNs = 5 * kStatusRefreshNs;

enum class Liveness { running, stopped, not_running, stale };
constexpr std::string_view name(Liveness l) {
  switch (l) {
    case Liveness::running: return "running";
    case Liveness::stopped: return "stopped";
    case Liveness::not_running: return "not-running";
    case Liveness::stale: return "stale";
  }
  return "unknown";
}

// What the reader sees now of the pid the file names.
struct WriterNow {
  std::string boot_id;                     // this boot's; empty when unknown
  std::optional<uint64_t> pid_start_ticks;  // nullopt: no such process
  int64_t now_unix_ns = 0;
};

struct LivenessVerdict {
  Liveness what = Liveness::running;
  // For people: "stopped", "not running (last seen T)", "stale (last
  // written N s ago)"; empty when running.
  std::string text;
};

LivenessVerdict judge_liveness(const StatusView& v, const WriterNow& now);
// WriterNow from /proc and the realtime clock.
WriterNow observe_writer(const StatusView& v);

}  // namespace vmc
