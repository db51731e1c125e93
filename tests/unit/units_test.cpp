// SPDX-License-Identifier: Apache-2.0
// The unit types (src/core/units.h): 2^-64 fractions to nanoseconds and back,
// and diff_ns() rounding. Expected values from Python integers:
//   to_ns_floor(f)   = (f * 10^9) >> 64
//   to_ns_nearest(f) = (f * 10^9 + 2^63) >> 64
//   from_ns(n)       = ceil(n * 2^64 / 10^9)
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>

#include "units.h"

using namespace vmc;

TEST_CASE("units: Frac64 to nanoseconds") {
  CHECK(Frac64{0}.to_ns_floor().count == 0);
  CHECK(Frac64{0xffffffffffffffffULL}.to_ns_floor().count == 999999999);
  CHECK(Frac64{0xffffffffffffffffULL}.to_ns_nearest().count == 1000000000);  // rounds up into the next second
  CHECK(Frac64{1ULL << 63}.to_ns_floor().count == 500000000);
  CHECK(Frac64{1ULL << 62}.to_ns_floor().count == 250000000);
  // 1 ns = 18446744073.709551616 units
  CHECK(Frac64{18446744073ULL}.to_ns_floor().count == 0);
  CHECK(Frac64{18446744073ULL}.to_ns_nearest().count == 1);
  CHECK(Frac64{18446744074ULL}.to_ns_floor().count == 1);
  // 0.5 ns = 9223372036.854775808: 9223372036 -> 0, 9223372037 -> 1 (nearest)
  CHECK(Frac64{9223372036ULL}.to_ns_nearest().count == 0);
  CHECK(Frac64{9223372037ULL}.to_ns_nearest().count == 1);
  // 0x123456789abcdef0 -> 71111111.1111... ns
  CHECK(Frac64{0x123456789abcdef0ULL}.to_ns_floor().count == 71111111);
  CHECK(Frac64{0x123456789abcdef0ULL}.to_ns_nearest().count == 71111111);
}

TEST_CASE("units: Frac64::from_ns round-trips through to_ns_floor") {
  CHECK(Frac64::from_ns(0).raw == 0);
  CHECK(Frac64::from_ns(1).raw == 18446744074ULL);                    // ceil(2^64 / 1e9)
  CHECK(Frac64::from_ns(500000000).raw == (1ULL << 63));              // exact
  CHECK(Frac64::from_ns(999999999).raw == 18446744055262807543ULL);   // ceil(999999999 * 2^64 / 1e9)
  for (uint32_t ns : {0u, 1u, 2u, 3u, 7u, 999u, 1000u, 123456789u, 499999999u, 500000000u, 500000001u,
                      999999998u, 999999999u}) {
    CAPTURE(ns);
    CHECK(Frac64::from_ns(ns).to_ns_floor().count == ns);
    CHECK(Frac64::from_ns(ns).to_ns_nearest().count == ns);
  }
  // Exhaustive over a stride: every millionth nanosecond, plus the last 1000.
  for (uint32_t ns = 0; ns < 1'000'000'000u; ns += 999'983u)
    if (Frac64::from_ns(ns).to_ns_floor().count != ns) FAIL("from_ns(" << ns << ") does not round-trip");
  for (uint32_t ns = 999'999'000u; ns < 1'000'000'000u; ++ns)
    if (Frac64::from_ns(ns).to_ns_floor().count != ns) FAIL("from_ns(" << ns << ") does not round-trip");
}

TEST_CASE("units: diff_ns rounds to nearest") {
  const int64_t s = 1'700'000'000;
  auto t = [&](int64_t sec, uint64_t frac) { return Time64{Seconds{sec}, Frac64{frac}}; };
  CHECK(diff_ns(t(s, 0), SysTime{s * kNsPerSec})->count == 0);
  CHECK(diff_ns(t(s, 0), SysTime{s * kNsPerSec - 37'500})->count == 37'500);
  CHECK(diff_ns(t(s, 0), SysTime{s * kNsPerSec + 37'500})->count == -37'500);
  CHECK(diff_ns(t(s, 1ULL << 63), SysTime{s * kNsPerSec})->count == 500'000'000);
  // Half a nanosecond is 9223372036.854775808 units, not representable:
  // frac 9223372037 is 0.50000000001 ns -> 1; 9223372036 is 0.49999999999 ns -> 0.
  CHECK(diff_ns(t(s, 9223372037ULL), SysTime{s * kNsPerSec})->count == 1);
  CHECK(diff_ns(t(s, 9223372036ULL), SysTime{s * kNsPerSec})->count == 0);
  CHECK(diff_ns(t(s, 9223372037ULL), SysTime{s * kNsPerSec + 1})->count == 0);   // -0.49999999999
  CHECK(diff_ns(t(s, 9223372036ULL), SysTime{s * kNsPerSec + 1})->count == -1);  // -0.50000000001
  // Across seconds and before the epoch.
  CHECK(diff_ns(t(-1, 1ULL << 63), SysTime{0})->count == -500'000'000);
  CHECK(diff_ns(t(0, 0), SysTime{-1'500'000'000})->count == 1'500'000'000);
  CHECK(diff_ns(t(s + 10, 0), SysTime{s * kNsPerSec})->count == 10 * kNsPerSec);
}

TEST_CASE("units: diff_ns refuses an offset that does not fit in int64") {
  // |offset| < 2^63 ns (~292 years). A page at 2^40 s (year ~36800) against
  // a 2023 system time is ~1.1e21 ns away: no offset, not a wrapped one.
  CHECK_FALSE(diff_ns(Time64{Seconds{1LL << 40}, Frac64{0}}, SysTime{1'700'000'000LL * kNsPerSec}).has_value());
  CHECK_FALSE(diff_ns(Time64{Seconds{INT64_MAX}, Frac64{~0ULL}}, SysTime{INT64_MIN}).has_value());
  CHECK_FALSE(diff_ns(Time64{Seconds{-(1LL << 40)}, Frac64{0}}, SysTime{0}).has_value());
  // 9223372036 s = floor((2^63 - 1) / 1e9) still fits: 9223372036000000000 ns
  auto edge = diff_ns(Time64{Seconds{9'223'372'036LL}, Frac64{0}}, SysTime{0});
  REQUIRE(edge.has_value());
  CHECK(edge->count == 9'223'372'036'000'000'000LL);
  // 9223372037 s does not (> 2^63 - 1 ns)
  CHECK_FALSE(diff_ns(Time64{Seconds{9'223'372'037LL}, Frac64{0}}, SysTime{0}).has_value());
  // but far apart in absolute terms and close to each other is fine
  auto near = diff_ns(Time64{Seconds{9'000'000'000LL}, Frac64{0}}, SysTime{9'000'000'000LL * kNsPerSec - 5});
  REQUIRE(near.has_value());
  CHECK(near->count == 5);
}

TEST_CASE("units: comparisons and arithmetic") {
  CHECK(Nanoseconds{5} + Nanoseconds{-7} == Nanoseconds{-2});
  CHECK(Nanoseconds{5} - Nanoseconds{7} == Nanoseconds{-2});
  CHECK(Nanoseconds{1} < Nanoseconds{2});
  CHECK(Time64{Seconds{1}, Frac64{0}} > Time64{Seconds{0}, Frac64{0xffffffffffffffffULL}});
  CHECK(Time64{Seconds{-1}, Frac64{5}} < Time64{Seconds{0}, Frac64{0}});
  CHECK(Time64{Seconds{3}, Frac64{1ULL << 63}}.nsec_floor().count == 500'000'000);
  CHECK(SysTime{1} < SysTime{2});
}
