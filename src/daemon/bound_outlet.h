#pragma once
// The published bound's plumbing: opens the segment (not fatal when it
// fails: chrony and ptp4l are fed all the same, and the directory may
// appear later; retried every kRetryNs), owns the command client that
// reads chronyd's TRACKING for it (its own socket, so a TRACKING never
// waits behind a reset), and asks for TRACKING when due.
#include <cstdint>
#include <memory>
#include <optional>

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
  static bool same_sections(const Config& a, const Config& b) { return a.bound == b.bound && a.chrony == b.chrony; }

  // Opens the segment when due; reads TRACKING when due. `last_page`: the
  // latest consistent snapshot, given to a newly opened feed.
  void tick(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page);
  // Null until the segment is open.
  BoundFeed* feed() { return feed_.get(); }
  bool is_open() const { return feed_ != nullptr; }
  int64_t next_due() const;
  std::optional<BoundView> view() const;

 private:
  void open(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page);
  void read_tracking(int64_t mono_ns);

  Config cfg_;
  std::unique_ptr<BoundFeed> feed_;
  std::unique_ptr<chrony::CmdClient> tracking_;
  int64_t next_open_ns_ = 0;
  int64_t next_tracking_ns_ = 0;
  log::Incidents incidents_;
};

}  // namespace vmc
