// SPDX-License-Identifier: Apache-2.0
#include "sim_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

#include "clock.h"
#include "counter.h"

namespace vmc::sim {

namespace {
// A baseline shorter than this gives a period too noisy to replace the
// one we have (a bracket of 50 ns over 100 ms is already 5e-7).
constexpr int64_t kMinBaselineNs = 100'000'000;
constexpr long double kTwo64 = 18446744073709551616.0L;
}  // namespace

CalPair take_pair(unsigned attempts) {
  CalPair best{};
  best.width_ns = INT64_MAX;
  attempts = std::clamp(attempts, 1u, 1000u);
  for (unsigned i = 0; i < attempts; ++i) {
    int64_t t0 = realtime_now().ns;
    uint64_t c = read_counter();
    int64_t t1 = realtime_now().ns;
    int64_t w = t1 - t0;
    // A negative width is a realtime step inside the bracket: useless.
    if (w >= 0 && w < best.width_ns) best = CalPair{t0 + w / 2, c, w};
  }
  if (best.width_ns == INT64_MAX) {
    // Every bracket straddled a realtime step; take one more, whatever it is.
    int64_t t0 = realtime_now().ns;
    uint64_t c = read_counter();
    best = CalPair{t0, c, INT64_MAX / 4};
  }
  return best;
}

Calibrator::Added Calibrator::add(const CalPair& p) {
  if (hist_.empty()) {
    hist_.push_back(p);
    latest_ = p;
    min_width_ = std::min(min_width_, p.width_ns);
    return Added::baseline;
  }
  min_width_ = std::min(min_width_, p.width_ns);
  if (p.width_ns > accept_width_ns()) return Added::too_wide;
  const int64_t dt = p.rt_ns - latest_.rt_ns;
  const bool backwards = p.counter <= latest_.counter || dt <= 0;
  bool stepped = backwards;
  if (!backwards && period_s_ > 0) {
    // NTP slews CLOCK_REALTIME by at most 500 ppm; more than that against
    // our own line is a step (date -s, chronyd makestep) or a new counter.
    long double dev = static_cast<long double>(p.rt_ns - predict_rt_ns(p.counter));
    long double allowed = lim_.restart_ppm * 1e-6L * static_cast<long double>(dt) +
                          20.0L * static_cast<long double>(accept_width_ns()) + 1000.0L;
    stepped = std::fabs(dev) > allowed;
  }
  if (stepped) {
    hist_.clear();
    hist_.push_back(p);
    latest_ = p;
    ++restarts_;
    // The old period stays until the new baseline is long enough: the
    // counter's rate has not changed, only realtime's origin.
    return Added::restarted;
  }
  latest_ = p;
  if (p.rt_ns - hist_.back().rt_ns >= lim_.history_step_ns) hist_.push_back(p);
  while (hist_.size() > 1 && latest_.rt_ns - hist_[1].rt_ns >= lim_.max_baseline_ns) hist_.pop_front();
  recompute();
  return Added::refined;
}

void Calibrator::recompute() {
  const CalPair& first = hist_.front();
  int64_t dt = latest_.rt_ns - first.rt_ns;
  if (latest_.counter <= first.counter || dt <= 0) return;
  if (period_s_ > 0 && dt < kMinBaselineNs) return;
  period_s_ = static_cast<long double>(dt) * 1e-9L / static_cast<long double>(latest_.counter - first.counter);
}

int64_t Calibrator::predict_rt_ns(uint64_t c) const { return FrozenLine(latest_, period_s_).rt_ns_at(c); }

Result<FrozenLine> FrozenLine::freeze(const Calibrator& cal) {
  if (!cal.ready()) return make_error(Errc::software, "counter calibration failed: nothing to freeze");
  return FrozenLine(cal.latest(), cal.period_s());
}

int64_t FrozenLine::rt_ns_at(uint64_t c) const {
  auto delta = static_cast<int64_t>(c - anchor_.counter);
  return anchor_.rt_ns + static_cast<int64_t>(std::llroundl(static_cast<long double>(delta) * period_s_ * 1e9L));
}

long double FixedPeriod::seconds() const { return std::ldexp(static_cast<long double>(frac), -(64 + shift)); }

Result<FixedPeriod> to_fixed_period(long double seconds) {
  if (!(seconds > 0) || seconds >= 1)
    return make_error(Errc::software, fmt::format("counter period {} s is not in (0, 1)", static_cast<double>(seconds)));
  int e = 0;
  long double m = std::frexp(seconds, &e);  // seconds = m * 2^e, m in [0.5, 1)
  int shift = -e;
  long double f = std::floor(std::ldexp(m, 64) + 0.5L);
  if (f >= kTwo64) {
    // m rounded up to 1: one bit less of shift keeps frac below 2^64.
    shift -= 1;
    f = std::floor(std::ldexp(m, 63) + 0.5L);
  }
  if (shift < 0 || shift > 255)
    return make_error(Errc::software,
                      fmt::format("counter period {} s needs shift {}, outside 0..255", static_cast<double>(seconds), shift));
  return FixedPeriod{static_cast<uint64_t>(f), static_cast<uint8_t>(shift)};
}

uint64_t ppb_to_rate(double ppb, const FixedPeriod& period) {
  long double r = std::floor(static_cast<long double>(ppb) * 1e-9L * static_cast<long double>(period.frac) + 0.5L);
  if (r <= 0) return 0;
  if (r >= kTwo64) return UINT64_MAX;
  return static_cast<uint64_t>(r);
}

Fix64 fix64_from_ns(int64_t ns) {
  int64_t sec = ns / kNsPerSec;
  int64_t rem = ns % kNsPerSec;
  if (rem < 0) { rem += kNsPerSec; sec -= 1; }
  u128 frac = (static_cast<u128>(static_cast<uint64_t>(rem)) << 64) / static_cast<u128>(kNsPerSec);
  return static_cast<Fix64>(sec) * (static_cast<Fix64>(1) << 64) + static_cast<Fix64>(frac);
}

long double fix64_to_ns(Fix64 t) { return static_cast<long double>(t) * 1e9L / kTwo64; }

Fix64 Truth::offset_at(int64_t rt_ns) const {
  long double drift_units = static_cast<long double>(drift_ppm) * 1e-6L * static_cast<long double>(rt_ns - ref_rt_ns) *
                            kTwo64 / 1e9L;
  return fix64_from_ns(offset_ns) + static_cast<Fix64>(std::floor(drift_units + 0.5L));
}

int64_t Truth::offset_ns_at(int64_t rt_ns) const {
  return offset_ns + static_cast<int64_t>(std::llroundl(static_cast<long double>(drift_ppm) * 1e-6L *
                                                         static_cast<long double>(rt_ns - ref_rt_ns)));
}

void Truth::rebase(int64_t rt_ns) {
  offset_ns = offset_ns_at(rt_ns);
  ref_rt_ns = rt_ns;
}

void Truth::step(int64_t rt_ns, int64_t offset_step_ns, double drift_step_ppm) {
  rebase(rt_ns);
  offset_ns += offset_step_ns;
  drift_ppm += drift_step_ppm;
}

int64_t tai_minus_utc_s(const HostState& h) { return h.tai_offset ? std::abs(*h.tai_offset) : 37; }

Page header_page(const HostState& h) {
  using abi::Flag;
  Page p;
  p.size = h.size;
  p.counter_id = h.counter_id;
  p.time_type = h.time_type;
  p.clock_status = h.status;
  p.smearing_hint = h.smearing;
  p.leap_indicator = h.leap;
  p.disruption_marker = h.marker;
  abi::Flags f{};
  if (h.generation_present) {
    f = f.with(Flag::vm_gen_counter_present);
    p.vm_generation_counter = h.generation;
  }
  if (h.notification_present) f = f.with(Flag::notification_present);
  if (h.disruption_soon) f = f.with(Flag::disruption_soon);
  if (h.disruption_imminent) f = f.with(Flag::disruption_imminent);
  if (h.tai_offset) {
    f = f.with(Flag::tai_offset_valid);
    p.tai_offset_sec = *h.tai_offset;
  }
  if (!h.disruption_only) {
    if (h.maxerror_ns) {
      f = f.with(Flag::time_maxerror_valid);
      p.time_maxerror_nanosec = *h.maxerror_ns;
    }
    if (h.esterror_ns) {
      f = f.with(Flag::time_esterror_valid);
      p.time_esterror_nanosec = *h.esterror_ns;
    }
    // The host promises never to go back only for a monotonic time type.
    if (h.time_type == abi::TimeType::monotonic) f = f.with(Flag::time_monotonic);
  }
  p.flags = f;
  return p;
}

Result<Page> build_page(const HostState& h, const Truth& truth, long double rt_period_s, uint64_t anchor_counter,
                        int64_t anchor_rt_ns) {
  Page p = header_page(h);
  if (h.disruption_only) return p;
  auto period = to_fixed_period(rt_period_s * (1.0L + static_cast<long double>(truth.drift_ppm) * 1e-6L));
  if (!period) return period.error();
  p.counter_period_frac_sec = period->frac;
  p.counter_period_shift = period->shift;
  if (h.period_maxerror_ppb) {
    p.flags = p.flags.with(abi::Flag::period_maxerror_valid);
    p.counter_period_maxerror_rate_frac_sec = ppb_to_rate(*h.period_maxerror_ppb, *period);
  }
  if (h.period_esterror_ppb) {
    p.flags = p.flags.with(abi::Flag::period_esterror_valid);
    p.counter_period_esterror_rate_frac_sec = ppb_to_rate(*h.period_esterror_ppb, *period);
  }
  Fix64 t = truth.page_time_at(anchor_rt_ns);
  if (t < 0)
    return make_error(Errc::data, fmt::format("offset {} ns puts the page's {} time before its epoch",
                                              truth.offset_ns_at(anchor_rt_ns), abi::name(h.time_type)));
  p.counter_value = anchor_counter;
  p.time_sec = static_cast<uint64_t>(t >> 64);
  p.time_frac_sec = static_cast<uint64_t>(t);
  return p;
}

namespace {
std::string normalize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '-') c = '_';
    else if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
}  // namespace

