// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the daemon tells the world about itself, one word each (status
// file, metrics, sd_notify STATUS=).
#include <array>
#include <optional>
#include <string_view>

namespace vmc {

// watching: the page publishes no time (a disruption-only device:
// Firecracker, QEMU, some EC2 pages): nothing to send, the marker watched
// and disruptions handled, which is all such a page offers.
// stopped: the last word of a daemon that exited cleanly (nothing feeds chrony).
enum class DaemonState { starting, synced, watching, no_data, disrupted, paused, stopped };

inline constexpr std::array kAllDaemonStates{DaemonState::starting, DaemonState::synced, DaemonState::watching,
                                             DaemonState::no_data,  DaemonState::disrupted, DaemonState::paused,
                                             DaemonState::stopped};

constexpr std::string_view name(DaemonState s) {
  switch (s) {
    case DaemonState::starting: return "starting";
    case DaemonState::synced: return "synced";
    case DaemonState::watching: return "watching";
    case DaemonState::no_data: return "no-data";
    case DaemonState::disrupted: return "disrupted";
    case DaemonState::paused: return "paused";
    case DaemonState::stopped: return "stopped";
  }
  return "unknown";
}

inline std::optional<DaemonState> daemon_state_from_name(std::string_view n) {
  for (auto s : kAllDaemonStates)
    if (name(s) == n) return s;
  return std::nullopt;
}

}  // namespace vmc
