// SPDX-License-Identifier: Apache-2.0
// Cross-timestamps (src/core/cross_timestamp.cpp): sample_from() on hand-built snapshots, and
// take_snapshot()/best_sample() over a MemoryPageSource written with
// PageWriter and calibrated against this machine's real counter.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "counter.h"
#include "page_source.h"
#include "page_writer.h"
#include "real_counter.h"
#include "cross_timestamp.h"

using namespace vmc;
using namespace vmc::testing;
using abi::Flag;

namespace {

constexpr int64_t kT0 = 1'700'000'000LL * kNsPerSec;  // system time of the hand-built snapshots

// 1 GHz counter at shift 0: period = round(2^64 / 1e9) = 18446744074,
// maxerror rate round(period/1e6) = 18447 (1 ppm), esterror rate 922.
Page page_1ghz() {
  Page p;
  p.counter_id = kNativeCounter;
  p.time_type = abi::TimeType::utc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_period_frac_sec = 18446744074ULL;
  p.counter_period_maxerror_rate_frac_sec = 18447;
  p.counter_period_esterror_rate_frac_sec = 922;
  p.time_sec = 1'700'000'000;
  p.time_frac_sec = 0;
  p.counter_value = 1000;
  p.time_maxerror_nanosec = 1000;
  p.time_esterror_nanosec = 100;
  p.disruption_marker = 42;
  p.seq_count = 8;
  p.flags = abi::Flags{}
                .with(Flag::time_maxerror_valid)
                .with(Flag::period_maxerror_valid)
                .with(Flag::time_esterror_valid)
                .with(Flag::period_esterror_valid);
  return p;
}

Snapshot snap(const Page& p, uint64_t counter, int64_t before_ns, int64_t after_ns) {
  Snapshot s;
  s.page = p;
  s.counter = counter;
  s.before = SysTime{kT0 + before_ns};
  s.after = SysTime{kT0 + after_ns};
  return s;
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("sample_from: offset, maxerror, esterror from a hand-built snapshot") {
  // counter 1500 = counter_value + 500: reference = 1.7e9 s + 500 * 18446744074
  // units of 2^-64 s = 1.7e9 s + 500.0000000115 ns.
  Page p = page_1ghz();
  SUBCASE("even bracket") {
    // bracket [100, 300] ns: system = midpoint 200 ns; offset = round(500.0000000115 - 200) = 300
    // maxerror = 1000 + ceil(500*18447*1e9/2^64) (= 1) + ceil(200/2) = 1101
    // esterror = 100 + ceil(500*922*1e9/2^64) (= 1) + 100 = 201
    auto out = sample_from(snap(p, 1500, 100, 300));
    REQUIRE_MESSAGE(out.sample.has_value(), out.why_not);
    const Sample& s = *out.sample;
    CHECK(s.counter == 1500);
    CHECK(s.reference.sec.count == 1'700'000'000);
    CHECK(s.reference.frac.raw == 9223372037000ULL);  // 500 * 18446744074
    CHECK(s.system.ns == kT0 + 200);
    CHECK(s.bracket_ns == 200);
    CHECK(s.offset.count == 300);
    CHECK(s.maxerror_ns == 1101);
    REQUIRE(s.esterror_ns.has_value());
    CHECK(*s.esterror_ns == 201);
    CHECK(s.leap == Leap::none);
    CHECK(s.disruption_marker == 42);
    CHECK(s.seq == 8);
    CHECK_FALSE(s.vm_generation_counter.has_value());
    CHECK(out.why_not.empty());
    CHECK(out.validity.ok());
  }
  SUBCASE("odd bracket: half rounded up") {
    // bracket [100, 301] = 201 ns: system = 100 + 201/2 = 200 (floored),
    // offset 300; maxerror = 1000 + 1 + ceil(201/2) = 101 -> 1102
    auto out = sample_from(snap(p, 1500, 100, 301));
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->bracket_ns == 201);
    CHECK(out.sample->system.ns == kT0 + 200);
    CHECK(out.sample->offset.count == 300);
    CHECK(out.sample->maxerror_ns == 1102);
    CHECK(*out.sample->esterror_ns == 202);
  }
  SUBCASE("zero bracket at counter_value: exactly the page's bound") {
    auto out = sample_from(snap(p, 1000, 0, 0));
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->offset.count == 0);
    CHECK(out.sample->maxerror_ns == 1000);
    CHECK(*out.sample->esterror_ns == 100);
  }
  SUBCASE("system clock ahead: negative offset") {
    // system = 10100 ns: offset = round(500.0000000115 - 10100) = -9600
    auto out = sample_from(snap(p, 1500, 10'000, 10'200));
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->offset.count == -9600);
  }
  SUBCASE("offset rounded to nearest") {
    // reference 500.0000000115 ns, system 0.5 ns impossible (integer ns), so
    // use a frac of exactly 0.75 ns: ceil(0.75 * 2^64 / 1e9) = 13835058056
    // -> reference 0.75000000003 ns after 1.7e9 s; system 0 -> offset 1
    Page q = p;
    q.time_frac_sec = 13835058056ULL;
    auto out = sample_from(snap(q, 1000, 0, 0));
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->offset.count == 1);
    // system 1 ns -> -0.24999999997 -> 0
    auto o2 = sample_from(snap(q, 1000, 1, 1));
    CHECK(o2.sample->offset.count == 0);
    // system 2 ns -> -1.24999999997 -> -1
    auto o3 = sample_from(snap(q, 1000, 2, 2));
    CHECK(o3.sample->offset.count == -1);
  }
  SUBCASE("counter before counter_value") {
    // counter 500 = d -500: reference = 1.7e9 s - 500.0000000115 ns;
    // system = 0 -> offset -500
    auto out = sample_from(snap(p, 500, 0, 0));
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->reference.sec.count == 1'699'999'999);
    CHECK(out.sample->offset.count == -500);
    CHECK(out.sample->maxerror_ns == 1001);
  }
  SUBCASE("vm_generation_counter is carried") {
    Page q = p;
    q.flags = q.flags.with(Flag::vm_gen_counter_present);
    q.vm_generation_counter = 3;
    auto out = sample_from(snap(q, 1500, 100, 300));
    REQUIRE(out.sample.has_value());
    CHECK(out.sample->vm_generation_counter == 3u);
  }
}

