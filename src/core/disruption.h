// SPDX-License-Identifier: Apache-2.0
#pragma once
// Notices what voids the guest's knowledge of its counter: a new
// disruption_marker or vm_generation_counter (either may be absent), and
// the host's DISRUPTION_SOON / IMMINENT warnings.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "page.h"

namespace vmc {

struct DisruptionEvent {
  enum class Kind { marker_changed, generation_changed, soon_raised, soon_cleared, imminent_raised, imminent_cleared };
  Kind kind;
  uint64_t old_value = 0;
  uint64_t new_value = 0;
};

std::string describe(const DisruptionEvent& e);

class DisruptionTracker {
 public:
  // Events since the previous page; the first page only sets the baseline.
  std::vector<DisruptionEvent> update(const Page& p);
  static bool is_disruption(const DisruptionEvent& e) {
    return e.kind == DisruptionEvent::Kind::marker_changed || e.kind == DisruptionEvent::Kind::generation_changed;
  }
  bool imminent() const { return imminent_; }
  bool soon() const { return soon_; }
  std::optional<uint64_t> marker() const { return marker_; }
  std::optional<uint64_t> generation() const { return generation_; }
  void reset() { *this = DisruptionTracker{}; }

 private:
  bool seen_ = false;
  std::optional<uint64_t> marker_;
  std::optional<uint64_t> generation_;
  bool soon_ = false;
  bool imminent_ = false;
};

}  // namespace vmc
