// SPDX-License-Identifier: Apache-2.0
// The Sampler (src/core/sampler.h): the sample from the calibration cached
// per seq_count is the sample sample_from() gives for the same readings,
// exactly (reference to the 2^-64 s, offset, maxerror and esterror to the
// ns), over random pages and counter deltas on the real counter.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "counter.h"
#include "page_source.h"
#include "page_writer.h"
#include "sampler.h"
#include "cross_timestamp.h"

using namespace vmc;
using abi::Flag;

namespace {

// sample_from() on the readings the sample itself carries: before is
// system - bracket/2, after is before + bracket.
void check_same(const Sampler& sampler, const Sample& s) {
  Snapshot snap;
  snap.page = sampler.page();
  snap.counter = s.counter;
  snap.before = SysTime{s.system.ns - s.bracket_ns / 2};
  snap.after = SysTime{snap.before.ns + s.bracket_ns};
  auto o = sample_from(snap);
  REQUIRE_MESSAGE(o.sample.has_value(), o.why_not);
  const Sample& e = *o.sample;
  CHECK(s.counter == e.counter);
  CHECK(s.reference.sec.count == e.reference.sec.count);
  CHECK(s.reference.frac.raw == e.reference.frac.raw);
  CHECK(s.system.ns == e.system.ns);
  CHECK(s.offset.count == e.offset.count);
  CHECK(s.maxerror_ns == e.maxerror_ns);
  CHECK(s.esterror_ns == e.esterror_ns);
  CHECK(s.bracket_ns == e.bracket_ns);
  CHECK(s.leap == e.leap);
  CHECK(s.disruption_marker == e.disruption_marker);
  CHECK(s.vm_generation_counter == e.vm_generation_counter);
  CHECK(s.seq == e.seq);
}

Page random_page(std::mt19937_64& rng) {
  auto pick = [&](uint64_t n) { return rng() % n; };
  Page p;
  p.counter_id = kNativeCounter;
  p.clock_status = pick(2) ? abi::ClockStatus::synchronized : abi::ClockStatus::freerunning;
  p.time_type = abi::TimeType::utc;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid);
  if (pick(8) != 0) p.flags = p.flags.with(Flag::period_maxerror_valid);
  if (pick(2)) p.flags = p.flags.with(Flag::time_esterror_valid);
  if (pick(2)) p.flags = p.flags.with(Flag::period_esterror_valid);
  if (pick(4) == 0) {
    p.time_type = abi::TimeType::tai;
    p.flags = p.flags.with(Flag::tai_offset_valid);
    p.tai_offset_sec = pick(2) ? 37 : -37;
  }
  if (pick(2)) {
    p.flags = p.flags.with(Flag::vm_gen_counter_present);
    p.vm_generation_counter = rng();
  }
  p.leap_indicator = static_cast<abi::LeapIndicator>(pick(4));
  p.disruption_marker = rng();
  // Periods around 1-5 GHz at a random shift, sometimes anything at all.
  p.counter_period_shift = static_cast<uint8_t>(pick(10) == 0 ? pick(80) : pick(33));
  const long double hz = 1e9L + static_cast<long double>(pick(4'000'000'000ULL));
  long double period = 18446744073709551616.0L * static_cast<long double>(uint64_t{1} << (p.counter_period_shift % 33)) / hz;
  p.counter_period_frac_sec = pick(10) == 0 ? rng() | 1 : static_cast<uint64_t>(period);
  p.counter_period_maxerror_rate_frac_sec = pick(10) == 0 ? rng() : p.counter_period_frac_sec / (1 + pick(100'000'000));
  p.counter_period_esterror_rate_frac_sec = pick(10) == 0 ? rng() : p.counter_period_frac_sec / (1 + pick(1'000'000'000));
  p.time_maxerror_nanosec = pick(10) == 0 ? rng() >> pick(64) : pick(1'000'000);
  p.time_esterror_nanosec = pick(10) == 0 ? rng() >> pick(64) : pick(100'000);
  // Mostly now; sometimes anywhere (offsets that do not fit, times past 2242).
  const int64_t now = realtime_now().ns;
  switch (pick(8)) {
    case 0: p.time_sec = rng() >> pick(64); break;
    case 1: p.time_sec = uint64_t{1} << 33 | pick(1000); break;
    default: p.time_sec = static_cast<uint64_t>(now / kNsPerSec) + pick(3) - 1; break;
  }
  p.time_frac_sec = rng();
  // counter_value this far behind (or ahead of) the counter read next.
  uint64_t behind = 0;
  switch (pick(6)) {
    case 0: behind = 0; break;
    case 1: behind = pick(1000); break;
    case 2: behind = rng() >> (16 + pick(48)); break;
    case 3: behind = uint64_t{1} << (20 + pick(30)); break;
    case 4: behind = 0 - (1 + pick(1'000'000)); break;  // ahead: a negative delta
    default: behind = pick(4'000'000'000ULL); break;
  }
  p.counter_value = read_counter() - behind;
  return p;
}

}  // namespace

TEST_CASE("Sampler: the cached path gives sample_from()'s sample, exactly, over random pages") {
  std::mt19937_64 rng(20240607);
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  Sampler sampler(src);
  uint64_t samples = 0, refused = 0;
  for (int i = 0; i < 20'000; ++i) {
    w.publish(random_page(rng));
    for (int k = 0; k < 4; ++k) {
      Sample s;
      auto r = sampler.sample(s);
      REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
      // Refused: sample_from() refuses the same page (a counter read
      // later cannot be checked, but the page alone decides these).
      if (!*r) {
        ++refused;
        CHECK_FALSE(sampler.why_not().empty());
        continue;
      }
      ++samples;
      check_same(sampler, s);
    }
  }
  MESSAGE(samples << " samples, " << refused << " refused, " << sampler.slow_reads() << " full reads, "
                  << sampler.exact_fallbacks() << " through time_at()");
  CHECK(samples + refused - sampler.exact_fallbacks() > 30'000);  // the cached arithmetic, checked above
  CHECK(sampler.slow_reads() == 20'000);  // one per publish: the other three took the cached path
  CHECK(samples > 40'000);
}

TEST_CASE("Sampler: refusals are sample_from()'s") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  Sampler sampler(src);
  std::mt19937_64 rng(7);
  Page p = random_page(rng);
  p.time_type = abi::TimeType::utc;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid).with(Flag::period_maxerror_valid);
  p.counter_period_frac_sec = 18446744074ULL;  // 1 GHz (2^20 was 17 THz: no counter, refused as no-period)
  p.counter_period_shift = 0;
  p.time_sec = 1'700'000'000;
  p.counter_value = read_counter();
  SUBCASE("unusable page: the validity's reason") {
    p.clock_status = abi::ClockStatus::unreliable;
    w.publish(p);
    Sample s;
    for (int k = 0; k < 3; ++k) {
      auto r = sampler.sample(s);
      REQUIRE(r.ok());
      CHECK_FALSE(*r);
      CHECK(sampler.why_not() == describe(Unusable::status_unreliable, sampler.page()));
    }
    CHECK(sampler.slow_reads() == 1);
  }
  SUBCASE("no valid maxerror") {
    p.flags = abi::Flags{}.with(Flag::time_maxerror_valid);  // no rate: no bound away from counter_value
    w.publish(p);
    Sample s;
    auto r = sampler.sample(s);
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
    CHECK(sampler.why_not().find("no valid maxerror") != std::string::npos);
  }
  SUBCASE("a page error is take_snapshot's error") {
    w.publish(p);
    Sample s;
    REQUIRE(sampler.sample(s).ok());
    src.writable()[0] = 0;  // magic gone, seq_count unchanged
    sampler.invalidate();
    auto r = sampler.sample(s);
    REQUIRE_FALSE(r.ok());
    auto t = take_snapshot(src);
    REQUIRE_FALSE(t.ok());
    CHECK(r.error().message == t.error().message);
  }
}

TEST_CASE("Sampler: a new seq_count takes the full path once; best() is best_sample()'s choice") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  std::mt19937_64 rng(11);
  Page p = random_page(rng);
  p.time_type = abi::TimeType::utc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_period_shift = 8;
  p.counter_period_frac_sec = static_cast<uint64_t>(18446744073709551616.0L * 256.0L / 2.5e9L);
  p.counter_period_maxerror_rate_frac_sec = p.counter_period_frac_sec / 10'000'000;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid).with(Flag::period_maxerror_valid);
  p.time_sec = static_cast<uint64_t>(realtime_now().ns / kNsPerSec);
  p.time_maxerror_nanosec = 1000;
  p.counter_value = read_counter();
  w.publish(p);
  Sampler sampler(src);
  Sample s;
  for (int k = 0; k < 10; ++k) REQUIRE(*sampler.sample(s));
  CHECK(sampler.slow_reads() == 1);
  CHECK(s.seq == 2);
  w.publish(p);
  REQUIRE(*sampler.sample(s));
  CHECK(sampler.slow_reads() == 2);
  CHECK(s.seq == 4);
  auto b = sampler.best(8);
  REQUIRE(b.ok());
  REQUIRE(b->sample.has_value());
  CHECK(sampler.slow_reads() == 2);
  CHECK(b->snapshot.page == sampler.page());
  CHECK(b->sample->bracket_ns == b->snapshot.bracket_ns());
  check_same(sampler, *b->sample);
}

TEST_CASE("Sampler: a host stuck mid-update is a typed seqlock failure, in sample() and best()") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  std::mt19937_64 rng(12);
  w.publish(random_page(rng));
  w.publish_stuck(random_page(rng));
  SeqlockLimits lim;
  lim.time_limit_ns = 5'000'000;
  Sampler sampler(src, lim);
  Sample s;
  auto one = sampler.sample(s);
  REQUIRE_FALSE(one.ok());
  CHECK(one.error().seqlock == SeqlockFailure::stuck_odd);
  auto b = sampler.best(3);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().seqlock == SeqlockFailure::stuck_odd);
  CHECK(b.error().code == Errc::data);
}

TEST_CASE("Sampler: a page file is read under the SIGBUS guard, refresh() drops the cache") {
  char path[] = "/tmp/vmc-sampler.XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, 4096) == 0);
  alignas(8) uint8_t buf[4096] = {};
  PageWriter w(buf, sizeof buf);
  std::mt19937_64 rng(3);
  Page p = random_page(rng);
  p.time_type = abi::TimeType::utc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_period_shift = 0;
  p.counter_period_frac_sec = 18446744074ULL;
  p.counter_period_maxerror_rate_frac_sec = 18447;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid).with(Flag::period_maxerror_valid);
  p.time_sec = static_cast<uint64_t>(realtime_now().ns / kNsPerSec);
  p.time_maxerror_nanosec = 1000;
  p.counter_value = read_counter();
  w.publish(p);
  REQUIRE(pwrite(fd, buf, sizeof buf, 0) == static_cast<ssize_t>(sizeof buf));
  auto src = open_page_source(path);
  REQUIRE(src.ok());
  Sampler sampler(**src);
  Sample s;
  for (int k = 0; k < 5; ++k) {
    REQUIRE(*sampler.sample(s));
    check_same(sampler, s);
  }
  CHECK(sampler.slow_reads() == 1);
  REQUIRE(sampler.refresh().ok());
  REQUIRE(*sampler.sample(s));
  CHECK(sampler.slow_reads() == 2);
  // Truncated under the mapping: an error, not a crash.
  REQUIRE(ftruncate(fd, 0) == 0);
  auto r = sampler.sample(s);
  CHECK_FALSE(r.ok());
  close(fd);
  unlink(path);
}
