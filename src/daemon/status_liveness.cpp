// SPDX-License-Identifier: Apache-2.0
// The liveness of a status file's writer (status_liveness.h).
#include "status_liveness.h"

#include <fmt/format.h>

#include "clock.h"
#include "process_identity.h"
#include "units.h"

namespace vmc {

LivenessVerdict judge_liveness(const StatusView& v, const WriterNow& now) {
  if (v.state == DaemonState::stopped) return {Liveness::stopped, "stopped"};
  const bool same_boot = v.boot_id.empty() || now.boot_id.empty() || v.boot_id == now.boot_id;
  const bool same_process = now.pid_start_ticks && *now.pid_start_ticks == v.start_ticks;
  if (!same_boot || !same_process)
    return {Liveness::not_running, fmt::format("not running (last seen {})", v.updated)};
  const int64_t age = now.now_unix_ns - v.updated_unix_ns;
  if (age > kStatusStaleAfterNs)
    return {Liveness::stale, fmt::format("stale (last written {} s ago)", age / kNsPerSec)};
  return {};
}

WriterNow observe_writer(const StatusView& v) {
  return {current_boot_id(), process_start_ticks(v.pid), realtime_now().ns};
}

}  // namespace vmc