std::optional<abi::CounterId> parse_counter_id(std::string_view s, abi::CounterId native) {
  auto n = normalize(s);
  if (n == "x86_tsc" || n == "tsc") return abi::CounterId::x86_tsc;
  if (n == "arm_vcnt" || n == "vcnt") return abi::CounterId::arm_vcnt;
  if (n == "invalid") return abi::CounterId::invalid;
  if (n == "native") return native;
  return std::nullopt;
}

std::optional<abi::TimeType> parse_time_type(std::string_view s) {
  auto n = normalize(s);
  if (n == "utc") return abi::TimeType::utc;
  if (n == "tai") return abi::TimeType::tai;
  if (n == "monotonic") return abi::TimeType::monotonic;
  if (n == "smeared" || n == "invalid_smeared") return abi::TimeType::invalid_smeared;
  if (n == "maybe_smeared" || n == "invalid_maybe_smeared") return abi::TimeType::invalid_maybe_smeared;
  return std::nullopt;
}

std::optional<abi::ClockStatus> parse_status(std::string_view s) {
  auto n = normalize(s);
  for (auto v : {abi::ClockStatus::unknown, abi::ClockStatus::initializing, abi::ClockStatus::synchronized,
                 abi::ClockStatus::freerunning, abi::ClockStatus::unreliable})
    if (n == abi::name(v)) return v;
  return std::nullopt;
}

std::optional<abi::LeapIndicator> parse_leap(std::string_view s) {
  auto n = normalize(s);
  for (auto v : {abi::LeapIndicator::none, abi::LeapIndicator::pre_pos, abi::LeapIndicator::pre_neg,
                 abi::LeapIndicator::pos, abi::LeapIndicator::post_pos, abi::LeapIndicator::post_neg})
    if (n == abi::name(v)) return v;
  return std::nullopt;
}

std::optional<abi::SmearingHint> parse_smearing(std::string_view s) {
  auto n = normalize(s);
  for (auto v : {abi::SmearingHint::strict, abi::SmearingHint::noon_linear, abi::SmearingHint::utc_sls})
    if (n == abi::name(v)) return v;
  return std::nullopt;
}

}  // namespace vmc::sim
