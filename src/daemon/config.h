#pragma once
// vmclockd.toml: every option declared once (config.cpp) with its default
// and bounds; unknown keys and bad values are errors naming the key, the
// value and the line (Errc::config, exit 78).
#include <cstdint>
#include <string>

#include "result.h"

namespace vmc {

inline constexpr const char* kDefaultSock = "/run/chrony/vmclockd.sock";
inline constexpr const char* kDefaultConfigPath = "/etc/vmclockd.toml";

struct Config {
  // [source]
  std::string page = "/dev/vmclock0";
  int64_t watch_interval_ms = 5;  // how often the marker is checked without notifications
  // [sampling]
  int64_t interval_ms = 250;
  int64_t best_of = 8;
  int64_t max_error_ns = 100'000;
  // [chrony]
  int64_t shm_unit = -1;  // -1: no SHM sink
  std::string sock = kDefaultSock;  // empty: no SOCK sink
  std::string command_socket = "/run/chrony/chronyd.sock";
  bool reset_on_disruption = true;
  bool burst = true;
  bool makestep = false;
  std::string client_dir = "/run/vmclockd/sockets";
  // [daemon]
  std::string status_file = "/run/vmclockd/status.json";
  std::string metrics_file;
  std::string user = "vmclockd";
  // [bound]: the segment libvmclock reads
  std::string bound_segment = "/run/vmclockd/bound";  // empty: not published
  std::string bound_source = "auto";                  // auto, page, chrony
  int64_t bound_max_drift_ppb = 15'000;
  int64_t bound_stale_after_ms = 2'000;
  int64_t bound_void_after_s = 300;
  int64_t bound_tracking_interval_ms = 1'000;
  // [ptp4l]; present only when the section is
  bool ptp4l = false;
  std::string ptp4l_uds_address = "/var/run/ptp4l";
  std::string ptp4l_time_source = "other";
  int64_t ptp4l_domain_number = 0;
  int64_t ptp4l_locked_maxerror_ns = 1'000'000;
  int64_t ptp4l_holdover_maxerror_ns = 10'000'000;
  int64_t ptp4l_default_utc_offset = 37;
  bool ptp4l_ptp_timescale = false;
  int64_t ptp4l_upgrade_hold_updates = 3;
  int64_t ptp4l_upgrade_hold_ms = 10'000;
  int64_t ptp4l_check_interval_ms = 5'000;
  int64_t ptp4l_retry_interval_ms = 2'000;
  int64_t ptp4l_reply_timeout_ms = 20;
  std::string ptp4l_client_address;  // empty: <chrony.client_dir>/vmclockd-pmc.sock

  std::string origin = "built-in defaults";  // where it came from, for logs
  bool operator==(const Config&) const = default;
};

// Defaults as the daemon uses them when no file exists.
Config default_config();
// Parses TOML text; `name` is used in messages.
Result<Config> parse_config(std::string_view text, const std::string& name);
Result<Config> load_config(const std::string& path);
// A commented listing of every option, for --help and the man page.
std::string describe_options();

}  // namespace vmc