TEST_CASE("sample_from: no sample without a valid maxerror") {
  Page p = page_1ghz();
  SUBCASE("time maxerror invalid") {
    p.flags = p.flags.without(Flag::time_maxerror_valid);
    auto out = sample_from(snap(p, 1500, 100, 300));
    CHECK_FALSE(out.sample.has_value());
    CHECK(contains(out.why_not, "maxerror"));
    CHECK(out.validity.ok());  // the page is fine, the bound is not
  }
  SUBCASE("period maxerror invalid, counter away from counter_value") {
    p.flags = p.flags.without(Flag::period_maxerror_valid);
    CHECK_FALSE(sample_from(snap(p, 1500, 100, 300)).sample.has_value());
    // ... but at counter_value itself the page's bound holds
    auto at = sample_from(snap(p, 1000, 100, 300));
    REQUIRE(at.sample.has_value());
    CHECK(at.sample->maxerror_ns == 1100);
  }
  SUBCASE("esterror absent is fine") {
    p.flags = p.flags.without(Flag::time_esterror_valid);
    auto out = sample_from(snap(p, 1500, 100, 300));
    REQUIRE(out.sample.has_value());
    CHECK_FALSE(out.sample->esterror_ns.has_value());
  }
}

TEST_CASE("sample_from: arithmetic overflow is a reason, not a sample") {
  Page p = page_1ghz();
  p.time_sec = 0x8000000000000000ULL;  // 2^63
  auto out = sample_from(snap(p, 1500, 100, 300));
  CHECK_FALSE(out.sample.has_value());
  CHECK(contains(out.why_not, "time_sec"));
}

