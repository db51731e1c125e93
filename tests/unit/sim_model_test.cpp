// SPDX-License-Identifier: Apache-2.0
// The simulator's arithmetic: calibration, fixed-point period, truth, page.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "page_writer.h"
#include "sim_model.h"
#include "time_math.h"

using namespace vmc;
using namespace vmc::sim;

namespace {

// Deterministic jitter in [-amp, amp]: tests must not be flaky.
struct Lcg {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  int64_t jitter(int64_t amp) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int64_t>((s >> 33) % static_cast<uint64_t>(2 * amp + 1)) - amp;
  }
};

constexpr long double kHz = 3'123'456'789.0L;
constexpr long double kPeriod = 1.0L / kHz;
constexpr int64_t kRt0 = 1'795'000'000'000'000'000LL;
constexpr uint64_t kC0 = 1'000'000'000'000ull;

CalPair pair_at(int64_t t_ns, int64_t jitter_ns, int64_t width = 40) {
  uint64_t c = kC0 + static_cast<uint64_t>(std::llroundl(static_cast<long double>(t_ns) * 1e-9L * kHz));
  return CalPair{kRt0 + t_ns + jitter_ns, c, width};
}

long double rel_err(long double a, long double b) { return std::fabs(a / b - 1.0L); }

}  // namespace

TEST_CASE("to_fixed_period keeps 64 significant bits") {
  for (long double s : {kPeriod, 1.0L / 24e6L, 1e-9L, 0.25L, 0.75L, 1e-15L, 0.999999L}) {
    auto p = to_fixed_period(s);
    REQUIRE(p);
    CHECK(p->frac >= (1ull << 63));
    CHECK(rel_err(p->seconds(), s) < 1e-18L);
  }
  CHECK_FALSE(to_fixed_period(0));
  CHECK_FALSE(to_fixed_period(-1e-9L));
  CHECK_FALSE(to_fixed_period(1.0L));
  CHECK_FALSE(to_fixed_period(NAN));
  auto tsc = to_fixed_period(kPeriod);
  REQUIRE(tsc);
  CHECK(tsc->shift == 31);  // 3.1 GHz: 2^-32 < period < 2^-31
}

TEST_CASE("ppb_to_rate is a fraction of the period in the period's unit") {
  auto p = to_fixed_period(kPeriod);
  REQUIRE(p);
  uint64_t r = ppb_to_rate(100, *p);
  CHECK(std::fabs(static_cast<long double>(r) / static_cast<long double>(p->frac) - 1e-7L) < 1e-15L);
  CHECK(ppb_to_rate(0, *p) == 0);
  // The error bound after one second of ticks is the rate times a second.
  auto g = error_growth_ns(static_cast<uint64_t>(kHz), r, p->shift);
  REQUIRE(g);
  CHECK(*g >= 100);
  CHECK(*g <= 101);
}

TEST_CASE("calibration converges with a growing baseline") {
  Lcg rng;
  Calibrator cal;
  CHECK(cal.add(pair_at(0, rng.jitter(20))) == Calibrator::Added::baseline);
  CHECK_FALSE(cal.ready());
  CHECK(cal.add(pair_at(250'000'000, rng.jitter(20))) == Calibrator::Added::refined);
  REQUIRE(cal.ready());
  // 40 ns of bracket noise over 250 ms.
  CHECK(rel_err(cal.period_s(), kPeriod) < 2e-7L);
  for (int i = 1; i <= 5; ++i) cal.add(pair_at(i * kNsPerSec, rng.jitter(20)));
  CHECK(std::llabs(cal.baseline_ns() - 5 * kNsPerSec) <= 40);
  CHECK(rel_err(cal.period_s(), kPeriod) < 1e-8L);
  for (int i = 6; i <= 30; ++i) cal.add(pair_at(i * kNsPerSec, rng.jitter(20)));
  CHECK(rel_err(cal.period_s(), kPeriod) < 2e-9L);
  // The line through the latest pair predicts realtime within the noise.
  int64_t t = 30 * kNsPerSec + 500'000'000;
  CHECK(std::llabs(cal.predict_rt_ns(pair_at(t, 0).counter) - (kRt0 + t)) < 60);
}

