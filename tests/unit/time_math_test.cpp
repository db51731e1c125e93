// SPDX-License-Identifier: Apache-2.0
// time_at() and error_growth_ns() (src/core/time_math.cpp) against values
// computed independently with Python integers (fractions, no floats):
//
//   period      = round(2^(64+shift) / f)
//   d           = counter - counter_value                      (signed)
//   exact       = (time_sec*2^64 + time_frac_sec)*2^shift + d*period
//                                                  in units of 2^-(64+shift) s
//   t64         = exact // 2^shift        (floor to 2^-64 s, Python floor)
//   sec, frac   = t64 >> 64, t64 & (2^64-1)
//   ns          = (frac * 10^9) >> 64                           (floored)
//   error(rate) = base_ns + ceil(|d| * rate * 10^9 / 2^(64+shift))  (rounded up)
//
// The literals below are the script's output; the formula of each table is
// in the comment above it.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "time_math.h"

using namespace vmc;
using abi::Flag;

namespace {

constexpr uint64_t kTimeSec = 1'700'000'000;
constexpr uint64_t kFrac = 0x123456789abcdef0ULL;
constexpr uint64_t kCounterValue = 2'000'000'000'000'000'000ULL;

abi::Flags all_error_flags() {
  return abi::Flags{}
      .with(Flag::time_maxerror_valid)
      .with(Flag::period_maxerror_valid)
      .with(Flag::time_esterror_valid)
      .with(Flag::period_esterror_valid);
}

Page calib(uint64_t period, uint8_t shift, uint64_t mx_rate, uint64_t es_rate) {
  Page p;
  p.counter_id = abi::CounterId::x86_tsc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.time_sec = kTimeSec;
  p.time_frac_sec = kFrac;
  p.counter_value = kCounterValue;
  p.counter_period_frac_sec = period;
  p.counter_period_shift = shift;
  p.counter_period_maxerror_rate_frac_sec = mx_rate;
  p.counter_period_esterror_rate_frac_sec = es_rate;
  p.time_maxerror_nanosec = 1000;
  p.time_esterror_nanosec = 100;
  p.flags = all_error_flags();
  return p;
}

struct Row {
  int64_t delta;
  int64_t sec;
  uint64_t frac;
  int64_t ns;
  uint64_t maxerror;
  uint64_t esterror;
};

void check_rows(const Page& p, const Row* rows, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const Row& r = rows[i];
    CAPTURE(i);
    CAPTURE(r.delta);
    auto t = time_at(p, p.counter_value + static_cast<uint64_t>(r.delta));
    REQUIRE_MESSAGE(t.ok(), (t.ok() ? std::string() : t.error().message));
    CHECK(t->delta_ticks == r.delta);
    CHECK(t->time.sec.count == r.sec);
    CHECK(t->time.frac.raw == r.frac);
    CHECK(t->time.nsec_floor().count == r.ns);
    REQUIRE(t->maxerror_ns.has_value());
    CHECK(*t->maxerror_ns == r.maxerror);
    REQUIRE(t->esterror_ns.has_value());
    CHECK(*t->esterror_ns == r.esterror);
  }
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

}  // namespace

// Deltas: 1 tick, 1 hour = 3600*f ticks, 10 years = 315576000*f ticks
// (10 * 365.25 * 86400 s), and at shift 0 the same backwards.
// maxerror rate = round(period / 10^6) (1 ppm), esterror rate =
// round(period * 5e-8) (50 ppb); base maxerror 1000 ns, esterror 100 ns.

TEST_CASE("time_at: 1 GHz counter, shift 0") {
  // period = round(2^64 / 1e9) = 18446744074; rates 18447, 922
  static const Row rows[] = {
      {1LL, 1700000000LL, 0x1234567ce63fd8faULL, 71111112, 1001ULL, 101ULL},
      {3600000000000LL, 1700003600LL, 0x1234576c0e331ef0ULL, 71111167, 3601050ULL, 180035ULL},
      {315576000000000000LL, 2015576000LL, 0x1379f96d4a1fdef0ULL, 76079930, 315580379236ULL, 15773031419ULL},
      {-1LL, 1700000000LL, 0x123456744f39e4e6ULL, 71111110, 1001ULL, 101ULL},
      {-3600000000000LL, 1699996400LL, 0x1234558527469ef0ULL, 71111054, 3601050ULL, 180035ULL},
      {-315576000000000000LL, 1384424000LL, 0x10eeb383eb59def0ULL, 66142291, 315580379236ULL, 15773031419ULL},
  };
  check_rows(calib(18446744074ULL, 0, 18447, 922), rows, std::size(rows));
}

