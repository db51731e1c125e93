// SPDX-License-Identifier: Apache-2.0
#pragma once
// The status file and the metrics file: written when something changed
// and at least every kIntervalNs (vmclockctl status shows the age),
// atomically; a failure is an incident, never fatal.
#include <cstdint>
#include <limits>

#include "config.h"
#include "logging.h"
#include "status_view.h"

namespace vmc {

class Reports {
 public:
  static constexpr int64_t kIntervalNs = kStatusRefreshNs;

  void mark_dirty() { dirty_ = true; }
  // Never with neither file configured: the view is not even built then.
  bool due(const DaemonSection& d, int64_t mono_ns) const { return wanted(d) && (dirty_ || mono_ns >= next_ns_); }
  int64_t next_due(const DaemonSection& d) const { return wanted(d) ? next_ns_ : std::numeric_limits<int64_t>::max(); }
  void write(const DaemonSection& d, const StatusView& v, int64_t mono_ns);

 private:
  static bool wanted(const DaemonSection& d) { return !d.status_file.empty() || !d.metrics_file.empty(); }
  bool dirty_ = true;
  int64_t next_ns_ = 0;
  log::Incidents incidents_;
};

}  // namespace vmc
