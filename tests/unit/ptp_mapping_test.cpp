// SPDX-License-Identifier: Apache-2.0
// The mapping table of ptp4l-plugin/README.md, row by row, and hysteresis.
#include <doctest/doctest.h>

#include "ptp_mapping.h"

using namespace vmc;
using namespace vmc::ptp;
using abi::ClockStatus;
using abi::LeapIndicator;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr uint8_t kTraceable = time_flag::time_traceable | time_flag::freq_traceable;

ClockView good(ClockStatus s = ClockStatus::synchronized, uint64_t maxerr = 80, uint64_t esterr = 30) {
  ClockView v;
  v.have_page = true;
  v.status = s;
  v.samples_ok = true;
  v.maxerror_ns = maxerr;
  v.esterror_ns = esterr;
  v.tai_minus_utc = 37;
  return v;
}

Mapped map(const ClockView& v) { return map_clock(v, MappingOptions{}); }

}  // namespace

TEST_CASE("clockAccuracy: the smallest bucket >= maxerror") {
  CHECK(accuracy_for_maxerror(0) == 0x20);
  CHECK(accuracy_for_maxerror(25) == 0x20);
  CHECK(accuracy_for_maxerror(26) == 0x21);
  CHECK(accuracy_for_maxerror(100) == 0x21);
  CHECK(accuracy_for_maxerror(101) == 0x22);
  CHECK(accuracy_for_maxerror(1'000) == 0x23);
  CHECK(accuracy_for_maxerror(2'500) == 0x24);
  CHECK(accuracy_for_maxerror(10'000) == 0x25);
  CHECK(accuracy_for_maxerror(25'000) == 0x26);
  CHECK(accuracy_for_maxerror(100'000) == 0x27);
  CHECK(accuracy_for_maxerror(250'000) == 0x28);
  CHECK(accuracy_for_maxerror(1'000'000) == 0x29);
  CHECK(accuracy_for_maxerror(2'500'000) == 0x2A);
  CHECK(accuracy_for_maxerror(10'000'000) == 0x2B);
  CHECK(accuracy_for_maxerror(25'000'000) == 0x2C);
  CHECK(accuracy_for_maxerror(100'000'000) == 0x2D);
  CHECK(accuracy_for_maxerror(250'000'000) == 0x2E);
  CHECK(accuracy_for_maxerror(1'000'000'000) == 0x2F);
  CHECK(accuracy_for_maxerror(10'000'000'000ULL) == 0x30);
  CHECK(accuracy_for_maxerror(10'000'000'001ULL) == 0x31);
  CHECK(accuracy_for_maxerror(UINT64_MAX) == 0x31);
  CHECK(accuracy_bound_ns(0x22) == 250u);
  CHECK_FALSE(accuracy_bound_ns(0x31));
  CHECK_FALSE(accuracy_bound_ns(0xFE));
  for (uint64_t ns : {1ULL, 24ULL, 99ULL, 3'000ULL, 777'777ULL, 9'999'999'999ULL}) {
    auto b = accuracy_bound_ns(accuracy_for_maxerror(ns));
    REQUIRE(b);
    CHECK(*b >= ns);
  }
}

TEST_CASE("offsetScaledLogVariance: 256*ceil(log2(sigma^2)) + 0x8000") {
  // sigma 1 s: variance 1 s^2, log2 0.
  CHECK(scaled_log_variance(1'000'000'000) == 0x8000);
  // sigma 100 ns: log2(1e-14) = -46.5 -> -46.
  CHECK(scaled_log_variance(100) == 0x8000 - 46 * 256);
  // sigma 1 ns (and 0, the page's resolution): log2(1e-18) = -59.8 -> -59.
  CHECK(scaled_log_variance(1) == 0x8000 - 59 * 256);
  CHECK(scaled_log_variance(0) == scaled_log_variance(1));
  // sigma 2^-10 s exactly: log2 = -20, not rounded further.
  CHECK(scaled_log_variance(976'562) == 0x8000 - 20 * 256);
  // Monotonic, never the "unknown" value.
  uint16_t prev = 0;
  for (uint64_t ns = 1; ns < 100'000'000'000'000ULL; ns *= 3) {
    auto v = scaled_log_variance(ns);
    CHECK(v >= prev);
    CHECK(v < 0xFFFF);
    prev = v;
  }
}

TEST_CASE("mapping table") {
  SUBCASE("SYNCHRONIZED, maxerror 80 ns: class 6, accuracy 100 ns, traceable") {
    auto m = map(good());
    CHECK(m.grade == Grade::locked);
    CHECK(m.settings.quality == ClockQuality{6, 0x21, scaled_log_variance(30)});
    CHECK(m.settings.current_utc_offset == 37);
    CHECK(m.settings.time_flags == (time_flag::utc_off_valid | kTraceable));
    CHECK(m.settings.time_source == 0x90);
  }
  SUBCASE("SYNCHRONIZED at the locked limit (1 ms) is still class 6") {
    CHECK(map(good(ClockStatus::synchronized, 1'000'000)).settings.quality.clock_class == 6);
  }
  SUBCASE("SYNCHRONIZED above the locked limit: class 7, not traceable") {
    auto m = map(good(ClockStatus::synchronized, 1'000'001));
    CHECK(m.settings.quality.clock_class == 7);
    CHECK(m.settings.quality.clock_accuracy == 0x2A);
    CHECK((m.settings.time_flags & kTraceable) == 0);
  }
  SUBCASE("SYNCHRONIZED without maxerror: no bound, class 187") {
    auto v = good();
    v.maxerror_ns.reset();
    auto m = map(v);
    CHECK(m.grade == Grade::degraded);
    CHECK(m.settings.quality.clock_class == 187);
    CHECK(m.settings.quality.clock_accuracy == 0xFE);
  }
  SUBCASE("FREERUNNING within holdover_maxerror_ns: class 7") {
    auto m = map(good(ClockStatus::freerunning, 5'000'000, 1'000'000));
    CHECK(m.grade == Grade::holdover);
    CHECK(m.settings.quality == ClockQuality{7, 0x2B, scaled_log_variance(1'000'000)});
    CHECK(m.settings.time_flags == time_flag::utc_off_valid);
  }
  SUBCASE("FREERUNNING even with a tiny maxerror is never class 6") {
    CHECK(map(good(ClockStatus::freerunning, 50)).settings.quality.clock_class == 7);
  }
  SUBCASE("FREERUNNING beyond holdover_maxerror_ns: class 187 keeps the accuracy") {
    auto m = map(good(ClockStatus::freerunning, 10'000'001));
    CHECK(m.grade == Grade::degraded);
    CHECK(m.settings.quality.clock_class == 187);
    CHECK(m.settings.quality.clock_accuracy == 0x2C);
  }
  SUBCASE("holdover limit is configurable") {
    MappingOptions o;
    o.holdover_maxerror_ns = 100'000'000;
    CHECK(map_clock(good(ClockStatus::freerunning, 50'000'000), o).settings.quality.clock_class == 7);
  }
  SUBCASE("UNKNOWN, INITIALIZING, UNRELIABLE: class 248, nothing known") {
    for (auto s : {ClockStatus::unknown, ClockStatus::initializing, ClockStatus::unreliable,
                   static_cast<ClockStatus>(9)}) {
      auto m = map(good(s));
      CHECK(m.grade == Grade::no_time);
      CHECK(m.settings.quality == ClockQuality{248, 0xFE, 0xFFFF});
      CHECK((m.settings.time_flags & kTraceable) == 0);
      CHECK(m.settings.time_flags == time_flag::utc_off_valid);  // TAI - UTC is still a fact
    }
  }
  SUBCASE("samples not vouched for: class 248") {
    auto v = good();
    v.samples_ok = false;
    CHECK(map(v).settings.quality == ClockQuality{248, 0xFE, 0xFFFF});
  }
  SUBCASE("no page: class 248, default offset 37 without UTC_OFF_VALID, no leap") {
    ClockView v;
    v.leap = LeapIndicator::pre_pos;
    v.tai_minus_utc = 37;
    auto m = map(v);
    CHECK(m.settings == GrandmasterSettings{{248, 0xFE, 0xFFFF}, 37, 0, 0x90});
  }
  SUBCASE("disrupted: class 187 at once, accuracy and variance unknown") {
    auto v = good();
    v.disrupted = true;
    auto m = map(v);
    CHECK(m.grade == Grade::disrupted);
    CHECK(m.settings.quality == ClockQuality{187, 0xFE, 0xFFFF});
    CHECK((m.settings.time_flags & kTraceable) == 0);
  }
  SUBCASE("disrupted and unreliable: the worse, 248") {
    auto v = good(ClockStatus::unreliable);
    v.disrupted = true;
    CHECK(map(v).settings.quality.clock_class == 248);
  }
  SUBCASE("no valid TAI offset: configured default, UTC_OFF_VALID clear") {
    auto v = good();
    v.tai_minus_utc.reset();
    MappingOptions o;
    o.default_utc_offset = 38;
    auto m = map_clock(v, o);
    CHECK(m.settings.current_utc_offset == 38);
    CHECK((m.settings.time_flags & time_flag::utc_off_valid) == 0);
    CHECK(m.settings.quality.clock_class == 6);
  }
  SUBCASE("a non-positive TAI - UTC is not believed") {
    auto v = good();
    v.tai_minus_utc = -37;
    CHECK((map(v).settings.time_flags & time_flag::utc_off_valid) == 0);
    CHECK(map(v).settings.current_utc_offset == 37);
  }
  SUBCASE("leap indicator") {
    auto flags = [](LeapIndicator l) {
      auto v = good();
      v.leap = l;
      return map(v).settings.time_flags & (time_flag::leap_61 | time_flag::leap_59);
    };
    CHECK(flags(LeapIndicator::none) == 0);
    CHECK(flags(LeapIndicator::pre_pos) == time_flag::leap_61);
    CHECK(flags(LeapIndicator::pos) == time_flag::leap_61);
    CHECK(flags(LeapIndicator::post_pos) == 0);
    CHECK(flags(LeapIndicator::pre_neg) == time_flag::leap_59);
    CHECK(flags(LeapIndicator::post_neg) == 0);
  }
  SUBCASE("PTP_TIMESCALE only when configured (hardware grandmaster, PHC in TAI)") {
    CHECK((map(good()).settings.time_flags & time_flag::ptp_timescale) == 0);
    MappingOptions o;
    o.ptp_timescale = true;
    CHECK((map_clock(good(), o).settings.time_flags & time_flag::ptp_timescale) != 0);
    CHECK((map_clock(ClockView{}, o).settings.time_flags & time_flag::ptp_timescale) != 0);
  }
  SUBCASE("time source is passed through") {
    MappingOptions o;
    o.time_source = time_source::gnss;
    CHECK(map_clock(good(), o).settings.time_source == 0x20);
    CHECK(map_clock(ClockView{}, o).settings.time_source == 0x20);
  }
}

TEST_CASE("hysteresis: downgrades at once, upgrades after N updates and T") {
  using TP = Hysteresis::TimePoint;
  TP t0{};
  Hysteresis h({3, milliseconds{2'000}});
  auto locked = map(good()).settings;
  auto holdover = map(good(ClockStatus::freerunning, 5'000'000)).settings;
  auto none = map(ClockView{}).settings;

  SUBCASE("the first good state waits too, from class 248") {
    CHECK(h.update(locked, t0).quality.clock_class == 248);
    CHECK(h.update(locked, t0 + seconds{1}).quality.clock_class == 248);
    // Three updates but only 1.5 s: not yet.
    CHECK(h.update(locked, t0 + milliseconds{1'500}).quality.clock_class == 248);
    auto s = h.update(locked, t0 + seconds{2});
    CHECK(s == locked);
  }
  SUBCASE("while held back, the traceable flags stay clear") {
    auto s = h.update(locked, t0);
    CHECK(s.quality.clock_class == 248);
    CHECK((s.time_flags & kTraceable) == 0);
    CHECK((s.time_flags & time_flag::utc_off_valid) != 0);  // non-quality fields pass at once
  }
  SUBCASE("downgrade is immediate, upgrade waits again") {
    for (int i = 0; i <= 3; ++i) h.update(locked, t0 + seconds{i});
    REQUIRE(h.current() == locked);
    CHECK(h.update(holdover, t0 + seconds{10}) == holdover);
    CHECK(h.update(none, t0 + seconds{11}) == none);
    CHECK(h.update(locked, t0 + seconds{12}).quality.clock_class == 248);
    CHECK(h.update(locked, t0 + seconds{13}).quality.clock_class == 248);
    CHECK(h.update(locked, t0 + seconds{14}) == locked);
  }
  SUBCASE("a worse value in the run restarts nothing but is what gets announced") {
    for (int i = 0; i <= 3; ++i) h.update(holdover, t0 + seconds{i});
    REQUIRE(h.current().quality.clock_class == 7);
    REQUIRE(h.current().quality.clock_accuracy == 0x2B);
    // accuracy flaps between 100 ns and 250 ns while improving on 10 ms
    auto a = map(good(ClockStatus::synchronized, 80)).settings;
    auto b = map(good(ClockStatus::synchronized, 200)).settings;
    h.update(a, t0 + seconds{10});
    h.update(b, t0 + seconds{11});
    auto s = h.update(a, t0 + seconds{12});
    CHECK(s.quality.clock_class == 6);
    CHECK(s.quality.clock_accuracy == 0x22);  // the worst of the run
  }
  SUBCASE("flapping at a boundary changes the announcement at most once per hold") {
    for (int i = 0; i <= 3; ++i) h.update(locked, t0 + seconds{i});
    auto a = map(good(ClockStatus::synchronized, 90)).settings;   // 0x21
    auto b = map(good(ClockStatus::synchronized, 110)).settings;  // 0x22
    int changes = 0;
    auto last = h.current();
    for (int i = 0; i < 20; ++i) {
      auto s = h.update(i % 2 ? a : b, t0 + seconds{10 + i});
      if (s != last) ++changes;
      last = s;
    }
    CHECK(changes == 1);  // down to 0x22 once; never back up since every run contains 0x22
    CHECK(last.quality.clock_accuracy == 0x22);
  }
  SUBCASE("hold of 1 update and 0 ms: no hysteresis") {
    Hysteresis none_h({1, milliseconds{0}});
    CHECK(none_h.update(locked, t0) == locked);
  }
  SUBCASE("disruption degrades at once from class 6") {
    for (int i = 0; i <= 3; ++i) h.update(locked, t0 + seconds{i});
    auto v = good();
    v.disrupted = true;
    auto s = h.update(map(v).settings, t0 + seconds{5});
    CHECK(s.quality == ClockQuality{187, 0xFE, 0xFFFF});
    CHECK((s.time_flags & kTraceable) == 0);
  }
}
