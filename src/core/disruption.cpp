// SPDX-License-Identifier: Apache-2.0
#include "disruption.h"

#include <fmt/format.h>

namespace vmc {

std::string describe(const DisruptionEvent& e) {
  using K = DisruptionEvent::Kind;
  switch (e.kind) {
    case K::marker_changed: return fmt::format("disruption_marker {} -> {}", e.old_value, e.new_value);
    case K::generation_changed: return fmt::format("vm_generation_counter {} -> {}", e.old_value, e.new_value);
    case K::soon_raised: return "disruption_soon raised";
    case K::soon_cleared: return "disruption_soon cleared";
    case K::imminent_raised: return "disruption_imminent raised";
    case K::imminent_cleared: return "disruption_imminent cleared";
  }
  return "unknown";
}

std::vector<DisruptionEvent> DisruptionTracker::update(const Page& p) {
  using K = DisruptionEvent::Kind;
  std::vector<DisruptionEvent> ev;
  const bool soon = p.flags.has(abi::Flag::disruption_soon);
  const bool imminent = p.flags.has(abi::Flag::disruption_imminent);
  if (seen_) {
    if (marker_ && *marker_ != p.disruption_marker)
      ev.push_back({K::marker_changed, *marker_, p.disruption_marker});
    // A generation counter that appears or vanishes is not a restore.
    if (generation_ && p.vm_generation_counter && *generation_ != *p.vm_generation_counter)
      ev.push_back({K::generation_changed, *generation_, *p.vm_generation_counter});
    if (soon != soon_) ev.push_back({soon ? K::soon_raised : K::soon_cleared});
    if (imminent != imminent_) ev.push_back({imminent ? K::imminent_raised : K::imminent_cleared});
  }
  seen_ = true;
  marker_ = p.disruption_marker;
  if (p.vm_generation_counter) generation_ = p.vm_generation_counter;
  soon_ = soon;
  imminent_ = imminent;
  return ev;
}

}  // namespace vmc
