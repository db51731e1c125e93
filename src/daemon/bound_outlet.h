// SPDX-License-Identifier: Apache-2.0
#pragma once
// The published bound's plumbing: opens the segments, vmclockd's own and
// ClockBound's (not fatal when one fails: chrony and ptp4l are fed all the
// same, and the directory may appear later; retried every kRetryNs, but a
// ClockBound segment another writer owns is left to it), owns the command
// client that reads chronyd's TRACKING for it (its own socket, so a
// TRACKING never waits behind a reset), and asks for TRACKING when due.
// A client that cannot be made is retried at each TRACKING due: it takes
// nothing from a bound whose source is the page.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chrony_cmd.h"
#include "config.h"
#include "daemon_bound.h"
#include "logging.h"
#include "page.h"
#include "status_view.h"

namespace vmc {

class BoundOutlet {
 public:
  static constexpr int64_t kRetryNs = 10'000'000'000;

  explicit BoundOutlet(Config cfg) : cfg_(std::move(cfg)) {}
  // The sections it is built from: a reload replaces it when they change.
  static bool same_sections(const Config& a, const Config& b) {
    return a.bound == b.bound && a.clockbound == b.clockbound && a.chrony == b.chrony;
  }

  // Opens the segments when due; reads TRACKING when due; lets the
  // segments rewrite. `last_page`: the latest consistent snapshot, given
  // to a newly made feed.
  void tick(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page);
  // Null until a segment is open.
  BoundFeed* feed() { return feed_.get(); }
  bool is_open() const { return feed_ != nullptr; }
  // The files (and directories) it created, for the privilege hand-over.
  std::vector<std::string> files_made() const;
  int64_t next_due() const;
  std::optional<BoundView> view() const;

 private:
  void open(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page);
  // chronyd's TRACKING can be asked: a command socket, and a source that may be chrony.
  bool tracking_configured() const {
    return !cfg_.chrony.command_socket.empty() && cfg_.bound.source != "page";
  }
  void read_tracking(int64_t mono_ns);
  bool configured() const { return !cfg_.bound.segment.empty() || !cfg_.clockbound.segment.empty(); }

  Config cfg_;
  std::unique_ptr<BoundFeed> feed_;
  std::unique_ptr<chrony::CmdClient> tracking_;
  int64_t next_open_ns_ = 0;
  bool bound_open_ = false, clockbound_open_ = false;
  std::vector<std::string> made_;
  std::string clockbound_why_;  // why the ClockBound segment is not open
  int64_t next_tracking_ns_ = 0;
  log::Incidents incidents_;
};

}  // namespace vmc
