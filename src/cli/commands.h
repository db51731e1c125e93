// SPDX-License-Identifier: Apache-2.0
#pragma once
// vmclockctl's commands that are not about the page itself.
#include <cstdint>
#include <string>

namespace vmc::cli {

// `vmclockctl status`: the running daemon's status file, for people or --json.
int cmd_status(const std::string& path, bool as_json);
// `vmclockctl bound`: the interval libvmclock gives an application.
int cmd_bound(const std::string& page, const std::string& segment, bool as_json, int count, int interval_ms);

// `vmclockctl waitsync`: until libvmclock's answer is SYNCHRONIZED within
// max_bound_ns (exit 0), or until timeout_s passes (75; 0 s: never).
struct WaitSyncOptions {
  std::string page, segment;
  double timeout_s = 0;
  uint64_t max_bound_ns = 100'000'000;  // chrony-wait.service's 0.1 s
  bool as_json = false;
};
int cmd_waitsync(const WaitSyncOptions& o);

}  // namespace vmc::cli
