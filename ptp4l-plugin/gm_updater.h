// SPDX-License-Identifier: Apache-2.0
#pragma once
// Keeps ptp4l's GRANDMASTER_SETTINGS_NP equal to what vmclock knows. The
// daemon calls tick() once per cycle; a tick does nothing, or a GET, or a
// GET and a SET, each bounded by reply_timeout (20 ms by default), so a tick
// never blocks the daemon for longer than two of them.
//
// ptp4l forgets the settings when it restarts and anyone with the socket can
// change them, so the updater GETs every check_interval and re-applies when
// they differ. It never SETs what ptp4l already has. With ptp4l absent it
// retries every retry_interval and says so in status().
#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "log_sink.h"
#include "pmc_client.h"
#include "ptp_mapping.h"
#include "ptp_options.h"
#include "result.h"

namespace vmc::ptp {

struct UpdaterStatus {
  // "absent": ptp4l's socket is missing or refuses; "error": ptp4l answered
  // badly, not in time, or with MANAGEMENT_ERROR_STATUS; "applied": ptp4l
  // has `desired`; "pending": not tried yet.
  std::string state = "pending";
  GrandmasterSettings desired{};               // after hysteresis
  Grade grade = Grade::no_time;                // map_clock's grade, before hysteresis
  bool held_back = false;                      // hysteresis is delaying an upgrade to `grade`
  std::optional<GrandmasterSettings> applied;  // the last settings ptp4l confirmed
  uint64_t gets_sent = 0;
  uint64_t sets_sent = 0;
  uint64_t reapplied = 0;  // times ptp4l had lost or changed what was applied
  std::string last_error;  // empty until the first failure; kept after recovery
  std::string ptp4l_identity;  // the clock that answered, "cac1c4.fffe.2d5dc6-0"
};

// For the daemon's JSON status file.
nlohmann::json to_json(const UpdaterStatus& s);
nlohmann::json to_json(const GrandmasterSettings& s);

class GrandmasterUpdater {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Validates the options and binds the client socket; ptp4l need not run.
  // `log` gets one line per incident (state change, new error, new
  // settings), each starting "ptp4l: ".
  static Result<GrandmasterUpdater> create(const Ptp4lOptions& opts, LogFn log = {});

  void tick(const ClockView& view, TimePoint now);
  const UpdaterStatus& status() const { return status_; }

  // At shutdown: tell ptp4l the grandmaster knows nothing (class 248), at
  // once, so it does not keep announcing class 6 for a dead feed.
  Status withdraw();

 private:
  GrandmasterUpdater(const Ptp4lOptions& opts, PmcClient client, LogFn log);
  void sync(const GrandmasterSettings& desired, TimePoint now);
  void fail(const Error& e, TimePoint now);

  Ptp4lOptions opts_;
  MappingOptions mapping_;
  Hysteresis hysteresis_;
  PmcClient client_;
  LogFn log_;
  UpdaterStatus status_;
  bool in_sync_ = false;  // ptp4l confirmed status_.applied and nothing failed since
  std::optional<TimePoint> next_check_;
};

// "class 6 accuracy 0x21 variance 0x5200 utc_offset 37 flags UTC_OFF_VALID|TIME_TRACEABLE|FREQ_TRACEABLE source 0x90"
std::string describe(const GrandmasterSettings& s);

}  // namespace vmc::ptp
