// SPDX-License-Identifier: Apache-2.0
#include "sampler.h"

#include <algorithm>

#include "time_math.h"

namespace vmc {

namespace {
// The fast range: about a day of ticks at 3 GHz, or as much of it as the
// calibration allows (a page the host stopped updating goes through
// time_at() beyond it: exact, only slower).
constexpr unsigned kFastLimitBits[] = {48, 44, 40, 36, 32, 28, 24, 20, 16};
}  // namespace

void Sampler::install(const Page& p, const volatile uint8_t* base, size_t len, bool stable) {
  Calibration& c = cal_;
  c = Calibration{};
  c.base = base;
  c.len = len;
  c.stable = stable;
  c.page = p;
  c.validity = assess(p, native_);
  c.seq = p.seq_count;
  if (!c.validity.ok()) {
    why_not_ = describe(c.validity.reason, p);
    return;
  }
  using abi::Flag;
  c.counter_value = p.counter_value;
  c.time_lo = p.time_frac_sec;
  c.period = p.counter_period_frac_sec;
  c.max_rate = p.counter_period_maxerror_rate_frac_sec;
  c.est_rate = p.counter_period_esterror_rate_frac_sec;
  c.shift = p.counter_period_shift;
  c.max_ns = p.time_maxerror_nanosec;
  c.est_ns = p.time_esterror_nanosec;
  if (p.flags.has(Flag::time_esterror_valid))
    c.est = p.flags.has(Flag::period_esterror_valid) ? Calibration::Est::growing : Calibration::Est::at_counter_value;
  c.leap = leap_of(p.leap_indicator);
  const int64_t adj = c.validity.utc_minus_page_sec;
  if (p.counter_period_shift >= 64 || p.time_sec >= (uint64_t{1} << 33) || static_cast<int64_t>(p.time_sec) + adj < 0)
    return;
  c.time_hi = static_cast<int64_t>(p.time_sec) + adj;
  c.round_up = (uint64_t{1} << c.shift) - 1;
  const uint64_t below_1s = static_cast<uint64_t>(kNsPerSec) - 1;
  for (unsigned bits : kFastLimitBits) {
    // The largest delta of the range, through the exact code: no error, a
    // maxerror, seconds below 2^33, and growths below 1 s (so that the
    // 2^-64 s growth fits 64 bits).
    const uint64_t limit = uint64_t{1} << bits;
    auto t = time_at(p, p.counter_value + limit);
    if (!t || !t->maxerror_ns || t->time.sec.count + adj >= (int64_t{1} << 33)) continue;
    auto gm = error_growth_ns(limit, c.max_rate, c.shift);
    if (!gm || *gm > below_1s) continue;
    if (c.est == Calibration::Est::growing) {
      auto ge = error_growth_ns(limit, c.est_rate, c.shift);
      if (!ge || *ge > below_1s) continue;
    }
    c.fast_end = limit + 1;
    break;
  }
}

bool Sampler::read_fast_guarded(Reading& r) {
  auto v = src_.view();
  if (!v || v->data() != cal_.base || v->size() != cal_.len) return false;
  bool fresh = false;
  // A fault means the file was truncated: the slow path reports it.
  if (!guarded_read([&] { fresh = window(cal_.base, cal_.seq, r); })) return false;
  return fresh;
}

Result<Ok, PageError> Sampler::read_slow(Reading& r) {
  ++slow_reads_;
  cal_.seq = 1;
  // The mapping the snapshot is read from, to recognise it on the next
  // call; a source copying with pread() never takes the fast path.
  const volatile uint8_t* base = nullptr;
  size_t len = 0;
  if (src_.counter_in_window()) {
    auto v = src_.view();
    if (v) {
      base = v->data();
      len = v->size();
    }
  }
  auto s = take_snapshot(src_, lim_);
  if (!s) return s.error();
  r.counter = s->counter;
  r.before = s->before;
  r.after = s->after;
  r.retries = s->retries;
  install(s->page, base, len, src_.mapping_is_stable());
  if (base == nullptr) cal_.seq = 1;  // not a mapping: copy every time
  return Ok{};
}

bool Sampler::compute_slow(const Reading& r, Sample& out) {
  ++fallbacks_;
  if (!cal_.validity.ok()) return false;  // why_not_ set by install()
  auto s = sample_at(cal_.page, cal_.validity, r.counter, r.before, r.after, why_not_);
  if (!s) return false;
  out = *s;
  return true;
}

Result<SampleOutcome, PageError> Sampler::best(unsigned attempts) {
  std::optional<Snapshot> best;
  for (unsigned i = 0; i < std::max(1u, attempts); ++i) {
    Reading r;
    if (!read_fast(r)) {
      if (auto s = read_slow(r); !s) return s.error();
    }
    const int64_t bracket = r.after.ns - r.before.ns;
    if (best && cal_.page.disruption_marker != best->page.disruption_marker) best.reset();
    if (!best || (bracket >= 0 && (best->bracket_ns() < 0 || bracket < best->bracket_ns())))
      best = Snapshot{cal_.page, r.counter, r.before, r.after, r.retries};
  }
  return sample_from(*best, native_);
}

}  // namespace vmc
