// SPDX-License-Identifier: Apache-2.0
#include "daemon_bound.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "logging.h"
#include "validity.h"

namespace vmc {

BoundFeed::~BoundFeed() {
  bound::Record r = base(last_.as_of_ns);
  r.status = bound::Status::unknown;
  r.stopped = true;
  put(r);
}

void BoundFeed::attach(std::unique_ptr<PublishedSegment> seg) {
  seg->publish(last_);
  segments_.push_back(std::move(seg));
}

void BoundFeed::put(const bound::Record& r) {
  last_ = r;
  for (auto& s : segments_) s->publish(r);
}

bool BoundFeed::from_chrony() const {
  if (cfg_.source == "chrony") return true;
  if (cfg_.source == "page") return false;
  return !page_has_time_;
}

bool BoundFeed::wants_tracking() const { return from_chrony(); }

bound::Record BoundFeed::base(int64_t as_of_ns) const {
  bound::Record r;
  r.disruption_marker = marker_;
  r.vm_generation = generation_;
  r.as_of_ns = as_of_ns;
  r.max_drift_ppb = static_cast<uint32_t>(cfg_.max_drift_ppb);
  r.from_chrony = from_chrony();
  r.page_watched = page_seen_;
  r.stale_after_ns = cfg_.stale_after_ms * 1'000'000;
  r.void_after_ns = cfg_.void_after_s * 1'000'000'000;
  return r;
}

void BoundFeed::publish(bound::Status st, uint64_t bound_ns, int64_t as_of_ns, std::string why,
                        uint32_t extra_drift_ppb, int64_t age_ns) {
  bound::Record r = base(as_of_ns);
  r.stale_after_ns += age_ns;
  r.void_after_ns += age_ns;
  r.max_drift_ppb = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{r.max_drift_ppb} + extra_drift_ppb, 1'000'000'000));
  r.status = st;
  r.bound_ns = st == bound::Status::synchronized || st == bound::Status::freerunning ? bound_ns : 0;
  put(r);
  why_ = std::move(why);
}

void BoundFeed::on_page(const Page& page, int64_t real_ns) {
  (void)real_ns;
  // A counter the page calibrates: the page is the better source.
  page_has_time_ = assess(page).reason != Unusable::no_counter;
  page_seen_ = true;
  if (page.disruption_marker != marker_) rate_from_.reset();
  marker_ = page.disruption_marker;
  generation_ = page.vm_generation_counter;
}

void BoundFeed::on_disruption(const Page& page, int64_t real_ns) {
  on_page(page, real_ns);
  rate_from_.reset();
  disrupted_ = true;
  reset_done_ns_ = 0;
  publish(bound::Status::disrupted, 0, real_ns, "disruption: waiting for a measurement under the new marker");
}

void BoundFeed::on_reset_done(int64_t real_ns) { reset_done_ns_ = real_ns; }

void BoundFeed::on_sample(const Sample& s, abi::ClockStatus status) {
  if (from_chrony()) return;
  if (s.disruption_marker != marker_) return;
  const RatePoint now{s.system.ns, s.offset.count, s.bracket_ns};
  const auto from = std::exchange(rate_from_, now);
  if (!from || now.system_ns <= from->system_ns) {
    // One sample gives the offset but not how fast it moves: a bound
    // grown by max_drift alone would be walked out of by a clock that
    // drifts faster, so there is none until the next sample.
    if (!disrupted_) publish(bound::Status::unknown, 0, s.system.ns, "measuring the clock's rate against the page");
    return;
  }
  disrupted_ = false;
  // Each offset is uncertain by half its bracket.
  const long double moved = std::fabs(static_cast<long double>(now.offset_ns - from->offset_ns)) +
                            static_cast<long double>(now.bracket_ns + from->bracket_ns) / 2 + 2;
  const long double rate = std::ceil(moved * 1e9L / static_cast<long double>(now.system_ns - from->system_ns));
  clock_rate_ppb_ = rate >= 1e9L ? 1'000'000'000u : static_cast<uint32_t>(rate);
  const uint64_t off = static_cast<uint64_t>(std::llabs(s.offset.count));
  // The sample bounds the system clock at its midpoint: |offset| away
  // from the page's time, which is itself within maxerror of UTC.
  publish(status == abi::ClockStatus::freerunning ? bound::Status::freerunning : bound::Status::synchronized,
          off + s.maxerror_ns + 1, s.system.ns, "", clock_rate_ppb_);
}

void BoundFeed::on_no_sample(const std::string& why, int64_t real_ns) {
  if (from_chrony()) return;
  if (disrupted_) return;  // stays DISRUPTED until a sample under the new marker
  publish(bound::Status::unknown, 0, real_ns, why);
}

void BoundFeed::on_tracking(const TrackingView& t, int64_t asked_real_ns) {
  if (!from_chrony()) return;
  if (!t.synchronised) {
    if (!disrupted_) publish(bound::Status::unknown, 0, asked_real_ns, "chronyd is not synchronised");
    return;
  }
  if (disrupted_) {
    // chronyd's estimate counts again only once it has updated the clock
    // after the reset: before that it describes the old host.
    if (reset_done_ns_ == 0 || t.ref_time_ns <= reset_done_ns_) return;
    disrupted_ = false;
  }
  double b = t.root_delay_s / 2 + t.root_dispersion_s + std::fabs(t.current_correction_s);
  if (!(b >= 0) || b > 1e6) {
    publish(bound::Status::unknown, 0, asked_real_ns, fmt::format("chronyd's bound {} s is not usable", b));
    return;
  }
  // chronyd's correction is what it measured at its last clock update
  // (ref_time): dated there, the readers' growth also covers whatever the
  // clock did since beyond chronyd's own dispersion. Staleness and void
  // count from the question, not from that update.
  const int64_t as_of = t.ref_time_ns > 0 && t.ref_time_ns < asked_real_ns ? t.ref_time_ns : asked_real_ns;
  // The readers grow it by max_drift plus chronyd's own doubt about the
  // frequency, which a reset (a migration) makes large for a while.
  double doubt = std::fabs(t.freq_uncertainty_ppm) * 1e3;
  uint32_t extra = !(doubt >= 0) || doubt > 1e9 ? 1'000'000'000u : static_cast<uint32_t>(std::ceil(doubt));
  publish(bound::Status::synchronized, static_cast<uint64_t>(std::ceil(b * 1e9)), as_of, "", extra,
          asked_real_ns - as_of);
}

void BoundFeed::on_tracking_failed(const std::string& why, int64_t real_ns) {
  if (!from_chrony()) return;
  // Keep the last bound: readers grow it and see it stale, then void.
  // Only a disruption or a bad answer replaces it.
  (void)real_ns;
  why_ = why;
}

BoundView BoundFeed::view() const {
  const auto& r = last_;
  static constexpr const char* kNames[] = {"unknown", "synchronized", "freerunning", "disrupted"};
  BoundView v;
  for (const auto& s : segments_) {
    if (s->kind() == PublishedSegment::Kind::clockbound) v.clockbound = PublishedView{s->path(), s->state()};
    else v.segment = s->path();
  }
  v.source = from_chrony() ? "chrony" : "page";
  v.status = kNames[static_cast<uint32_t>(r.status) & 3u];
  v.bound_ns = r.bound_ns;
  v.max_drift_ppb = r.max_drift_ppb;
  v.clock_rate_ppb = from_chrony() ? 0 : clock_rate_ppb_;
  v.as_of_ns = r.as_of_ns;
  v.disruption_marker = r.disruption_marker;
  if (!why_.empty()) v.why = why_;
  return v;
}

}  // namespace vmc