TEST_CASE("sample_from: a reference far outside CLOCK_REALTIME's range gives no sample") {
  // time_sec = 2^40 (year ~36800) is accepted by time_at(), but the offset
  // to a 2023 system time is ~1.1e21 ns: no int64 holds it, and diff_ns()
  // multiplies sec * 1e9 * 2^64 in an i128 that overflows above ~9.2e9 s.
  // A wrapped offset must never reach chrony.
  Page p = page_1ghz();
  p.time_sec = 1ULL << 40;
  auto out = sample_from(snap(p, 1500, 100, 300));
  if (out.sample) {
    FAIL_CHECK("sample with offset " << out.sample->offset.count << " ns for a page at 2^40 s");
  } else {
    CHECK_FALSE(out.why_not.empty());
  }
}

TEST_CASE("sample_from: a bracket that went backwards (CLOCK_REALTIME stepped) never shrinks the bound") {
  // before 300, after 100: bracket -200. (bracket + 1) / 2 = -99 cast to
  // uint64 wraps, and maxerror would come out as 1001 - 99 = 902: below the
  // page's own bound at this counter (1001).
  Page p = page_1ghz();
  auto out = sample_from(snap(p, 1500, 300, 100));
  if (out.sample) {
    CHECK_MESSAGE(out.sample->maxerror_ns >= 1001 + 100,
                  "maxerror " << out.sample->maxerror_ns << " with a bracket of " << out.sample->bracket_ns);
  }
}

TEST_CASE("leap_of and the sample's leap") {
  CHECK(leap_of(abi::LeapIndicator::none) == Leap::none);
  CHECK(leap_of(abi::LeapIndicator::pre_pos) == Leap::insert);
  CHECK(leap_of(abi::LeapIndicator::pre_neg) == Leap::remove);
  CHECK(leap_of(abi::LeapIndicator::post_pos) == Leap::none);
  CHECK(leap_of(abi::LeapIndicator::post_neg) == Leap::none);
  CHECK(leap_of(abi::LeapIndicator{9}) == Leap::none);
  CHECK(static_cast<int>(Leap::insert) == 1);  // chrony's numbering
  CHECK(static_cast<int>(Leap::remove) == 2);
  Page p = page_1ghz();
  p.leap_indicator = abi::LeapIndicator::pre_pos;
  CHECK(sample_from(snap(p, 1500, 0, 10)).sample->leap == Leap::insert);
  p.leap_indicator = abi::LeapIndicator::pre_neg;
  CHECK(sample_from(snap(p, 1500, 0, 10)).sample->leap == Leap::remove);
  p.leap_indicator = abi::LeapIndicator::post_pos;
  CHECK(sample_from(snap(p, 1500, 0, 10)).sample->leap == Leap::none);
}

// ---- against the real counter --------------------------------------------

