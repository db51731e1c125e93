#include "bound_outlet.h"

#include "chrony_commands.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "clock.h"

namespace vmc {

void BoundOutlet::tick(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page) {
  if (!feed_) open(mono_ns, real_ns, last_page);
  if (feed_ && tracking_ && feed_->wants_tracking() && mono_ns >= next_tracking_ns_) read_tracking(mono_ns);
}

int64_t BoundOutlet::next_due() const {
  if (cfg_.bound.segment.empty()) return std::numeric_limits<int64_t>::max();
  if (!feed_) return next_open_ns_;
  if (tracking_ && feed_->wants_tracking()) return next_tracking_ns_;
  return std::numeric_limits<int64_t>::max();
}

void BoundOutlet::open(int64_t mono_ns, int64_t real_ns, const std::optional<Page>& last_page) {
  if (cfg_.bound.segment.empty() || mono_ns < next_open_ns_) return;
  next_open_ns_ = mono_ns + kRetryNs;
  auto b = BoundFeed::create(cfg_);
  if (!b) {
    incidents_.fail("bound", "open", b.error().message + "; libvmclock readers get no published bound");
    return;
  }
  std::unique_ptr<chrony::CmdClient> tracking;
  if (!cfg_.chrony.command_socket.empty() && cfg_.bound.source != "page") {
    auto cl = chrony::CmdClient::open(chrony_cmd_options(cfg_.chrony));
    if (!cl) {
      incidents_.fail("bound", "open", cl.error().message + "; no bound from chronyd's tracking");
      return;
    }
    tracking = std::move(*cl);
  }
  incidents_.recover("bound", "open", fmt::format("publishing the bound in {}", cfg_.bound.segment));
  feed_ = std::move(*b);
  tracking_ = std::move(tracking);
  if (last_page) feed_->on_page(*last_page, real_ns);
  next_tracking_ns_ = 0;
}

void BoundOutlet::read_tracking(int64_t mono_ns) {
  next_tracking_ns_ = mono_ns + feed_->tracking_interval_ns();
  // Dated before the question: chronyd's dispersion only grows until it answers.
  const int64_t asked = realtime_now().ns;
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
  if (!feed_) return std::nullopt;
  return feed_->view();
}

}  // namespace vmc
