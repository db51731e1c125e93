// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one place that decides whether a sample reaches chrony (and which
// sample ptp4l and the bound may use), and says why not, as a type.
#include <cstdint>
#include <optional>
#include <string>

#include "cross_timestamp.h"

namespace vmc {

enum class Refusal {
  none,
  paused,             // the page announced disruption_imminent: nothing is sent until the marker settles
  reset_pending,      // chronyd has not dropped its stale samples yet
  page_has_no_time,   // a disruption-only page: no counter, nothing to send, nothing wrong
  no_time,            // the page cannot vouch for a time (validity, arithmetic)
  across_disruption,  // the marker changed between the snapshot and the tracker's view
  over_max_error,     // usable, but its maxerror is over [sampling] max_error_ns
};

struct GateInput {
  const SampleOutcome& outcome;
  std::optional<uint64_t> tracked_marker;  // the disruption tracker's marker after this snapshot
  bool imminent;            // the tracker says disruption_imminent
  bool reset_pending;
  uint64_t max_error_ns;
};

struct GateDecision {
  Refusal refusal = Refusal::none;
  std::string why;  // for people: the state's reason, the log
  // The sample chrony gets (refusal none).
  std::optional<Sample> for_chrony;
  // The page's own sample whatever chrony's limit: ptp4l announces its
  // quality from it, the bound carries its error.
  std::optional<Sample> usable;
  // Counted in samples_refused: a decision about the sample itself, not a
  // pause while the disruption is handled.
  bool counts_as_refused() const {
    return refusal == Refusal::no_time || refusal == Refusal::across_disruption || refusal == Refusal::over_max_error;
  }
};

GateDecision gate(const GateInput& in);

}  // namespace vmc
