// SPDX-License-Identifier: Apache-2.0
#pragma once
// Scenario files: a TOML list of host events at times after "ready", and
// their expansion into a timeline of simple actions. Example and full
// key list: src/sim/scenarios/example.toml.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi.h"
#include "result.h"

namespace vmc::sim {

enum class EventKind { migration, status, leap, stop_updates, resume_updates, stuck_odd, set };
std::string_view name(EventKind k);

// Fields a "set" event may change; absent ones stay as they are.
struct SetFields {
  std::optional<int64_t> offset_ns;
  std::optional<double> drift_ppm;
  std::optional<abi::TimeType> time_type;
  std::optional<abi::CounterId> counter_id;
  std::optional<abi::ClockStatus> status;
  std::optional<abi::SmearingHint> smearing;
  std::optional<int16_t> tai_offset;
  std::optional<uint64_t> maxerror_ns;
  std::optional<uint64_t> esterror_ns;
  std::optional<double> period_maxerror_ppb;
  std::optional<double> period_esterror_ppb;
  bool any() const;
};

struct Event {
  size_t index = 0;  // position in the file, for messages
  int64_t at_ns = 0;
  EventKind kind = EventKind::set;
  // migration
  std::optional<int64_t> offset_step_ns;
  std::optional<double> drift_step_ppm;
  bool bump_marker = true;
  bool bump_generation = true;
  std::optional<int64_t> soon_ns;      // DISRUPTION_SOON raised this long before
  std::optional<int64_t> imminent_ns;  // DISRUPTION_IMMINENT raised this long before
  // leap
  abi::LeapIndicator leap = abi::LeapIndicator::none;
  int64_t leap_after_ns = 1'000'000'000;  // pending for this long, then the leap happens
  int64_t leap_post_ns = 1'000'000'000;   // POST_* shown for this long, then NONE
  // stop_updates, stuck_odd: absent = until a resume_updates (or forever)
  std::optional<int64_t> duration_ns;
  SetFields set;  // set (and status, which fills set.status)
};

struct Scenario {
  std::string source;  // file name, for messages
  std::optional<int64_t> migration_offset_step_ns;
  std::optional<double> migration_drift_step_ppm;
  std::vector<Event> events;
};

// Errc::config naming `source`, the event index and key, and the value.
Result<Scenario> parse_scenario(std::string_view toml_text, const std::string& source);
Result<Scenario> load_scenario(const std::string& path);

// What the run loop does at one instant.
enum class ActionKind {
  raise_soon,
  raise_imminent,
  migrate,       // also clears SOON / IMMINENT
  set_fields,    // status events included
  leap_pending,  // PRE_POS / PRE_NEG
  leap_now,      // POS (inserted second in progress) or POST_NEG
  leap_post,     // POST_POS after a POS second
  leap_clear,
  stop_updates,
  resume_updates,
  stuck_odd,
  unstuck,
};
std::string_view name(ActionKind k);

struct Action {
  int64_t at_ns = 0;
  ActionKind kind = ActionKind::set_fields;
  size_t event = 0;  // index into Scenario::events
  abi::LeapIndicator leap = abi::LeapIndicator::none;
};

// Sorted by time; actions at the same instant keep the file's order.
std::vector<Action> expand(const Scenario& s);

inline constexpr int64_t kMaxScenarioNs = 1'000'000LL * 1'000'000'000LL;  // 1e6 s
inline constexpr size_t kMaxEvents = 100'000;

}  // namespace vmc::sim
