// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where a module reports incidents: one callback type for the chrony sinks,
// the chronyd client and the ptp4l updater, so the daemon hands the same
// logger to all of them. Each module prefixes its lines ("shm:", "sock:",
// "chronyc:", "ptp4l:") and logs an incident once, not once per sample.
#include <functional>
#include <string_view>

namespace vmc {

using LogFn = std::function<void(std::string_view)>;

// A module given no logger stays silent.
inline void log_line(const LogFn& fn, std::string_view line) {
  if (fn) fn(line);
}

}  // namespace vmc
