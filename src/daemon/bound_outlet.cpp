// SPDX-License-Identifier: Apache-2.0
#include "bound_outlet.h"

#include "chrony_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "clock.h"
#include "bound_publisher.h"
#include "clockbound_publisher.h"
#include "logging.h"

namespace vmc {

void BoundOutlet::tick(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page) {
  if (mono_ns >= next_open_ns_) open(mono_ns, real_ns, last_page);
  if (!feed_) return;
  if (tracking_configured() && feed_->wants_tracking() && mono_ns >= next_tracking_ns_) read_tracking(mono_ns);
  for (const auto& s : feed_->segments())
    if (mono_ns >= s->next_due()) s->tick(mono_ns);
}

int64_t BoundOutlet::next_due() const {
  int64_t next = std::numeric_limits<int64_t>::max();
  if (!configured()) return next;
  if ((!cfg_.bound.segment.empty() && !bound_open_) || (!cfg_.clockbound.segment.empty() && !clockbound_open_))
    next = next_open_ns_;
  if (!feed_) return next;
  if (tracking_configured() && feed_->wants_tracking()) next = std::min(next, next_tracking_ns_);
  for (const auto& s : feed_->segments()) next = std::min(next, s->next_due());
  return next;
}

std::vector<std::string> BoundOutlet::files_made() const {
  std::vector<std::string> out = made_;
  if (feed_)
    for (const auto& s : feed_->segments()) out.push_back(s->path());
  return out;
}

void BoundOutlet::open(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page) {
  const bool want_bound = !cfg_.bound.segment.empty() && !bound_open_;
  const bool want_cb = !cfg_.clockbound.segment.empty() && !clockbound_open_;
  if (!want_bound && !want_cb) return;
  next_open_ns_ = mono_ns + kRetryNs;
  if (!feed_) {
    feed_ = std::make_unique<BoundFeed>(cfg_.bound);
    if (last_page) feed_->on_page(*last_page, real_ns);
    next_tracking_ns_ = 0;
  }
  if (want_bound) {
    if (auto p = BoundPublisher::open(cfg_.bound.segment); !p) {
      incidents_.fail("bound", "open", p.error().message + "; libvmclock readers get no published bound");
    } else {
      incidents_.recover("bound", "open", fmt::format("publishing the bound in {}", cfg_.bound.segment));
      log::info("bound", fmt::format("publishing the bound for libvmclock in {} (source {})", cfg_.bound.segment,
                                     cfg_.bound.source));
      feed_->attach(std::move(*p));
      bound_open_ = true;
    }
  }
  if (want_cb) {
    if (auto p = ClockBoundPublisher::open(cfg_.clockbound.segment, mono_ns); !p) {
      incidents_.fail("clockbound", "clockbound-open", p.error().message);
      clockbound_why_ = p.error().message;
    } else {
      incidents_.recover("clockbound", "clockbound-open",
                         fmt::format("{}: the ClockBound segment opened", cfg_.clockbound.segment));
      if (!(*p)->made_directory().empty()) made_.push_back((*p)->made_directory());
      feed_->attach(std::move(*p));
      clockbound_open_ = true;
    }
  }
}

void BoundOutlet::read_tracking(int64_t mono_ns) {
  next_tracking_ns_ = mono_ns + feed_->tracking_interval_ns();
  // Dated before the question: chronyd's dispersion only grows until it answers.
  const int64_t asked = realtime_now().ns;
  if (!tracking_) {
    auto cl = chrony::CmdClient::open(chrony_cmd_options(cfg_.chrony));
    if (!cl) {
      incidents_.fail("chrony", "tracking", cl.error().message + "; no bound from chronyd's tracking");
      feed_->on_tracking_failed(cl.error().message, asked);
      return;
    }
    tracking_ = std::move(*cl);
  }
  auto t = tracking_->tracking();
  if (!t) {
    incidents_.fail("chrony", "tracking", fmt::format("TRACKING failed: {}", t.error().message));
    feed_->on_tracking_failed(t.error().message, asked);
    return;
  }
  incidents_.recover("chrony", "tracking", "chronyd answers TRACKING again");
  TrackingView v;
  constexpr uint16_t kLeapUnsynchronised = 3;
  v.synchronised = t->leap_status != kLeapUnsynchronised && t->stratum > 0 && t->stratum < 16;
  v.ref_time_ns = t->ref_time_sec * kNsPerSec + t->ref_time_nsec;
  v.root_delay_s = t->root_delay;
  v.root_dispersion_s = t->root_dispersion;
  v.current_correction_s = t->current_correction;
  v.freq_uncertainty_ppm = std::fabs(t->resid_freq_ppm) + std::fabs(t->skew_ppm);
  feed_->on_tracking(v, asked);
}

std::optional<BoundView> BoundOutlet::view() const {
  // Published nowhere (every segment failed to open): nothing to report
  // as a bound, whatever the feed computes.
  if (!feed_ || feed_->segments().empty()) return std::nullopt;
  BoundView v = feed_->view();
  if (!cfg_.clockbound.segment.empty() && !clockbound_open_)
    v.clockbound = PublishedView{cfg_.clockbound.segment, "not open: " + clockbound_why_};
  return v;
}

}  // namespace vmc