TEST_CASE("best_sample: a page 37.5 us ahead of CLOCK_REALTIME, on the real counter") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  SUBCASE("UTC") { publish_calibrated(w, 37'500, abi::TimeType::utc, 0); }
  SUBCASE("TAI, +37 (TAI - UTC)") { publish_calibrated(w, 37'000'037'500LL, abi::TimeType::tai, 37); }
  SUBCASE("TAI, -37 (UTC - TAI)") { publish_calibrated(w, 37'000'037'500LL, abi::TimeType::tai, -37); }
  auto r = best_sample(src, 16);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  REQUIRE_MESSAGE(r->sample.has_value(), r->why_not);
  const Sample& s = *r->sample;
  MESSAGE("offset " << s.offset.count << " ns, bracket " << s.bracket_ns << " ns, maxerror " << s.maxerror_ns);
  CHECK(s.offset.count > 37'500 - 5'000);
  CHECK(s.offset.count < 37'500 + 5'000);
  CHECK(s.bracket_ns >= 0);
  CHECK(s.maxerror_ns >= 1000 + static_cast<uint64_t>((s.bracket_ns + 1) / 2));
  CHECK(s.maxerror_ns < 1000 + static_cast<uint64_t>((s.bracket_ns + 1) / 2) + 100'000);
  CHECK(s.disruption_marker == 7);
  CHECK(s.seq == 2);  // one publish: 0 -> 1 -> 2
  CHECK(r->snapshot.counter == s.counter);
}

TEST_CASE("take_snapshot: the counter is read inside the bracket") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  Page p = page_1ghz();
  w.publish(p);
  uint64_t c0 = read_counter();
  auto s = take_snapshot(src);
  uint64_t c1 = read_counter();
  REQUIRE(s.ok());
  CHECK(s->counter >= c0);
  CHECK(s->counter <= c1);
  CHECK(s->before.ns <= s->after.ns);
  CHECK(s->retries == 0);
  Page expect = p;
  expect.seq_count = 2;
  CHECK(s->page == expect);
}

TEST_CASE("take_snapshot: a whole-page size (Firecracker: 4096) in a 4096-byte source") {
  MemoryPageSource src(4096);
  PageWriter w(src.writable(), src.size());
  Page p = page_1ghz();
  p.size = 4096;
  p.flags = p.flags.with(Flag::vm_gen_counter_present);
  p.vm_generation_counter = 9;
  w.publish(p);
  auto s = take_snapshot(src);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  CHECK(s->page.size == 4096);
  CHECK(s->page.vm_generation_counter == 9u);
}

TEST_CASE("take_snapshot: a size larger than the source is an error naming it") {
  MemoryPageSource src(200);
  PageWriter w(src.writable(), src.size());
  Page p = page_1ghz();
  p.size = 4096;
  w.publish(p);
  auto s = take_snapshot(src);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::data);
  CHECK(contains(s.error().message, "size"));
  CHECK(contains(s.error().message, "4096"));
  CHECK(contains(s.error().message, "<memory>"));
}

TEST_CASE("best_sample: errors and pages without time") {
  SUBCASE("a stuck seqlock is an error") {
    MemoryPageSource src;
    PageWriter w(src.writable(), src.size());
    w.publish_stuck(page_1ghz());
    SeqlockLimits lim;
    lim.time_limit_ns = 20'000'000;
    auto r = best_sample(src, 3, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "seq_count"));
    CHECK(r.error().seqlock == SeqlockFailure::stuck_odd);
  }
  SUBCASE("a blank page is an error naming magic, not the seqlock's") {
    MemoryPageSource src;
    auto r = best_sample(src, 3);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::data);
    CHECK(contains(r.error().message, "magic"));
    CHECK(r.error().seqlock == SeqlockFailure::none);
  }
  SUBCASE("the Firecracker page: an outcome, no sample, disruption-only") {
    auto src = open_page_source(VMC_FIXTURES_DIR "/vmclock-firecracker-page.bin");
    REQUIRE_MESSAGE(src.ok(), (src.ok() ? std::string() : src.error().message));
    auto r = best_sample(**src, 0);  // 0 attempts still takes one
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    CHECK_FALSE(r->sample.has_value());
    CHECK(r->validity.disruption_only());
    CHECK(contains(r->why_not, "disruption-only"));
    CHECK(r->snapshot.page.vm_generation_counter == 1u);
    CHECK(r->snapshot.page.disruption_marker == 1u);
    CHECK(r->snapshot.page.size == 4096u);
  }
}

namespace {
// A source whose page changes on every view(): the host migrating the
// guest between best_sample's attempts.
class MigratingSource final : public PageSource {
 public:
  MigratingSource() : PageSource("<migrating>"), w_(mem_.writable(), mem_.size()) {}
  Result<std::span<const volatile uint8_t>> view() override {
    ++calls_;
    Page p = page_1ghz();
    p.counter_value = read_counter();
    p.disruption_marker = calls_ >= 3 ? 2 : 1;  // disrupted before the third attempt
    w_.publish(p);
    return mem_.view();
  }
  std::string_view kind() const override { return "test"; }
  int calls_ = 0;

 private:
  MemoryPageSource mem_;
  PageWriter w_;
};
}  // namespace

TEST_CASE("best_sample: a disruption between attempts, the newest calibration wins") {
  MigratingSource src;
  auto r = best_sample(src, 3);
  REQUIRE(r.ok());
  CHECK(src.calls_ == 3);
  CHECK(r->snapshot.page.disruption_marker == 2);
  REQUIRE(r->sample.has_value());
  CHECK(r->sample->disruption_marker == 2);
}
