// SPDX-License-Identifier: Apache-2.0
#pragma once
// The chrony reset after a disruption, as one state machine: RESET_SOURCES
// at once (so chronyd drops every sample taken under the old counter),
// retried with backoff while chronyd does not answer and given up after
// kGiveUpNs (samples are still good; chronyd may simply not run); then
// BURST (new NTP measurements at once) and, for snapshot restores,
// MAKESTEP at delays by which chronyd has measured the new offset. One
// log line per incident, not one per attempt.
#include <cstdint>
#include <optional>
#include <vector>

#include "clock.h"
#include "logging.h"
#include "result.h"

namespace vmc {

// What the reset needs of chronyd's command socket; chrony::CmdClient in
// the daemon (chrony_commands.h), a fake in unit tests.
class ChronyCommands {
 public:
  enum class BurstOutcome { done, no_ntp_source, refused };
  virtual ~ChronyCommands() = default;
  virtual Status reset_sources() = 0;
  // refused: chronyd answered with a status other than success or
  // NOSUCHSOURCE (it has refclocks only); `refused_status` names it.
  virtual Result<BurstOutcome> burst(std::string& refused_status) = 0;
  virtual Status make_step() = 0;
};

struct ResetPolicy {
  bool burst = true;
  bool makestep = false;
  bool operator==(const ResetPolicy&) const = default;
};

class ChronyReset {
 public:
  static constexpr int64_t kFirstRetryNs = 10'000'000;   // then doubling ...
  static constexpr int64_t kMaxRetryNs = 1'000'000'000;  // ... up to this
  static constexpr int64_t kGiveUpNs = 10'000'000'000;
  // After a reset chronyd needs a burst's worth of NTP measurements
  // (iburst: ~2 s apart) before a step has anything to correct; later
  // steps catch estimates that were still settling.
  static constexpr int64_t kMakestepDelaysNs[] = {3'000'000'000, 6'000'000'000, 12'000'000'000};

  struct Done {
    int64_t latency_ns;  // from the disruption to chronyd's reply
  };

  // `cmds` null: nobody is reset (reset_on_disruption off, no command
  // socket). `clock` (CLOCK_MONOTONIC, ns) dates chronyd's reply; unit
  // tests give their own.
  using Clock = int64_t (*)();
  ChronyReset(ChronyCommands* cmds, ResetPolicy policy, Clock clock = mono_now_ns)
      : cmds_(cmds), policy_(policy), clock_(clock) {}

  // A reload's new client; null drops a pending reset and the steps: with
  // nobody to reset, samples flow again.
  void set_commands(ChronyCommands* cmds) {
    cmds_ = cmds;
    if (!cmds_) {
      pending_ = false;
      makestep_due_ns_.clear();
    }
  }
  void set_policy(ResetPolicy p) { policy_ = p; }
  bool resets() const { return cmds_ != nullptr; }

  // A disruption was seen at `mono_ns`: a reset is due at once (again, if
  // one was still pending).
  void disrupted(int64_t mono_ns);
  // Runs what is due: the reset (unless `hold`: the marker is about to
  // change again) and makesteps. Returns the reset's completion when this
  // call completed it.
  std::optional<Done> tick(int64_t mono_ns, bool hold = false);

  // A reset is due or being retried: chronyd still holds stale samples.
  bool pending() const { return pending_; }
  // When tick(`hold`) next has something to do; INT64_MAX when nothing.
  int64_t next_due(bool hold = false) const;
  uint64_t sent() const { return sent_; }
  uint64_t failed() const { return failed_; }

 private:
  std::optional<Done> attempt(int64_t mono_ns);

  ChronyCommands* cmds_;
  ResetPolicy policy_;
  Clock clock_;
  bool pending_ = false;
  int64_t disrupted_ns_ = 0;
  int64_t next_try_ns_ = 0;
  int64_t backoff_ns_ = kFirstRetryNs;
  std::vector<int64_t> makestep_due_ns_;
  uint64_t sent_ = 0, failed_ = 0;
  log::Incidents incidents_;
};

}  // namespace vmc
