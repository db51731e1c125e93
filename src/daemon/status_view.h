// SPDX-License-Identifier: Apache-2.0
#pragma once
// The daemon's status as plain data: what status.json holds, what the
// metrics file is made from, what `vmclockctl status` reads back. The JSON
// schema is declared once, by to_json()/status_from_json() in
// status_view.cpp, so the writer and the reader cannot drift apart.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon_state.h"
#include "result.h"

namespace vmc {

// The daemon rewrites its status at least this often; a reader that finds
// it much older knows the daemon is stopped or hung.
inline constexpr int64_t kStatusRefreshNs = 1'000'000'000;

struct StatusCounters {
  uint64_t samples_sent = 0;
  uint64_t samples_refused = 0;
  uint64_t disruptions_seen = 0;
  uint64_t resets_sent = 0;
  uint64_t resets_failed = 0;
  uint64_t page_errors = 0;
  uint64_t config_reloads = 0;
  uint64_t wakeups = 0;        // returns from the loop's sleep: its CPU cost
  uint64_t notifications = 0;  // of which the device's notification woke it
  bool operator==(const StatusCounters&) const = default;
};

// Why the page is not open: reason "cannot-open" (detail: the open error)
// or, for a /dev/vmclock* path, what /sys says (device_presence.h: reason
// "no-driver", "driver-not-bound", "no-misc-device" or "no-device", detail
// the sentence for people, sysfs the entries found).
struct PageMissingView {
  std::string reason;
  std::string detail;
  std::optional<std::string> sysfs;
  bool operator==(const PageMissingView&) const = default;
};

// The page's path and source, and the last consistent snapshot's header
// fields by the kernel header's names (null until a snapshot was read).
struct PageView {
  std::string path;
  std::string kind;  // the source's kind ("device-mmap", "file", ...), "closed" when none is open
  std::string watch;      // how the marker is watched: "device notifications" or "timer"
  std::string watch_why;  // why (page_notify.h), empty when not a device
  std::optional<uint32_t> seq_count;
  std::optional<uint64_t> disruption_marker;
  std::optional<uint64_t> vm_generation_counter;
  std::optional<std::string> clock_status, time_type, counter_id;
  // Shown, never gating: the leap the host announces and the smearing it
  // suggests the guest offer its own users ("undefined(N)" when the ABI
  // does not define the value).
  std::optional<std::string> leap_indicator, smearing_hint;
  std::optional<uint64_t> flags;
  std::optional<PageMissingView> missing;  // null while the page is open
  bool operator==(const PageView&) const = default;
};

struct SampleView {
  std::string time;  // the reference time, UTC, for people
  int64_t system_ns = 0;
  int64_t offset_ns = 0;
  uint64_t maxerror_ns = 0;
  std::optional<uint64_t> esterror_ns;
  int64_t bracket_ns = 0;
  int leap = 0;
  uint64_t disruption_marker = 0;
  bool operator==(const SampleView&) const = default;
};

struct DisruptionView {
  int64_t system_ns = 0;
  std::optional<uint64_t> old_marker, new_marker, old_generation, new_generation;
  std::optional<int64_t> reset_latency_ns;  // detection to chronyd's reply
  bool operator==(const DisruptionView&) const = default;
};

struct SinkView {
  std::string name;
  bool ok = false;
  std::string state;
  uint64_t published = 0;
  uint64_t failed = 0;
  std::string last_error;
  bool operator==(const SinkView&) const = default;
};

// A segment the bound is published in besides vmclockd's own.
struct PublishedView {
  std::string segment;
  std::string state;  // "publishing", or why not
  bool operator==(const PublishedView&) const = default;
};

struct BoundView {
  std::string segment;  // vmclockd's own; empty when it is not published
  std::string source;  // "page" or "chrony"
  std::string status;  // "unknown", "synchronized", "freerunning", "disrupted"
  uint64_t bound_ns = 0;
  uint64_t max_drift_ppb = 0;  // what the readers grow it by: configured + clock_rate_ppb
  uint64_t clock_rate_ppb = 0;  // the system clock's rate against the page, measured
  int64_t as_of_ns = 0;
  uint64_t disruption_marker = 0;
  std::optional<std::string> why;
  std::optional<PublishedView> clockbound;  // AWS ClockBound's segment, when configured
  bool operator==(const BoundView&) const = default;
};

struct StatusView {
  std::string version;
  int64_t pid = 0;
  // Who `pid` was: the kernel's boot and the process's start time (ticks
  // after boot, /proc/PID/stat), so that a pid used again by another
  // process, or a file from before a reboot, is not taken for the writer.
  std::string boot_id;
  uint64_t start_ticks = 0;
  std::string updated;  // UTC, for people
  int64_t updated_unix_ns = 0;
  DaemonState state = DaemonState::starting;
  std::optional<std::string> reason;
  std::string config;  // where the configuration came from
  // Every option in effect, {"section.key": value}, as --print-options names them.
  nlohmann::json settings;
  PageView page;
  std::optional<SampleView> last_sample;
  StatusCounters counters;
  std::optional<DisruptionView> last_disruption;
  std::vector<SinkView> sinks;
  // The ptp4l updater's own report (ptp4l-plugin's to_json), or null.
  nlohmann::json ptp4l;
  std::optional<BoundView> bound;
  bool operator==(const StatusView&) const = default;
};

nlohmann::json to_json(const StatusView& v);
// Errc::data naming the key when `j` is not a status of this schema.
Result<StatusView> status_from_json(const nlohmann::json& j);

}  // namespace vmc
