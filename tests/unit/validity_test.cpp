// SPDX-License-Identifier: Apache-2.0
// assess() (src/core/validity.cpp): one page built for each Unusable reason, the
// order of the checks, and both TAI offset conventions.
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "cross_timestamp.h"
#include "validity.h"

using namespace vmc;
using abi::Flag;

namespace {

// A page that is usable on this machine: synchronized UTC against the
// native counter, 1 GHz, maxerror valid.
Page good(abi::CounterId counter = kNativeCounter) {
  Page p;
  p.counter_id = counter;
  p.time_type = abi::TimeType::utc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_period_frac_sec = 18446744074ULL;  // round(2^64 / 1e9)
  p.time_sec = 1'700'000'000;
  p.counter_value = 1'000'000;
  p.time_maxerror_nanosec = 1000;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid).with(Flag::period_maxerror_valid);
  return p;
}

abi::CounterId other_counter() {
  return kNativeCounter == abi::CounterId::x86_tsc ? abi::CounterId::arm_vcnt : abi::CounterId::x86_tsc;
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// sample_from() on a snapshot of `p` taken at its counter_value.
SampleOutcome sample_at_counter_value(const Page& p) {
  Snapshot s;
  s.page = p;
  s.counter = p.counter_value;
  s.before = SysTime{1'700'000'000LL * kNsPerSec};
  s.after = SysTime{s.before.ns + 100};
  return sample_from(s);
}

}  // namespace

TEST_CASE("validity: a good page is usable") {
  Validity v = assess(good());
  CHECK(v.ok());
  CHECK(v.reason == Unusable::none);
  CHECK(v.tai_convention == TaiConvention::not_applicable);
  CHECK(v.utc_minus_page_sec == 0);
  CHECK_FALSE(v.disruption_only());
  Page f = good();
  f.clock_status = abi::ClockStatus::freerunning;  // free-running is still time
  CHECK(assess(f).ok());
}

TEST_CASE("validity: each reason from a page built for it") {
  struct Case {
    const char* what;
    Page page;
    Unusable reason;
    const char* id;
  };
  auto with = [](auto f) { Page p = good(); f(p); return p; };
  Case cases[] = {
      {"counter_id invalid", with([](Page& p) { p.counter_id = abi::CounterId::invalid; }), Unusable::no_counter,
       "disruption-only"},
      {"foreign counter", with([](Page& p) { p.counter_id = other_counter(); }), Unusable::foreign_counter,
       "foreign-counter"},
      {"undefined counter id", with([](Page& p) { p.counter_id = abi::CounterId{7}; }), Unusable::foreign_counter,
       "foreign-counter"},
      {"status unknown", with([](Page& p) { p.clock_status = abi::ClockStatus::unknown; }), Unusable::status_unknown,
       "status-unknown"},
      {"status initializing", with([](Page& p) { p.clock_status = abi::ClockStatus::initializing; }),
       Unusable::status_initializing, "status-initializing"},
      {"status unreliable", with([](Page& p) { p.clock_status = abi::ClockStatus::unreliable; }),
       Unusable::status_unreliable, "status-unreliable"},
      {"status 5", with([](Page& p) { p.clock_status = abi::ClockStatus{5}; }), Unusable::status_invalid,
       "status-invalid"},
      {"monotonic", with([](Page& p) { p.time_type = abi::TimeType::monotonic; }), Unusable::time_monotonic,
       "time-monotonic"},
      {"invalid_smeared", with([](Page& p) { p.time_type = abi::TimeType::invalid_smeared; }),
       Unusable::time_smeared, "time-smeared"},
      {"invalid_maybe_smeared", with([](Page& p) { p.time_type = abi::TimeType::invalid_maybe_smeared; }),
       Unusable::time_maybe_smeared, "time-maybe-smeared"},
      {"time_type 9", with([](Page& p) { p.time_type = abi::TimeType{9}; }), Unusable::time_type_invalid,
       "time-type-invalid"},
      {"tai without offset", with([](Page& p) {
         p.time_type = abi::TimeType::tai;
         p.tai_offset_sec = 37;
       }),
       Unusable::tai_without_offset, "tai-without-offset"},
      {"tai offset 0", with([](Page& p) {
         p.time_type = abi::TimeType::tai;
         p.flags = p.flags.with(Flag::tai_offset_valid);
         p.tai_offset_sec = 0;
       }),
       Unusable::tai_offset_zero, "tai-offset-zero"},
      {"period 0", with([](Page& p) { p.counter_period_frac_sec = 0; }), Unusable::no_period, "no-period"},
      // The clock stands still: every tick shifts out to nothing.
      {"shift 128", with([](Page& p) { p.counter_period_shift = 128; }), Unusable::no_period, "no-period"},
      {"shift 255", with([](Page& p) { p.counter_period_shift = 255; }), Unusable::no_period, "no-period"},
      {"shift 64", with([](Page& p) { p.counter_period_shift = 64; }), Unusable::no_period, "no-period"},
      // 1 GHz's period at shift 31: a counter of 2 EHz.
      {"shift 31 with a shift-0 period", with([](Page& p) { p.counter_period_shift = 31; }), Unusable::no_period,
       "no-period"},
      // Half a second per tick: a 2 Hz counter.
      {"period 2^63 at shift 0", with([](Page& p) { p.counter_period_frac_sec = uint64_t{1} << 63; }),
       Unusable::no_period, "no-period"},
  };
  for (auto& c : cases) {
    CAPTURE(c.what);
    Validity v = assess(c.page);
    CHECK(v.reason == c.reason);
    CHECK_FALSE(v.ok());
    CHECK(name(v.reason) == c.id);
    CHECK_FALSE(describe(v.reason, c.page).empty());
    CHECK(v.disruption_only() == (c.reason == Unusable::no_counter));
    // And no sample comes out of it, with the reason said.
    auto out = sample_at_counter_value(c.page);
    CHECK_FALSE(out.sample.has_value());
    CHECK(out.validity.reason == c.reason);
    CHECK(out.why_not == describe(c.reason, c.page));
  }
}

TEST_CASE("validity: counter rates from 1 kHz to 1 THz are counters, just beyond is not") {
  auto at = [](uint64_t period, uint8_t shift) {
    Page p = good();
    p.counter_period_frac_sec = period;
    p.counter_period_shift = shift;
    return assess(p).reason;
  };
  // 2^64 / 1000 = 18446744073709551.6: the period of exactly 1 kHz lies
  // between these two.
  CHECK(at(18446744073709551ULL, 0) == Unusable::none);
  CHECK(at(18446744073709552ULL, 0) == Unusable::no_period);
  // 2^64 / 10^12 = 18446744.07 at shift 0.
  CHECK(at(18446745ULL, 0) == Unusable::none);
  CHECK(at(18446744ULL, 0) == Unusable::no_period);
  // A 2.5 GHz TSC at shift 31, the most precise shift its period fits.
  CHECK(at(static_cast<uint64_t>(18446744073709551616.0L * 2147483648.0L / 2.5e9L), 31) == Unusable::none);
}

TEST_CASE("validity: a pending leap gives samples with the leap flag under every smearing hint") {
  // The page's time is never smeared: the hint is for the guest's own users.
  for (unsigned hint : {0u, 1u, 2u, 3u, 7u, 255u}) {
    for (auto [li, leap] : {std::pair{abi::LeapIndicator::pre_pos, Leap::insert},
                            std::pair{abi::LeapIndicator::pre_neg, Leap::remove}}) {
      CAPTURE(hint);
      CAPTURE(static_cast<int>(li));
      Page p = good();
      p.smearing_hint = abi::SmearingHint{static_cast<uint8_t>(hint)};
      p.leap_indicator = li;
      CHECK(assess(p).ok());
      auto out = sample_at_counter_value(p);
      REQUIRE(out.sample.has_value());
      CHECK(out.sample->leap == leap);
      CHECK(abi::name_or_undefined(p.smearing_hint) ==
            (hint <= 2 ? std::string(abi::name(p.smearing_hint)) : "undefined(" + std::to_string(hint) + ")"));
    }
  }
}

TEST_CASE("validity: an undefined leap indicator is kept, shown as undefined, and gates nothing") {
  for (unsigned raw : {6u, 9u, 255u}) {
    CAPTURE(raw);
    Page p = good();
    p.leap_indicator = abi::LeapIndicator{static_cast<uint8_t>(raw)};
    CHECK(static_cast<unsigned>(p.leap_indicator) == raw);
    CHECK(abi::name_or_undefined(p.leap_indicator) == "undefined(" + std::to_string(raw) + ")");
    CHECK(assess(p).ok());
    auto out = sample_at_counter_value(p);
    REQUIRE(out.sample.has_value());
    // Nothing chrony could be told: no leap flag (see leap_of()).
    CHECK(out.sample->leap == Leap::none);
  }
  // Undefined clock_status and time_type still refuse the page.
  Page st = good();
  st.clock_status = abi::ClockStatus{9};
  CHECK(assess(st).reason == Unusable::status_invalid);
  Page tt = good();
  tt.time_type = abi::TimeType{9};
  CHECK(assess(tt).reason == Unusable::time_type_invalid);
}

TEST_CASE("validity: a smearing hint without a leap is fine, STRICT with a leap is fine") {
  Page p = good();
  p.smearing_hint = abi::SmearingHint::utc_sls;
  CHECK(assess(p).ok());
  p = good();
  p.leap_indicator = abi::LeapIndicator::pre_pos;
  CHECK(assess(p).ok());
}

TEST_CASE("validity: describe() names the values") {
  Page p = good();
  p.counter_id = other_counter();
  auto d = describe(Unusable::foreign_counter, p);
  CHECK(contains(d, std::string(abi::name(other_counter()))));
  CHECK(contains(d, std::string(abi::name(kNativeCounter))));
  p.clock_status = abi::ClockStatus{5};
  CHECK(contains(describe(Unusable::status_invalid, p), "5"));
  p.time_type = abi::TimeType{9};
  CHECK(contains(describe(Unusable::time_type_invalid, p), "9"));
  p.counter_period_frac_sec = 12345;
  p.counter_period_shift = 200;
  auto s = describe(Unusable::no_period, p);
  CHECK(contains(s, "12345"));
  CHECK(contains(s, "200"));
  CHECK(contains(s, "cannot advance"));
  CHECK(contains(describe(Unusable::no_counter, p), "disruption-only"));
}

TEST_CASE("validity: the order of the checks") {
  // A disruption-only page is that, whatever else it says (QEMU: status
  // unknown, counter invalid).
  Page p = good();
  p.counter_id = abi::CounterId::invalid;
  p.clock_status = abi::ClockStatus::unknown;
  p.time_type = abi::TimeType::monotonic;
  p.counter_period_frac_sec = 0;
  CHECK(assess(p).reason == Unusable::no_counter);
  // A foreign counter comes before the status.
  p.counter_id = other_counter();
  CHECK(assess(p).reason == Unusable::foreign_counter);
}

TEST_CASE("validity: foreign counter_id, seen from either architecture") {
  Page p = good(abi::CounterId::x86_tsc);
  CHECK(assess(p, abi::CounterId::x86_tsc).ok());
  CHECK(assess(p, abi::CounterId::arm_vcnt).reason == Unusable::foreign_counter);
  p.counter_id = abi::CounterId::arm_vcnt;
  CHECK(assess(p, abi::CounterId::arm_vcnt).ok());
  CHECK(assess(p, abi::CounterId::x86_tsc).reason == Unusable::foreign_counter);
}

TEST_CASE("validity: TAI in both conventions gives UTC = TAI - 37 s") {
  // The page holds TAI 1700000037.25 s; UTC is 1700000000.25 s either way.
  Page p = good();
  p.time_type = abi::TimeType::tai;
  p.flags = p.flags.with(Flag::tai_offset_valid);
  p.time_sec = 1'700'000'037;
  p.time_frac_sec = 1ULL << 62;  // 0.25 s
  auto sample_of = [](const Page& pg) {
    Snapshot s;
    s.page = pg;
    s.counter = pg.counter_value;  // delta 0: the page's own time
    s.before = SysTime{1'700'000'000LL * kNsPerSec + 250'000'000 - 1000};
    s.after = SysTime{1'700'000'000LL * kNsPerSec + 250'000'000 + 1000};
    return sample_from(s);
  };
  SUBCASE("+37: the header's words, tai_offset_sec = TAI - UTC") {
    p.tai_offset_sec = 37;
    Validity v = assess(p);
    REQUIRE(v.ok());
    CHECK(v.tai_convention == TaiConvention::tai_minus_utc);
    CHECK(name(v.tai_convention) == "tai-minus-utc");
    CHECK(v.utc_minus_page_sec == -37);  // UTC = TAI - 37
    auto out = sample_of(p);
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->reference.sec.count == 1'700'000'000);  // page time - 37 s
    CHECK(out.sample->reference.frac.raw == (1ULL << 62));
    CHECK(out.sample->offset.count == 0);
  }
  SUBCASE("-37: the kernel driver's arithmetic, tai_offset_sec = UTC - TAI") {
    p.tai_offset_sec = -37;
    Validity v = assess(p);
    REQUIRE(v.ok());
    CHECK(v.tai_convention == TaiConvention::utc_minus_tai);
    CHECK(name(v.tai_convention) == "utc-minus-tai");
    CHECK(v.utc_minus_page_sec == -37);  // UTC = TAI + (-37)
    auto out = sample_of(p);
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->reference.sec.count == 1'700'000'000);
    CHECK(out.sample->reference.frac.raw == (1ULL << 62));
    CHECK(out.sample->offset.count == 0);
  }
  SUBCASE("UTC pages ignore tai_offset_sec") {
    p.time_type = abi::TimeType::utc;
    p.tai_offset_sec = 37;
    Validity v = assess(p);
    REQUIRE(v.ok());
    CHECK(v.tai_convention == TaiConvention::not_applicable);
    CHECK(v.utc_minus_page_sec == 0);
    CHECK(name(TaiConvention::not_applicable) == "n/a");
  }
}

TEST_CASE("validity: unknown reason names") {
  CHECK(name(static_cast<Unusable>(999)) == "unknown");
  CHECK(name(static_cast<TaiConvention>(999)) == "unknown");
}
