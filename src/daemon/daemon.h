#pragma once
// vmclockd's loop: watch the page, sample it, feed chrony's sinks, and on
// a disruption drop every stale sample and make chrony drop its own.
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chrony_cmd.h"
#include "config.h"
#include "disruption.h"
#include "logging.h"
#include "page_source.h"
#include "sampler.h"
#include "sink.h"

namespace vmc {

class Ptp4lFeed;  // daemon_ptp4l.cpp
class BoundFeed;  // daemon_bound.cpp

// What the daemon tells the world; one word each (status file, sd_notify).
enum class DaemonState { starting, synced, no_data, disrupted, paused };
std::string_view name(DaemonState s);

struct DaemonCounters {
  uint64_t samples_sent = 0;
  uint64_t samples_refused = 0;
  uint64_t disruptions_seen = 0;
  uint64_t resets_sent = 0;
  uint64_t resets_failed = 0;
  uint64_t page_errors = 0;
  uint64_t config_reloads = 0;
};

struct DisruptionRecord {
  int64_t system_ns = 0;
  std::optional<uint64_t> old_marker, new_marker, old_generation, new_generation;
  std::optional<int64_t> reset_latency_ns;  // detection to chronyd's reply
};

class Daemon {
 public:
  // `page_override` is --page: it wins over [source] page on every reload.
  Daemon(Config cfg, std::string config_path, std::optional<std::string> page_override);
  ~Daemon();

  // Opens the page, the sinks and the command client. A missing page is
  // not fatal (the daemon waits for it); a bad config value is.
  Status setup();
  // Runs until SIGTERM/SIGINT; SIGHUP reloads the configuration.
  int run();

 private:
  struct Clock {
    int64_t mono_ns;
    SysTime real;
  };
  static Clock now();
  static int64_t mono_now();
  // The 5 ms fast path: has seq_count moved since the last snapshot?
  bool page_moved();
  void watch_tick(const Clock& c);
  // Everything but the marker watch: sampling, chrony, ptp4l, the bound,
  // the reports, the watchdog. Returns when it is next due.
  int64_t housekeeping(const Clock& c);
  // Sleeps until `wake` (CLOCK_MONOTONIC) or a signal or notification;
  // false once SIGTERM/SIGINT arrived.
  bool sleep_until(int64_t wake, int64_t now_ns);
  bool handle_signal(uint32_t signo);
  void sample_tick(const Clock& c);
  void handle_snapshot_events(const Page& p, const Clock& c);
  void on_disruption(const std::vector<DisruptionEvent>& ev, const Clock& c);
  void try_reset(const Clock& c);
  void makestep_tick(const Clock& c);
  void tracking_tick(const Clock& c);
  void open_bound(const Clock& c);
  void set_state(DaemonState s, std::string reason);
  void withdraw_all();
  void reload();
  Status open_source();
  Status build_sinks(const Config& old, bool first);
  void write_reports(const Clock& c, bool force);
  std::string status_json(const Clock& c) const;
  std::string metrics_text() const;

  Config cfg_;
  std::string config_path_;
  std::optional<std::string> page_override_;
  std::unique_ptr<PageSource> source_;
  std::vector<std::unique_ptr<chrony::SampleSink>> sinks_;
  std::unique_ptr<chrony::CmdClient> cmd_;
  std::unique_ptr<Ptp4lFeed> ptp_;
  std::unique_ptr<BoundFeed> bound_;
  std::unique_ptr<chrony::CmdClient> tracking_cmd_;  // its own socket: never waits behind a reset
  DisruptionTracker tracker_;
  log::Incidents incidents_;

  DaemonState state_ = DaemonState::starting;
  std::string reason_;
  std::optional<Page> last_page_;
  std::optional<Sample> last_sample_;  // the last one sent to chrony
  std::optional<Sample> ptp_sample_;   // the page's latest good sample, any maxerror
  std::optional<uint32_t> last_seq_;
  DaemonCounters counters_;
  std::optional<DisruptionRecord> last_disruption_;
  bool reset_pending_ = false;
  bool page_stuck_ = false;
  int64_t reset_pending_since_ns_ = 0;
  int64_t disruption_detected_mono_ns_ = 0;
  // MAKESTEP is only useful once chronyd has measured the new offset, which
  // takes a few seconds after a reset: it is sent at these delays.
  std::vector<int64_t> makestep_due_ns_;
  int64_t next_sample_ns_ = 0;
  int64_t next_watch_ns_ = 0;
  int64_t next_work_ns_ = 0;  // housekeeping's next deadline; 0: at once
  int64_t next_report_ns_ = 0;
  int64_t next_tracking_ns_ = 0;
  int64_t next_bound_open_ns_ = 0;
  int64_t last_watchdog_ns_ = 0;
  uint64_t watchdog_usec_ = 0;
  bool reports_dirty_ = true;
  int sig_fd_ = -1;
  sigset_t sig_set_{};
};

}  // namespace vmc