TEST_CASE("time_at: 3.7 GHz counter, shift 0") {
  // period = round(2^64 / 3.7e9) = 4985606506; rates 4986, 249
  static const Row rows[] = {
      {1LL, 1700000000LL, 0x12345679c3e7305aULL, 71111111, 1001ULL, 101ULL},
      {13320000000000LL, 1700003600LL, 0x123451875019fef0ULL, 71110816, 3601285ULL, 179898ULL},
      {1167631200000000000LL, 2015576000LL, 0xb97e6f786c65ef0ULL, 45286593, 315600908127ULL, 15761056233ULL},
      {-1LL, 1700000000LL, 0x1234567771928d86ULL, 71111110, 1001ULL, 101ULL},
      {-13320000000000LL, 1699996400LL, 0x12345b69e55fbef0ULL, 71111405, 3601285ULL, 179898ULL},
      {-1167631200000000000LL, 1384424000LL, 0x18d0c5f9aeb35ef0ULL, 96935628, 315600908127ULL, 15761056233ULL},
  };
  check_rows(calib(4985606506ULL, 0, 4986, 249), rows, std::size(rows));
}

// The largest shift at which each period still fits 64 bits
// (2^shift < f): 29 for 1 GHz, 31 for 3.7 GHz. Positive deltas only here:
// backwards at shift > 0 is in "time_at: rounding".
TEST_CASE("time_at: 1 GHz counter, shift 29") {
  // period = round(2^93 / 1e9) = 9903520314283042199;
  // rates round(period/1e6) = 9903520314283, round(period*5e-8) = 495176015714
  static const Row rows[] = {
      {1LL, 1700000000LL, 0x1234567ce63fd8f9ULL, 71111112, 1001ULL, 101ULL},
      {3600000000000LL, 1700003600LL, 0x123456789abcd9e1ULL, 71111111, 3601000ULL, 180100ULL},
      {315576000000000000LL, 2015576000LL, 0x1234567893f9de7eULL, 71111111, 315576001000ULL, 15778800100ULL},
  };
  check_rows(calib(9903520314283042199ULL, 29, 9903520314283ULL, 495176015714ULL), rows, std::size(rows));
}

TEST_CASE("time_at: 3.7 GHz counter, shift 31") {
  // period = round(2^95 / 3.7e9) = 10706508447873559134;
  // rates round(period/1e6) = 10706508447874, round(period*5e-8) = 535325422394
  static const Row rows[] = {
      {1LL, 1700000000LL, 0x12345679c3e7305aULL, 71111111, 1001ULL, 101ULL},
      {13320000000000LL, 1700003600LL, 0x123456789abcd892ULL, 71111111, 3601001ULL, 180101ULL},
      {1167631200000000000LL, 2015576000LL, 0x123456789239689dULL, 71111111, 315576001001ULL, 15778800101ULL},
  };
  check_rows(calib(10706508447873559134ULL, 31, 10706508447874ULL, 535325422394ULL), rows, std::size(rows));
}

TEST_CASE("time_at: shift 63") {
  // No real counter has a period below 2^-63 s, so the period is synthetic:
  // period = 0xfedcba9876543210 (in 2^-127 s), maxerror rate 2^64 - 1
  // (~2^-63 s per tick), esterror rate 0. Deltas 1, 2^40, 2^63 - 1.
  // (Growth below 2^-64 s is in "error_growth_ns: a bound below 2^-64 s".)
  static const Row rows[] = {
      {1LL, 1700000000LL, 0x123456789abcdef1ULL, 71111111, 1001ULL, 100ULL},
      {1099511627776LL, 1700000000LL, 0x1234587654320fdcULL, 71111229, 1120ULL, 100ULL},
      {9223372036854775807LL, 1700000001LL, 0x11111111111110feULL, 66666666, 1000001000ULL, 100ULL},
  };
  check_rows(calib(0xfedcba9876543210ULL, 63, 0xffffffffffffffffULL, 0), rows, std::size(rows));
}

