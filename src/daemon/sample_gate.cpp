// SPDX-License-Identifier: Apache-2.0
#include "sample_gate.h"

#include <fmt/format.h>

namespace vmc {

GateDecision gate(const GateInput& in) {
  GateDecision d;
  if (in.imminent) {
    d.refusal = Refusal::paused;
    d.why = "disruption_imminent: samples paused until the marker settles";
    return d;
  }
  if (in.reset_pending) {
    d.refusal = Refusal::reset_pending;
    d.why = "waiting for chronyd to drop the samples taken before the disruption";
    return d;
  }
  const auto& out = in.outcome;
  if (!out.sample && out.validity.disruption_only()) {
    d.refusal = Refusal::page_has_no_time;
    d.why = out.why_not;
    return d;
  }
  if (!out.sample) {
    d.refusal = Refusal::no_time;
    d.why = out.why_not;
    return d;
  }
  const Sample& s = *out.sample;
  if (s.disruption_marker != in.tracked_marker) {
    d.refusal = Refusal::across_disruption;
    d.why = "sample taken across a disruption";
    return d;
  }
  d.usable = s;
  if (s.maxerror_ns > in.max_error_ns) {
    d.refusal = Refusal::over_max_error;
    d.why = fmt::format("maxerror {} ns is over the limit of {} ns", s.maxerror_ns, in.max_error_ns);
    return d;
  }
  d.for_chrony = s;
  return d;
}

}  // namespace vmc