TEST_CASE("calibration baseline is capped so that it follows realtime's frequency") {
  Calibrator cal(Calibrator::Limits{10 * kNsPerSec, kNsPerSec, 1000});
  for (int i = 0; i <= 100; ++i) cal.add(pair_at(i * kNsPerSec, 0));
  CHECK(cal.baseline_ns() >= 9 * kNsPerSec);
  CHECK(cal.baseline_ns() <= 11 * kNsPerSec);
  CHECK(rel_err(cal.period_s(), kPeriod) < 1e-12L);
}

TEST_CASE("calibration rejects wide brackets and restarts on a realtime step") {
  Calibrator cal;
  cal.add(pair_at(0, 0, 40));
  cal.add(pair_at(kNsPerSec, 0, 40));
  long double before = cal.period_s();
  CHECK(cal.add(pair_at(2 * kNsPerSec, 5000, 100'000)) == Calibrator::Added::too_wide);
  CHECK(cal.period_s() == before);
  // date -s: realtime jumps 1 s while the counter goes on.
  CHECK(cal.add(pair_at(3 * kNsPerSec, kNsPerSec, 40)) == Calibrator::Added::restarted);
  CHECK(cal.restarts() == 1);
  CHECK(cal.period_s() == before);  // the counter's rate did not change
  // A short baseline after the restart does not replace the period.
  cal.add(pair_at(3 * kNsPerSec + 1'000'000, kNsPerSec + 30, 40));
  CHECK(cal.period_s() == before);
  cal.add(pair_at(5 * kNsPerSec, kNsPerSec, 40));
  CHECK(rel_err(cal.period_s(), kPeriod) < 1e-9L);
}

TEST_CASE("fixed truth: the frozen line does not move when CLOCK_REALTIME is stepped or slewed afterwards") {
  Lcg rng;
  Calibrator cal;
  for (int i = 0; i <= 3; ++i) cal.add(pair_at(i * kNsPerSec, rng.jitter(20)));
  auto line = FrozenLine::freeze(cal);
  REQUIRE(line);
  const FrozenLine before = *line;
  auto on_line = [&](int64_t t) { return line->rt_ns_at(pair_at(t, 0).counter); };
  // The line is the calibration's: within the noise of the true line.
  CHECK(std::llabs(on_line(10 * kNsPerSec) - (kRt0 + 10 * kNsPerSec)) < 100);
  const int64_t at_20s = on_line(20 * kNsPerSec);

  // What the running simulator without --fixed-truth does: keep feeding the
  // calibration from CLOCK_REALTIME. A chronyd slews it 500 ppm for 10 s,
  // then somebody steps it back 1 ms. The calibration follows both...
  for (int i = 4; i <= 14; ++i)
    cal.add(pair_at(i * kNsPerSec, static_cast<int64_t>(std::llround(500e-6 * static_cast<double>((i - 4) * kNsPerSec)))));
  CHECK(std::llabs(cal.predict_rt_ns(pair_at(14 * kNsPerSec, 0).counter) - (kRt0 + 14 * kNsPerSec + 5'000'000)) < 100);
  CHECK(cal.add(pair_at(15 * kNsPerSec, 5'000'000 - 1'000'000 + 500'000)) == Calibrator::Added::refined);
  CHECK(cal.add(pair_at(16 * kNsPerSec, -1'000'000)) == Calibrator::Added::restarted);
  CHECK(std::llabs(cal.predict_rt_ns(pair_at(16 * kNsPerSec, 0).counter) - (kRt0 + 16 * kNsPerSec - 1'000'000)) < 100);
  // ... the frozen line does not: not its anchor, not its rate, not one ns.
  CHECK(line->anchor().counter == before.anchor().counter);
  CHECK(line->anchor().rt_ns == before.anchor().rt_ns);
  CHECK(line->period_s() == before.period_s());
  CHECK(on_line(20 * kNsPerSec) == at_20s);

  // A page built on the line carries the truth of the line's instant, at
  // any later counter, whatever the realtime clock read then.
  HostState h;
  h.counter_id = abi::CounterId::x86_tsc;
  Truth t;
  t.ref_rt_ns = line->anchor().rt_ns;
  t.offset_ns = 100'000;
  t.drift_ppm = 20;
  const uint64_t c = pair_at(20 * kNsPerSec, 0).counter;
  auto p = build_page(h, t, line->period_s(), c, line->rt_ns_at(c));
  REQUIRE(p);
  for (int64_t dt : {int64_t{0}, kNsPerSec, 60 * kNsPerSec}) {
    const uint64_t c2 = pair_at(20 * kNsPerSec + dt, 0).counter;
    auto at = time_at(*p, c2);
    REQUIRE(at);
    Fix64 got = static_cast<Fix64>(at->time.sec.count) * (static_cast<Fix64>(1) << 64) + at->time.frac.raw;
    // The page's rate is the line's times (1 + drift), anchored at c.
    Fix64 want = t.page_time_at(line->rt_ns_at(c)) +
                 fix64_from_ns(std::llroundl(static_cast<long double>(static_cast<int64_t>(c2 - c)) *
                                             line->period_s() * (1 + 20e-6L) * 1e9L));
    CAPTURE(dt);
    CHECK(std::fabs(fix64_to_ns(got - want)) < 2.0L);
  }
}

TEST_CASE("truth: offset with drift, rebased without a jump") {
  Truth t;
  t.ref_rt_ns = kRt0;
  t.offset_ns = 1'000'000;
  t.drift_ppm = 20;
  CHECK(t.offset_ns_at(kRt0) == 1'000'000);
  CHECK(t.offset_ns_at(kRt0 + 10 * kNsPerSec) == 1'200'000);
  CHECK(t.offset_ns_at(kRt0 - kNsPerSec) == 980'000);
  Fix64 before = t.page_time_at(kRt0 + 5 * kNsPerSec);
  t.rebase(kRt0 + 5 * kNsPerSec);
  CHECK(t.offset_ns == 1'100'000);
  Fix64 after = t.page_time_at(kRt0 + 5 * kNsPerSec);
  CHECK(std::fabs(fix64_to_ns(after - before)) < 1.0L);
  t.step(kRt0 + 6 * kNsPerSec, 100'000, 20);
  CHECK(t.offset_ns == 1'220'000);
  CHECK(t.drift_ppm == 40);
}

TEST_CASE("fix64_from_ns is exact and floors negative values") {
  CHECK(fix64_from_ns(0) == 0);
  CHECK(fix64_from_ns(kNsPerSec) == (static_cast<Fix64>(1) << 64));
  CHECK(fix64_from_ns(-kNsPerSec) == -(static_cast<Fix64>(1) << 64));
  CHECK(std::fabs(fix64_to_ns(fix64_from_ns(-1)) + 1.0L) < 1e-6L);
  CHECK(std::fabs(fix64_to_ns(fix64_from_ns(1'500'000'000)) - 1.5e9L) < 1e-6L);
}

TEST_CASE("build_page: the page's time at a later counter is the truth there") {
  HostState h;
  h.counter_id = abi::CounterId::x86_tsc;
  h.maxerror_ns = 1000;
  h.esterror_ns = 100;
  h.period_maxerror_ppb = 100;
  h.period_esterror_ppb = 10;
  h.marker = 7;
  h.generation = 3;
  Truth t;
  t.ref_rt_ns = kRt0 - 10 * kNsPerSec;
  t.offset_ns = -1'500'000;
  t.drift_ppm = 250;
  auto p = build_page(h, t, kPeriod, kC0, kRt0);
  REQUIRE(p);
  CHECK(p->size == 112);
  CHECK(p->counter_value == kC0);
  CHECK(p->disruption_marker == 7);
  CHECK(p->vm_generation_counter == std::optional<uint64_t>(3));
  using abi::Flag;
  for (auto f : {Flag::vm_gen_counter_present, Flag::time_maxerror_valid, Flag::time_esterror_valid,
                 Flag::period_maxerror_valid, Flag::period_esterror_valid})
    CHECK(p->flags.has(f));
  CHECK_FALSE(p->flags.has(Flag::tai_offset_valid));
  CHECK(p->counter_period_frac_sec >= (1ull << 63));
  for (int64_t dt : {int64_t{0}, int64_t{1'000'000}, kNsPerSec, 100 * kNsPerSec, -kNsPerSec}) {
    uint64_t c = kC0 + static_cast<uint64_t>(std::llroundl(static_cast<long double>(dt) * 1e-9L * kHz));
    auto at = time_at(*p, c);
    REQUIRE(at);
    // Compare in the page's 2^-64 s: the truth at the realtime of that tick.
    long double tick_rt = static_cast<long double>(static_cast<int64_t>(c - kC0)) * kPeriod * 1e9L;
    Fix64 want = t.page_time_at(kRt0 + static_cast<int64_t>(std::llroundl(tick_rt)));
    Fix64 got = static_cast<Fix64>(at->time.sec.count) * (static_cast<Fix64>(1) << 64) + at->time.frac.raw;
    CAPTURE(dt);
    CHECK(std::fabs(fix64_to_ns(got - want)) < 1.0L);
  }
  // The page at the anchor is realtime + offset.
  auto at = time_at(*p, kC0);
  REQUIRE(at);
  Fix64 anchor = static_cast<Fix64>(at->time.sec.count) * (static_cast<Fix64>(1) << 64) + at->time.frac.raw;
  CHECK(std::fabs(fix64_to_ns(anchor - fix64_from_ns(kRt0)) - static_cast<long double>(t.offset_ns_at(kRt0))) < 1.0L);
  CHECK(at->maxerror_ns == std::optional<uint64_t>(1000));
}

TEST_CASE("build_page: TAI shift, monotonic flag, no generation") {
  HostState h;
  h.counter_id = abi::CounterId::x86_tsc;
  h.time_type = abi::TimeType::tai;
  h.tai_offset = -37;
  h.generation_present = false;
  h.size = abi::kMinSize;
  CHECK(tai_minus_utc_s(h) == 37);
  Truth t;
  t.type_shift_ns = tai_minus_utc_s(h) * kNsPerSec;
  auto p = build_page(h, t, kPeriod, kC0, kRt0);
  REQUIRE(p);
  CHECK(p->flags.has(abi::Flag::tai_offset_valid));
  CHECK(p->tai_offset_sec == -37);
  CHECK_FALSE(p->flags.has(abi::Flag::vm_gen_counter_present));
  CHECK_FALSE(p->vm_generation_counter);
  CHECK(p->size == 104);
  CHECK(static_cast<int64_t>(p->time_sec) == kRt0 / kNsPerSec + 37);
  h.time_type = abi::TimeType::monotonic;
  auto m = build_page(h, Truth{}, kPeriod, kC0, kRt0);
  REQUIRE(m);
  CHECK(m->flags.has(abi::Flag::time_monotonic));
  // A truth before the epoch is refused, not wrapped.
  Truth neg;
  neg.offset_ns = -kRt0 - kNsPerSec;
  CHECK_FALSE(build_page(h, neg, kPeriod, kC0, kRt0));
}

TEST_CASE("disruption-only header matches the Firecracker page byte for byte") {
  std::ifstream in(VMC_FIXTURES_DIR "/vmclock-firecracker-page.bin", std::ios::binary);
  REQUIRE(in);
  std::vector<uint8_t> fixture((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(fixture.size() == 4096);
  HostState h;
  h.disruption_only = true;
  h.size = 4096;
  h.counter_id = abi::CounterId::invalid;
  h.status = abi::ClockStatus::unknown;
  h.notification_present = true;
  h.marker = 1;
  h.generation = 1;
  h.maxerror_ns = 1000;  // ignored: no time, nothing to bound
  auto p = build_page(h, Truth{}, kPeriod, kC0, kRt0);
  REQUIRE(p);
  alignas(8) static uint8_t page[4096];
  PageWriter w(page, sizeof page);
  w.publish(*p);  // seq 0 -> 2, as the fixture
  CHECK(std::vector<uint8_t>(page, page + 4096) == fixture);
}

TEST_CASE("names accept dashes, underscores and case") {
  CHECK(parse_status("Synchronized") == abi::ClockStatus::synchronized);
  CHECK(parse_leap("pre-pos") == abi::LeapIndicator::pre_pos);
  CHECK(parse_leap("post_neg") == abi::LeapIndicator::post_neg);
  CHECK(parse_smearing("utc-sls") == abi::SmearingHint::utc_sls);
  CHECK(parse_time_type("maybe-smeared") == abi::TimeType::invalid_maybe_smeared);
  CHECK(parse_counter_id("native", abi::CounterId::arm_vcnt) == abi::CounterId::arm_vcnt);
  CHECK(parse_counter_id("x86-tsc", abi::CounterId::arm_vcnt) == abi::CounterId::x86_tsc);
  CHECK_FALSE(parse_status("synced"));
  CHECK_FALSE(parse_leap("neg"));
  CHECK_FALSE(parse_counter_id("", abi::CounterId::x86_tsc));
}