TEST_CASE("time_at: shift beyond 63 does not crash") {
  // Not meaningful, but a page can hold any u8: ticks so short they add
  // nothing (shift >= 128: the product is shifted out entirely).
  Page p = calib(0xffffffffffffffffULL, 200, 0, 0);
  auto t = time_at(p, p.counter_value + 1'000'000);
  REQUIRE(t.ok());
  CHECK(t->time.sec.count == static_cast<int64_t>(kTimeSec));
  CHECK(t->time.frac.raw == kFrac);
}

TEST_CASE("time_at: at counter_value the page's own time and bounds") {
  Page p = calib(18446744074ULL, 0, 18447, 922);
  auto t = time_at(p, p.counter_value);
  REQUIRE(t.ok());
  CHECK(t->delta_ticks == 0);
  CHECK(t->time.sec.count == 1700000000);
  CHECK(t->time.frac.raw == kFrac);
  CHECK(t->time.nsec_floor().count == 71111111);  // (0x123456789abcdef0 * 1e9) >> 64
  CHECK(t->maxerror_ns == 1000u);
  CHECK(t->esterror_ns == 100u);
}

TEST_CASE("time_at: negative deltas give a time before time_sec") {
  const uint64_t per1g = 18446744074ULL;  // round(2^64 / 1e9)
  SUBCASE("crossing below time_sec's whole second") {
    // time_sec 1.7e9, frac 2^62 (0.25 s), d = -5e8 ticks (-0.5 s at 1 GHz):
    // t64 = (1.7e9*2^64 + 2^62) - 5e8*18446744074
    //     -> sec 1699999999, frac 13835058055136939520, ns 749999999
    Page p = calib(per1g, 0, 0, 0);
    p.time_frac_sec = 1ULL << 62;
    auto t = time_at(p, p.counter_value - 500'000'000);
    REQUIRE(t.ok());
    CHECK(t->delta_ticks == -500'000'000);
    CHECK(t->time.sec.count == 1699999999);
    CHECK(t->time.frac.raw == 13835058055136939520ULL);
    CHECK(t->time.nsec_floor().count == 749999999);
  }
  SUBCASE("one tick before a whole second") {
    // 3.7 GHz, shift 0, frac 0, d = -1: t64 = 1.7e9*2^64 - 4985606506
    //     -> sec 1699999999, frac 2^64 - 4985606506 = 18446744068723945110
    Page p = calib(4985606506ULL, 0, 0, 0);
    p.time_frac_sec = 0;
    auto t = time_at(p, p.counter_value - 1);
    REQUIRE(t.ok());
    CHECK(t->time.sec.count == 1699999999);
    CHECK(t->time.frac.raw == 18446744068723945110ULL);
    CHECK(t->time.nsec_floor().count == 999999999);
  }
  SUBCASE("before the epoch: negative seconds, positive fraction") {
    // time 0.0, d = -1 at 1 GHz: t64 = -18446744074
    //     -> sec -1, frac 2^64 - 18446744074 = 18446744055262807542, ns 999999998
    Page p = calib(per1g, 0, 0, 0);
    p.time_sec = 0;
    p.time_frac_sec = 0;
    auto t = time_at(p, p.counter_value - 1);
    REQUIRE(t.ok());
    CHECK(t->delta_ticks == -1);
    CHECK(t->time.sec.count == -1);
    CHECK(t->time.frac.raw == 18446744055262807542ULL);
    CHECK(t->time.nsec_floor().count == 999999998);
    // d = -1.5e9: t64 = -1.5e9*18446744074 -> sec -2, frac 9223372036419103232
    auto u = time_at(p, p.counter_value - 1'500'000'000);
    REQUIRE(u.ok());
    CHECK(u->time.sec.count == -2);
    CHECK(u->time.frac.raw == 9223372036419103232ULL);
    CHECK(u->time.nsec_floor().count == 499999999);
  }
  SUBCASE("a counter that wrapped past zero is still a small positive delta") {
    Page p = calib(per1g, 0, 0, 0);
    p.counter_value = 0xffffffffffffff00ULL;
    auto t = time_at(p, 0x10);  // 0x110 = 272 ticks later
    REQUIRE(t.ok());
    CHECK(t->delta_ticks == 272);
  }
}

TEST_CASE("time_at: rounding, time floored (also backwards) and errors rounded up") {
  SUBCASE("forwards: half a 2^-64 unit is dropped") {
    // time 1.0 s, period 1 at shift 1 (2^-65 s per tick), d = +1:
    // exact 1 + 2^-65 s -> t64 = 2^64 -> sec 1, frac 0, ns 0
    Page p = calib(1, 1, 0, 0);
    p.time_sec = 1;
    p.time_frac_sec = 0;
    auto t = time_at(p, p.counter_value + 1);
    REQUIRE(t.ok());
    CHECK(t->time.sec.count == 1);
    CHECK(t->time.frac.raw == 0);
  }
  SUBCASE("backwards: the floor, not the ceiling") {
    // time 1.0 s, period 1 at shift 1, d = -1:
    // exact = 2^65 - 1 (units 2^-65 s); t64 = exact // 2 = 2^64 - 1
    //   -> sec 0, frac 0xffffffffffffffff, ns 999999999
    // i.e. 0.999999999 s, not 1.000000000 s.
    Page p = calib(1, 1, 0, 0);
    p.time_sec = 1;
    p.time_frac_sec = 0;
    auto t = time_at(p, p.counter_value - 1);
    REQUIRE(t.ok());
    CHECK(t->time.sec.count == 0);
    CHECK(t->time.frac.raw == 0xffffffffffffffffULL);
    CHECK(t->time.nsec_floor().count == 999999999);
  }
  SUBCASE("backwards at a real shift (1 GHz, shift 29)") {
    // period = round(2^93/1e9) = 9903520314283042199, t64 = exact // 2^29
    Page p = calib(9903520314283042199ULL, 29, 0, 0);
    struct { int64_t d; int64_t sec; uint64_t frac; } rows[] = {
        {-1, 1700000000, 0x123456744f39e4e6ULL},
        {-3600000000000LL, 1699996400, 0x123456789abce3feULL},
        {-315576000000000000LL, 1384424000, 0x12345678a17fdf61ULL},
    };
    for (auto& r : rows) {
      CAPTURE(r.d);
      auto t = time_at(p, p.counter_value + static_cast<uint64_t>(r.d));
      REQUIRE(t.ok());
      CHECK(t->time.sec.count == r.sec);
      CHECK(t->time.frac.raw == r.frac);
    }
  }
  SUBCASE("backwards at shift 63") {
    // period 0xfedcba9876543210 at shift 63:
    //   d = -1     -> frac 0x123456789abcdeee
    //   d = -2^40  -> frac 0x1234547ae147ae03
    Page p = calib(0xfedcba9876543210ULL, 63, 0, 0);
    auto t = time_at(p, p.counter_value - 1);
    REQUIRE(t.ok());
    CHECK(t->time.sec.count == 1700000000);
    CHECK(t->time.frac.raw == 0x123456789abcdeeeULL);
    auto u = time_at(p, p.counter_value - (1ULL << 40));
    REQUIRE(u.ok());
    CHECK(u->time.frac.raw == 0x1234547ae147ae03ULL);
  }
  SUBCASE("nanoseconds are floored") {
    // ceil(999999999 * 2^64 / 1e9) = 18446744055262807543; one unit less
    // is still 999999998.99999999998 ns -> 999999998
    Page p = calib(18446744074ULL, 0, 0, 0);
    p.time_frac_sec = 18446744055262807542ULL;
    auto t = time_at(p, p.counter_value);
    REQUIRE(t.ok());
    CHECK(t->time.nsec_floor().count == 999999998);
    p.time_frac_sec = 18446744055262807543ULL;  // = ceil(999999999 * 2^64 / 1e9)
    CHECK(time_at(p, p.counter_value)->time.nsec_floor().count == 999999999);
  }
  SUBCASE("error growth rounded up") {
    // 1 tick at 1 ppm of 1 GHz: ceil(18447 * 1e9 / 2^64) = 1 ns
    Page p = calib(18446744074ULL, 0, 18447, 1);
    auto t = time_at(p, p.counter_value + 1);
    REQUIRE(t.ok());
    CHECK(t->maxerror_ns == 1001u);
    CHECK(t->esterror_ns == 101u);  // ceil(1 * 1e9 / 2^64) = 1
  }
}

TEST_CASE("time_at: random calibrations, both directions (Python reference)") {
  // Generated by a seeded script (random.seed(20261123)): shift from
  // {0,1,7,16,29,31,32,40,63}, period uniform in [1, 2^64), rates uniform in
  // [2^shift, 2^(shift+44)) (at least 2^-64 s per tick), time_sec in
  // [1e9, 3e9), frac uniform, |delta| in [2^20, 2^40) of either sign.
  // Expected values by the formulas at the top of this file (time floored
  // to 2^-64 s, Python floor division also for negative results; errors
  // base + ceil(|d| * rate * 1e9 / 2^(64+shift)), bases 1000 and 100).
  struct R {
    uint8_t shift;
    uint64_t period, mx_rate, es_rate, time_sec, time_frac;
    int64_t delta, sec;
    uint64_t frac, maxerror, esterror;
  };
  static const R rows[] = {
      {0, 10620290963206940043ULL, 16973270440803ULL, 8687236998963ULL, 1343409216ULL, 0x12e74f7bfab36728ULL, -719083857109LL, -412652673721LL, 0xda521b6b14e4de81ULL, 661645476707199ULL, 338642519453568ULL},
      {63, 2042815577292922500ULL, 14424001623453303487ULL, 17831835789254108784ULL, 2419324535ULL, 0xc20dbc210f8a7abfULL, 515613719753LL, 2419324535LL, 0xc20dbc3ba65b57c4ULL, 1044ULL, 155ULL},
      {1, 15283466103740095381ULL, 25537413043753ULL, 20746741627785ULL, 1244964918ULL, 0xa30f4300bbeeb636ULL, -450111910934LL, -185218025682LL, 0x33b074fc599be4cfULL, 311564299356594ULL, 253116633548602ULL},
      {31, 6822232407174068344ULL, 16333716343416398959ULL, 12024879015687141341ULL, 2891433401ULL, 0x4f1eaccf4372a2a7ULL, -60675005106LL, 2891433390LL, 0xdc1a111a5cdd71bbULL, 25017577859ULL, 18417935656ULL},
      {32, 12408326718322636669ULL, 13004808161297347395ULL, 4942129623335471570ULL, 1031603045ULL, 0xe83a9d40b183256eULL, 616104121660LL, 1031603142LL, 0x65fa868862d7c9deULL, 101129645502ULL, 38431617521ULL},
      {32, 13362997542407867699ULL, 2332832686927894401ULL, 4789053967786015505ULL, 2448838892ULL, 0x8744ee926d9336c0ULL, -177552723655LL, 2448838862LL, 0x94dded788cbb9bdaULL, 5227950056ULL, 10732415806ULL},
      {29, 16133799713664449806ULL, 6148924433554618305ULL, 3426323090501278931ULL, 2159807295ULL, 0x6763df9c0484f9d6ULL, -988036395614LL, 2159805685LL, 0xcbd9d741eba4198aULL, 613454706139ULL, 341831168121ULL},
      {1, 1744082444863365897ULL, 11682569452166ULL, 13825625602257ULL, 1997086259ULL, 0xf1c8046a3c6dd345ULL, 216837620543LL, 12247748541LL, 0x275ab5668306d060ULL, 68663080914189ULL, 81258669446934ULL},
      {32, 4799550702594298325ULL, 11179832538076219555ULL, 5010697183145044977ULL, 1048524306ULL, 0x513b7c4fd711cad0ULL, 390028283315LL, 1048524329LL, 0xf1dcefab52a395a2ULL, 55036628813ULL, 24666905889ULL},
      {31, 18387813907438215826ULL, 2763712215873863422ULL, 6657474401682348765ULL, 1821384859ULL, 0xb2f5280909af792ULL, 449754614405LL, 1821385067LL, 0xced5868e22007884ULL, 31377538546ULL, 75584987494ULL},
      {31, 2198308440399054599ULL, 6167091946495017756ULL, 5994758420901316729ULL, 2088342534ULL, 0x672a2d5b54fcf6eULL, 316429913889LL, 2088342551LL, 0x95b9c232f83d0f09ULL, 49261584550ULL, 47885015497ULL},
      {1, 17456681150239818593ULL, 15217993443389ULL, 26944954005196ULL, 2686417174ULL, 0xea695687a67e30edULL, -652757326367LL, -306175040147LL, 0xc8c9f8c3f3298f8dULL, 269252304718955ULL, 476737685123103ULL},
      {0, 5358988035977761216ULL, 7287598961488ULL, 10005342860569ULL, 1291577126ULL, 0xa1a79c5e25605538ULL, 989353158692LL, 288709872713LL, 0x333a94fb9237d438ULL, 390855373882641ULL, 536615975336814ULL},
      {40, 6646528283251628721ULL, 4460038893535065629ULL, 12063209413703927994ULL, 1850433027ULL, 0x3fd08dfb4ea578a6ULL, -271722053627LL, 1850433027LL, 0x290506eaef04e62eULL, 59751836ULL, 161610092ULL},
      {1, 3306315919795407445ULL, 32095701356752ULL, 4167095479948ULL, 1355461765ULL, 0xe0888a2eb3617b70ULL, -101762105357LL, -7764241626LL, 0x9bc44aa9d6529847ULL, 88528526496565ULL, 11493963584371ULL},
      {1, 11601886892263194254ULL, 6978239627933ULL, 29042451695196ULL, 2127055717ULL, 0x2ba210d85cb93df4ULL, 698861241569LL, 221897792646LL, 0xff8b3d621899575bULL, 132186503777939ULL, 550141633906090ULL},
      {0, 8974493342906279466ULL, 2282845727597ULL, 5795834636573ULL, 2811782540ULL, 0x4d5ae17a8cebb116ULL, 55784030445LL, 29951174070LL, 0x3fcbf1421e96c5f8ULL, 6903458685127ULL, 17526942127604ULL},
      {40, 811120105176291573ULL, 12809195658130708366ULL, 7131450159100428847ULL, 2423776030ULL, 0xf99cb86d6f923752ULL, -856509645002LL, 2423776030LL, 0xf0d7eb6d1de89020ULL, 540922905ULL, 301155435ULL},
      {16, 7625291536077019619ULL, 63477721682080705ULL, 130885311742687585ULL, 2622893425ULL, 0x9db5431bc8e6c223ULL, 389994812888LL, 2625353315LL, 0x4b6c225f5c0845c3ULL, 20477668513243ULL, 42223097426499ULL},
      {32, 16629042420675196427ULL, 7432420395746674843ULL, 10200913223560400950ULL, 1789339904ULL, 0x5a38629fda7f3ae8ULL, -1068035534143LL, 1789339680LL, 0x2f3f0c3eb3b474f2ULL, 100192771291ULL, 137513448068ULL},
      {40, 5226243760462956744ULL, 8109515329436351512ULL, 14567909940261090883ULL, 1392929156ULL, 0xd33f58b08004c84ULL, -319814844495LL, 1392929155LL, 0xf81b46c6382cc79fULL, 127872562ULL, 229708204ULL},
      {0, 13012483118635087764ULL, 6803504362677ULL, 6711269659439ULL, 1226172473ULL, 0x104cc5750e95adb3ULL, -777518730004LL, -547241855716LL, 0xdfdc624e5249fa23ULL, 286763455411239ULL, 282875820332986ULL},
      {16, 5102182677325827495ULL, 1053891157626854463ULL, 918631714156404624ULL, 2413998021ULL, 0xd6598c7318f3b53dULL, 628110400462LL, 2416648915LL, 0xaca373f57dc78b70ULL, 547560475854993ULL, 477284978527405ULL},
      {1, 11432006007111264633ULL, 26586715367213ULL, 29491579933737ULL, 2700157022ULL, 0xc2ac9fb828edb566ULL, 916123870189LL, 286575011723LL, 0xade41a8a9b16cd68ULL, 660190342548712ULL, 732322740504469ULL},
  };
  for (const R& r : rows) {
    CAPTURE(static_cast<int>(r.shift));
    CAPTURE(r.period);
    CAPTURE(r.delta);
    Page p;
    p.counter_period_shift = r.shift;
    p.counter_period_frac_sec = r.period;
    p.counter_period_maxerror_rate_frac_sec = r.mx_rate;
    p.counter_period_esterror_rate_frac_sec = r.es_rate;
    p.time_sec = r.time_sec;
    p.time_frac_sec = r.time_frac;
    p.counter_value = 0x8000000000000000ULL;
    p.time_maxerror_nanosec = 1000;
    p.time_esterror_nanosec = 100;
    p.flags = all_error_flags();
    auto t = time_at(p, p.counter_value + static_cast<uint64_t>(r.delta));
    REQUIRE_MESSAGE(t.ok(), (t.ok() ? std::string() : t.error().message));
    CHECK(t->time.sec.count == r.sec);
    CHECK(t->time.frac.raw == r.frac);
    CHECK(t->maxerror_ns == r.maxerror);
    CHECK(t->esterror_ns == r.esterror);
  }
}

TEST_CASE("error_growth_ns: values and rounding up") {
  struct { uint64_t d, rate; uint8_t shift; uint64_t ns; } rows[] = {
      // ceil(d * rate * 1e9 / 2^(64+shift))
      {0, 18447, 0, 0},
      {1, 0, 0, 0},
      {1, 1, 0, 1},                                             // 2^-64 s -> 1 ns
      {3600000000000ULL, 18446, 0, 3599855},                    // 1 h at floor(period/1e6)
      {1000000000ULL, 0xffffffffffffffffULL, 0, 1000000000000000000ULL},  // 1e9 ticks of ~1 s
      {18446744073ULL, 1000000000ULL, 0, 1000000000},           // 0.99999999996 s -> 1e9 ns
      {1, 0xffffffffffffffffULL, 63, 1},                        // ~2^-64 s -> 1 ns
      {1ULL << 63, 0xffffffffffffffffULL, 63, 1000000000},      // 2^63 * (2^64-1) / 2^127 s
  };
  for (auto& r : rows) {
    CAPTURE(r.d);
    CAPTURE(r.rate);
    CAPTURE(static_cast<int>(r.shift));
    auto g = error_growth_ns(r.d, r.rate, r.shift);
    REQUIRE(g.ok());
    CHECK(*g == r.ns);
  }
}

TEST_CASE("error_growth_ns: a bound below 2^-64 s still rounds up to 1 ns") {
  // ceil(1 * 1 * 1e9 / 2^65) = 1: the exact growth is 2^-65 s > 0, and an
  // error bound must never be rounded down to nothing.
  auto g = error_growth_ns(1, 1, 1);
  REQUIRE(g.ok());
  CHECK(*g == 1);
  // ceil((2^29 - 1) * 1e9 / 2^93) = 1
  auto h = error_growth_ns((1ULL << 29) - 1, 1, 29);
  REQUIRE(h.ok());
  CHECK(*h == 1);
}

TEST_CASE("time_at: error bounds only with their VALID flags") {
  const uint64_t per = 18446744074ULL;  // 1 GHz, shift 0
  Page base = calib(per, 0, 18447, 922);
  // d = 3600e9 (1 h): maxerror 3601050, esterror 180035 (table above)
  const uint64_t d = 3600000000000ULL;
  SUBCASE("all valid") {
    auto t = time_at(base, base.counter_value + d);
    REQUIRE(t.ok());
    CHECK(t->maxerror_ns == 3601050u);
    CHECK(t->esterror_ns == 180035u);
  }
  SUBCASE("time maxerror invalid -> maxerror absent, at any delta") {
    Page p = base;
    p.flags = p.flags.without(Flag::time_maxerror_valid);
    CHECK_FALSE(time_at(p, p.counter_value + d)->maxerror_ns.has_value());
    CHECK_FALSE(time_at(p, p.counter_value)->maxerror_ns.has_value());
    CHECK(time_at(p, p.counter_value + d)->esterror_ns == 180035u);
  }
  SUBCASE("time esterror invalid -> esterror absent") {
    Page p = base;
    p.flags = p.flags.without(Flag::time_esterror_valid);
    CHECK_FALSE(time_at(p, p.counter_value + d)->esterror_ns.has_value());
    CHECK(time_at(p, p.counter_value + d)->maxerror_ns == 3601050u);
  }
  SUBCASE("time valid, period maxerror rate invalid: absent unless delta == 0") {
    Page p = base;
    p.flags = p.flags.without(Flag::period_maxerror_valid);
    CHECK_FALSE(time_at(p, p.counter_value + d)->maxerror_ns.has_value());
    CHECK_FALSE(time_at(p, p.counter_value + 1)->maxerror_ns.has_value());
    CHECK_FALSE(time_at(p, p.counter_value - 1)->maxerror_ns.has_value());
    CHECK(time_at(p, p.counter_value)->maxerror_ns == 1000u);
    CHECK(time_at(p, p.counter_value + d)->esterror_ns == 180035u);
  }
  SUBCASE("time valid, period esterror rate invalid: absent unless delta == 0") {
    Page p = base;
    p.flags = p.flags.without(Flag::period_esterror_valid);
    CHECK_FALSE(time_at(p, p.counter_value + d)->esterror_ns.has_value());
    CHECK(time_at(p, p.counter_value)->esterror_ns == 100u);
    CHECK(time_at(p, p.counter_value + d)->maxerror_ns == 3601050u);
  }
  SUBCASE("rates are not swapped: maxerror uses the maxerror rate") {
    Page p = base;
    p.counter_period_maxerror_rate_frac_sec = 0;
    auto t = time_at(p, p.counter_value + d);
    CHECK(t->maxerror_ns == 1000u);
    CHECK(t->esterror_ns == 180035u);
  }
  SUBCASE("no flags at all") {
    Page p = base;
    p.flags = abi::Flags{};
    auto t = time_at(p, p.counter_value + d);
    REQUIRE(t.ok());
    CHECK_FALSE(t->maxerror_ns.has_value());
    CHECK_FALSE(t->esterror_ns.has_value());
  }
}

TEST_CASE("time_at: overflow is refused (Errc::data), never wrapped") {
  auto refused = [](const Page& p, uint64_t counter) {
    auto t = time_at(p, counter);
    if (t.ok()) {
      FAIL_CHECK("accepted: sec " << t->time.sec.count << " frac " << t->time.frac.raw);
      return std::string{};
    }
    CHECK(t.error().code == Errc::data);
    return t.error().message;
  };
  SUBCASE("absurd delta with a ~1 s period at shift 0") {
    // (2^63 - 1) * (2^64 - 1) / 2^64 s ~ 2^63 s, plus 1.7e9 s: beyond int64 seconds
    Page p = calib(0xffffffffffffffffULL, 0, 0, 0);
    p.flags = abi::Flags{};
    refused(p, p.counter_value + 0x7fffffffffffffffULL);
  }
  SUBCASE("time_sec near 2^63") {
    Page p = calib(18446744074ULL, 0, 0, 0);
    p.flags = abi::Flags{};
    p.time_sec = 0x7fffffffffffffffULL;  // 2^63 - 1: the last representable second
    p.time_frac_sec = 0xffffffff00000000ULL;
    CHECK(time_at(p, p.counter_value).ok());
    refused(p, p.counter_value + 1'000'000'000);  // + 1 s
    p.time_sec = 0x8000000000000000ULL;           // 2^63
    auto m = refused(p, p.counter_value);
    CHECK(contains(m, "time_sec"));
    CHECK(contains(m, "9223372036854775808"));
    p.time_sec = 0xffffffffffffffffULL;
    refused(p, p.counter_value);
  }
  SUBCASE("a large backwards delta from time 0") {
    // -2^63 ticks of ~1 s: ~ -2^63 s, not representable
    Page p = calib(0xffffffffffffffffULL, 0, 0, 0);
    p.flags = abi::Flags{};
    p.time_sec = 0;
    p.time_frac_sec = 0;
    refused(p, p.counter_value + 0x8000000000000000ULL);
  }
  SUBCASE("an error bound that does not fit") {
    // maxerror rate 2^64 - 1 at shift 0 (~1 s per tick), d = 2^62:
    // ~2^62 s = 4.6e27 ns > 2^64
    Page p = calib(18446744074ULL, 0, 0xffffffffffffffffULL, 0);
    refused(p, p.counter_value + (1ULL << 62));
    auto g = error_growth_ns(0xffffffffffffffffULL, 0xffffffffffffffffULL, 0);
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().code == Errc::data);
  }
  SUBCASE("base + growth does not fit") {
    Page p = calib(18446744074ULL, 0, 18447, 0);
    p.time_maxerror_nanosec = 0xffffffffffffffffULL;
    refused(p, p.counter_value + 1'000'000'000);
    CHECK(time_at(p, p.counter_value)->maxerror_ns == 0xffffffffffffffffULL);
  }
  SUBCASE("the largest growth that fits is accepted") {
    // whole seconds up to (2^64 - 1 - 1e9) // 1e9 = 18446744072 are accepted
    auto g = error_growth_ns(18446744072ULL, 0xffffffffffffffffULL, 0);
    REQUIRE(g.ok());
    // ceil(18446744072 * (2^64-1) * 1e9 / 2^64) = 18446744072000000000
    CHECK(*g == 18446744072000000000ULL);
  }
}

TEST_CASE("ticks_to_frac64") {
  CHECK(ticks_to_frac64(0, 123, 0) == 0);
  CHECK(ticks_to_frac64(1000000000ULL, 18446744074ULL, 0) == static_cast<u128>(18446744074ULL) * 1000000000u);
  // 2^63 * 2^63 = 2^126, >> 62 = 2^64
  CHECK(ticks_to_frac64(1ULL << 63, 1ULL << 63, 62) == (static_cast<u128>(1) << 64));
  CHECK(ticks_to_frac64(0xffffffffffffffffULL, 0xffffffffffffffffULL, 128) == 0);
}
