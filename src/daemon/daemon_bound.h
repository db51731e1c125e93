// SPDX-License-Identifier: Apache-2.0
#pragma once
// What vmclockd publishes for libvmclock (bound_segment.h) and for AWS
// ClockBound's clients (clockbound_segment.h): the bound on
// the system clock's error, from the daemon's own page samples (|offset|
// + maxerror) or, when the page carries no time, from chronyd's tracking
// (root delay/2 + root dispersion + |current correction|, as AWS
// ClockBound computes it). A disruption voids it at once and until the
// source has measured again under the new marker: from the page, twice,
// because the readers' growth must hold the clock's rate against the page
// as well as max_drift (after a migration that rate is the new host's
// frequency error until chronyd has learnt it; unsteered, it is for ever).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "published_segment.h"
#include "config.h"
#include "page.h"
#include "cross_timestamp.h"
#include "status_view.h"

namespace vmc {

// chronyd's TRACKING reply, the fields the bound needs.
struct TrackingView {
  bool synchronised = false;  // leap_status not "not synchronised", stratum < 16
  int64_t ref_time_ns = 0;    // CLOCK_REALTIME of chronyd's last clock update
  double root_delay_s = 0, root_dispersion_s = 0, current_correction_s = 0;
  // How far chronyd's own frequency estimate may be off (residual + skew):
  // large right after a reset, when a migration may have changed it.
  double freq_uncertainty_ppm = 0;
};

class BoundFeed {
 public:
  explicit BoundFeed(const BoundSection& cfg) : cfg_(cfg) {}
  ~BoundFeed();  // publishes "stopped"

  // A segment that opened: it gets the latest record at once, and every
  // one after.
  void attach(std::unique_ptr<PublishedSegment> seg);
  const std::vector<std::unique_ptr<PublishedSegment>>& segments() const { return segments_; }

  // From the daemon's loop. `page` is the latest consistent snapshot.
  void on_page(const Page& page, int64_t real_ns);
  void on_sample(const Sample& s, abi::ClockStatus status);
  void on_no_sample(const std::string& why, int64_t real_ns);
  void on_disruption(const Page& page, int64_t real_ns);
  void on_reset_done(int64_t real_ns);
  void on_tracking(const TrackingView& t, int64_t asked_real_ns);
  void on_tracking_failed(const std::string& why, int64_t real_ns);

  // True when chronyd's tracking should be read (chrony is the source).
  bool wants_tracking() const;
  int64_t tracking_interval_ns() const { return cfg_.tracking_interval_ms * 1'000'000; }
  BoundView view() const;

 private:
  bool from_chrony() const;
  void put(const bound::Record& r);
  // age_ns: how old as_of already is when published (chronyd's last update).
  void publish(bound::Status st, uint64_t bound_ns, int64_t as_of_ns, std::string why, uint32_t extra_drift_ppb = 0,
               int64_t age_ns = 0);
  bound::Record base(int64_t as_of_ns) const;

  BoundSection cfg_;
  std::vector<std::unique_ptr<PublishedSegment>> segments_;
  bound::Record last_;  // nothing vouched for until the first publish
  bool page_seen_ = false;
  uint64_t marker_ = 0;
  std::optional<uint64_t> generation_;
  // The last sample under marker_: the next one gives the clock's rate.
  struct RatePoint {
    int64_t system_ns = 0, offset_ns = 0, bracket_ns = 0;
  };
  std::optional<RatePoint> rate_from_;
  uint32_t clock_rate_ppb_ = 0;
  bool page_has_time_ = false;
  bool disrupted_ = false;
  int64_t reset_done_ns_ = 0;  // chronyd's view counts again once it updated after this
  std::string why_;
};

}  // namespace vmc
