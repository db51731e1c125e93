// SPDX-License-Identifier: Apache-2.0
#pragma once
// vmclockd.toml as one struct per [section]. The member initializers below
// are the only place a default is written; config.cpp's option table is the
// only place a key's name, type, bounds and help are; describe_options()
// prints from both. Unknown keys and bad values are errors naming the key,
// the value and the line (Errc::config, exit 78).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ptp_options.h"
#include "result.h"

namespace vmc {

inline constexpr const char* kDefaultSock = "/run/chrony/vmclockd.sock";
inline constexpr const char* kDefaultConfigPath = "/etc/vmclockd.toml";
// A configuration is a few kB; anything this large is not one.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

struct SourceSection {
  std::string page = "/dev/vmclock0";
  // How often the marker is checked without the device's notifications.
  // Only chronyd waits on it (libvmclock and ClockBound's clients check the
  // marker on every call): 50 ms keeps the reset's p99 under 100 ms at 20
  // wake-ups a second (tests/bench/run, part detect).
  int64_t watch_interval_ms = 50;
  bool operator==(const SourceSection&) const = default;
};

struct SamplingSection {
  int64_t interval_ms = 250;
  int64_t best_of = 8;
  int64_t max_error_ns = 100'000;
  bool operator==(const SamplingSection&) const = default;
};

struct ChronySection {
  int64_t shm_unit = -1;            // -1: no SHM sink
  std::string sock = kDefaultSock;  // empty: no SOCK sink
  std::string command_socket = "/run/chrony/chronyd.sock";
  bool reset_on_disruption = true;
  bool burst = true;
  bool makestep = false;
  std::string client_dir = "/run/vmclockd/sockets";
  bool operator==(const ChronySection&) const = default;
};

struct DaemonSection {
  std::string status_file = "/run/vmclockd/status.json";
  std::string metrics_file;
  std::string user = "vmclockd";
  bool operator==(const DaemonSection&) const = default;
};

// The segment libvmclock reads.
struct BoundSection {
  std::string segment = "/run/vmclockd/bound";  // empty: not published
  std::string source = "auto";                  // auto, page, chrony
  int64_t max_drift_ppb = 15'000;
  int64_t stale_after_ms = 2'000;
  int64_t void_after_s = 300;
  int64_t tracking_interval_ms = 1'000;
  bool operator==(const BoundSection&) const = default;
};

// AWS ClockBound's v2 segment, for ClockBound's clients. Off unless asked
// for (the packages ask for it): a by-hand run must not take over a path
// another daemon may own.
struct ClockBoundSection {
  std::string segment;  // empty: not published; ClockBound's clients read /var/run/clockbound/shm0
  bool operator==(const ClockBoundSection&) const = default;
};

// [ptp4l] as the file writes it (names, ms, int64_t); ptp4l_options()
// (config_ptp4l.h) turns it into the plugin's ptp::Ptp4lOptions. The plugin
// owns what these default to, so each is taken from it.
struct Ptp4lSection {
  std::string uds_address = ptp::Ptp4lOptions{}.uds_address;
  std::string time_source = std::string(ptp::time_source_name(ptp::Ptp4lOptions{}.time_source));
  int64_t domain_number = ptp::Ptp4lOptions{}.domain_number;
  int64_t locked_maxerror_ns = static_cast<int64_t>(ptp::Ptp4lOptions{}.locked_maxerror_ns);
  int64_t holdover_maxerror_ns = static_cast<int64_t>(ptp::Ptp4lOptions{}.holdover_maxerror_ns);
  int64_t default_utc_offset = ptp::Ptp4lOptions{}.default_utc_offset;
  bool ptp_timescale = ptp::Ptp4lOptions{}.ptp_timescale;
  int64_t upgrade_hold_updates = ptp::Ptp4lOptions{}.upgrade_hold_updates;
  int64_t upgrade_hold_ms = ptp::Ptp4lOptions{}.upgrade_hold.count();
  int64_t check_interval_ms = ptp::Ptp4lOptions{}.check_interval.count();
  int64_t retry_interval_ms = ptp::Ptp4lOptions{}.retry_interval.count();
  int64_t reply_timeout_ms = ptp::Ptp4lOptions{}.reply_timeout.count();
  // Empty: vmclockd-pmc.sock in chrony.client_dir (ptp4l_options() decides).
  std::string client_address;
  bool operator==(const Ptp4lSection&) const = default;
};

struct Config {
  SourceSection source;
  SamplingSection sampling;
  ChronySection chrony;
  DaemonSection daemon;
  BoundSection bound;
  ClockBoundSection clockbound;
  std::optional<Ptp4lSection> ptp4l;  // present iff the file has [ptp4l]
  std::string origin = "built-in defaults";  // where it came from, for logs
  bool operator==(const Config&) const = default;
};

// Defaults as the daemon uses them when no file exists.
Config default_config();
// Parses TOML text; `name` is used in messages.
Result<Config> parse_config(std::string_view text, const std::string& name);
// Reads `path`, which must be a regular file of at most kMaxConfigBytes:
// Errc::no_input when it cannot be opened, Errc::config for anything else
// (a directory, device or FIFO, its size, its contents).
Result<Config> load_config(const std::string& path);
// A string option's value given elsewhere (--page): the checks the file's
// value gets. Errc::usage naming `given_as` and the value.
Status check_option(std::string_view key, const std::string& value, std::string_view given_as);
// Every option `cfg` has, as "section.key" and its value, in the table's
// order: what the status file reports as the settings in effect.
struct OptionValue {
  std::string name;
  std::variant<int64_t, bool, std::string> value;
};
std::vector<OptionValue> option_values(const Config& cfg);
// A commented listing of every option with its type, bounds and default,
// for --print-options; uncommented, it is a valid file of the defaults.
std::string describe_options();

}  // namespace vmc
