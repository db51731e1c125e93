// SPDX-License-Identifier: Apache-2.0
#pragma once
// vmclockd's loop: watch the page, sample it, feed chrony (and ptp4l and
// the published bound), and on a disruption drop every stale sample and
// make chrony drop its own. The pieces own their state: the page
// (page_reader.h), the sample gate (sample_gate.h), the chrony reset
// (chrony_reset.h), the outputs (outputs.h, bound_outlet.h), the reports
// (reports.h) and the sleep (signal_wait.h); this class wires them.
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bound_outlet.h"
#include "chrony_reset.h"
#include "config.h"
#include "daemon_state.h"
#include "disruption.h"
#include "logging.h"
#include "outputs.h"
#include "page_reader.h"
#include "reports.h"
#include "sample_gate.h"
#include "signal_wait.h"
#include "status_view.h"

namespace vmc {

class Daemon {
 public:
  // `page_override` is --page: it wins over [source] page on every reload.
  // `opener` turns the page's path into a source (tests give it fds that
  // behave like each kernel's device).
  Daemon(Config cfg, std::string config_path, std::optional<std::string> page_override,
         PageOpener opener = open_page_source);
  ~Daemon();

  // Opens the page, the outputs and the signals. A missing page is not
  // fatal (the daemon waits for it); an output that cannot be built is.
  Status setup();
  // Runs until SIGTERM/SIGINT; SIGHUP reloads the configuration. Is
  // begin(), step() until it returns false, then finish().
  int run();
  // The first sample and reports; READY=1.
  void begin();
  // One pass of the loop: the due work, then one sleep. False once a
  // signal asked to stop.
  bool step();
  // STOPPING=1, outputs withdrawn, the last report. The exit code.
  int finish();
  const StatusCounters& counters() const { return counters_; }
  // Files setup() made that the daemon goes on writing (privdrop.h's
  // hand_over() gives them to daemon.user before the drop).
  std::vector<std::string> files_made() const;

 private:
  struct Now {
    int64_t mono_ns;
    SysTime real;
  };
  static Now now();

  void watch_tick(const Now& c);
  // Everything but the marker watch: sampling, the reset, ptp4l, the
  // bound, the reports, the watchdog. Returns when it is next due.
  int64_t housekeeping(const Now& c);
  void sample_tick(const Now& c);
  void page_error(const Error& e, const Now& c);
  void on_snapshot(const Page& p, const Now& c);
  void on_disruption(const std::vector<DisruptionEvent>& ev, const Now& c);
  void reset_tick(const Now& c);
  void set_state(DaemonState s, std::string reason);
  void reload();
  StatusView view(const Now& c) const;
  void open_bound(const Now& c);

  Config cfg_;
  std::string config_path_;
  std::optional<std::string> page_override_;
  PageOpener opener_;
  PageReader page_;
  DisruptionTracker tracker_;
  Outputs out_;
  ChronyReset reset_;
  std::unique_ptr<BoundOutlet> bound_;
  Reports reports_;
  SignalWait wait_;
  log::Incidents incidents_;

  DaemonState state_ = DaemonState::starting;
  std::string reason_;
  std::optional<Page> last_page_;
  std::optional<Sample> last_sample_;  // the last one sent to chrony
  std::optional<Sample> usable_;       // the page's latest good sample, any maxerror (ptp4l)
  StatusCounters counters_;
  std::optional<DisruptionView> last_disruption_;

  int64_t next_sample_ns_ = 0;
  int64_t next_watch_ns_ = 0;
  int64_t next_work_ns_ = 0;  // housekeeping's next deadline; 0: at once
  int64_t next_reset_ns_ = std::numeric_limits<int64_t>::max();  // of which the reset's (retries do not wait for a watch tick)
  int64_t last_watchdog_ns_ = 0;
  uint64_t watchdog_usec_ = 0;
};

}  // namespace vmc
