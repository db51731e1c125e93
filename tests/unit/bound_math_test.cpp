// SPDX-License-Identifier: Apache-2.0
// FastBound (src/core/bound_math.h), libvmclock's per-call arithmetic, against
// time_at(), the exact reference: never below the exact bound, at most 3 ns
// above it (its deliberate rounding up), and nullopt outside its range.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>

#include "bound_math.h"
#include "counter.h"
#include "time_math.h"

using namespace vmc;
using abi::Flag;

namespace {

Page page(uint64_t period, uint8_t shift, uint64_t rate, uint64_t maxerror) {
  Page p;
  p.counter_id = kNativeCounter;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_value = 5'000'000'000'000ULL;
  p.counter_period_frac_sec = period;
  p.counter_period_shift = shift;
  p.counter_period_maxerror_rate_frac_sec = rate;
  p.time_sec = 1'795'000'000;
  p.time_frac_sec = 0x8000000000000001ULL;
  p.time_maxerror_nanosec = maxerror;
  p.flags = abi::Flags{}.with(Flag::time_maxerror_valid).with(Flag::period_maxerror_valid);
  return p;
}

// ceil(|page time(c) - rt|) + maxerror(c), from time_at().
uint64_t exact(const Page& p, int adj, uint64_t c, int64_t rt) {
  auto t = time_at(p, c);
  REQUIRE(t.ok());
  REQUIRE(t->maxerror_ns.has_value());
  i128 tq = (static_cast<i128>(t->time.sec.count + adj) * kNsPerSec << 64) +
            static_cast<i128>(static_cast<u128>(t->time.frac.raw) * kNsPerSec);
  i128 off = tq - (static_cast<i128>(rt) << 64);
  u128 a = off < 0 ? static_cast<u128>(-off) : static_cast<u128>(off);
  return static_cast<uint64_t>((a >> 64) + ((static_cast<uint64_t>(a) != 0) ? 1 : 0)) + *t->maxerror_ns;
}

}  // namespace

TEST_CASE("FastBound never below the exact bound, at most 3 ns above it") {
  std::mt19937_64 rng(20261123);
  // A 3 GHz TSC at two scalings, a 25 MHz arm counter: 2^(64+shift) / f.
  struct Cal { uint64_t period; uint8_t shift; } cals[] = {
      {13'204'693'752'377'389'056ULL, 31}, {825'293'359'523'586'816ULL, 27}, {12'379'400'392'853'802'748ULL, 24}};
  for (auto cal : cals) {
    for (int adj : {0, -37}) {
      Page p = page(cal.period, cal.shift, cal.period / 10'000'000, 1000);
      auto f = FastBound::from(p, adj);
      REQUIRE(f.has_value());
      for (int i = 0; i < 20000; ++i) {
        // Counters within ~1 day either side, realtimes within ~1 h of the page.
        int64_t d = static_cast<int64_t>(rng() % (uint64_t{1} << 47)) * ((rng() & 1) ? 1 : -1);
        uint64_t c = p.counter_value + static_cast<uint64_t>(d);
        int64_t rt = static_cast<int64_t>(p.time_sec + static_cast<uint64_t>(adj)) * kNsPerSec +
                     static_cast<int64_t>(rng() % 7'200'000'000'000ULL) - 3'600'000'000'000LL;
        auto b = f->at(c, rt);
        REQUIRE(b.has_value());
        uint64_t e = exact(p, adj, c, rt);
        CHECK(*b >= e);
        CHECK(*b <= e + 3);
      }
    }
  }
}

TEST_CASE("FastBound refuses what it cannot do exactly") {
  Page p = page(13'204'693'752'377'389'056ULL, 31, 1'320'469'375'237ULL, 1000);
  // No valid maxerror: no bound at all.
  Page nomax = p;
  nomax.flags = abi::Flags{};
  CHECK_FALSE(FastBound::from(nomax, 0).has_value());
  // Rate invalid: only at counter_value itself, as time_at() says.
  Page norate = p;
  norate.flags = abi::Flags{}.with(Flag::time_maxerror_valid);
  auto f = FastBound::from(norate, 0);
  REQUIRE(f.has_value());
  CHECK(f->at(p.counter_value, static_cast<int64_t>(p.time_sec) * kNsPerSec).has_value());
  CHECK_FALSE(f->at(p.counter_value + 1, static_cast<int64_t>(p.time_sec) * kNsPerSec).has_value());
  // Beyond 2^48 ticks: the caller falls back to time_at().
  auto g = FastBound::from(p, 0);
  REQUIRE(g.has_value());
  CHECK_FALSE(g->at(p.counter_value + (uint64_t{1} << 49), 0).has_value());
  CHECK(g->at(p.counter_value + (uint64_t{1} << 47), static_cast<int64_t>(p.time_sec) * kNsPerSec).has_value());
  // Times past 2116 and counters slower than 64 kHz are outside the range.
  Page far = p;
  far.time_sec = 5'000'000'000ULL;
  CHECK_FALSE(FastBound::from(far, 0).has_value());
  Page slow = p;
  slow.counter_period_frac_sec = ~0ULL;
  slow.counter_period_shift = 0;
  CHECK_FALSE(FastBound::from(slow, 0).has_value());  // ~1 s per tick
}
