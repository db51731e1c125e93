// SPDX-License-Identifier: Apache-2.0
// BoundFeed's bound from page samples: the readers' growth holds the
// clock's rate against the page, measured between two samples.
#include <doctest/doctest.h>

#include "daemon_bound.h"

using namespace vmc;

namespace {

constexpr int64_t kT0 = 1'795'000'000'000'000'000LL;

Sample sample_at(int64_t t_ns, int64_t offset_ns, uint64_t marker = 1) {
  Sample s;
  s.system = SysTime{kT0 + t_ns};
  s.offset = Nanoseconds{offset_ns};
  s.maxerror_ns = 1000;
  s.bracket_ns = 40;
  s.disruption_marker = marker;
  return s;
}

BoundSection page_source() {
  BoundSection cfg;
  cfg.source = "page";
  return cfg;
}

void see_page(BoundFeed& f, uint64_t marker) {
  Page p;
  p.disruption_marker = marker;
  f.on_page(p, kT0);
}

}  // namespace

TEST_CASE("bound feed: no bound from one sample, then max_drift plus the rate the two samples show") {
  BoundFeed f(page_source());
  see_page(f, 1);
  f.on_sample(sample_at(0, 50'000), abi::ClockStatus::synchronized);
  CHECK(f.view().status == "unknown");
  // 20 ppm: the offset moves 5 us in 250 ms.
  f.on_sample(sample_at(250'000'000, 55'000), abi::ClockStatus::synchronized);
  auto v = f.view();
  CHECK(v.status == "synchronized");
  CHECK(v.bound_ns == 55'000 + 1000 + 1);
  // (5000 + 40 + 2) ns over 250 ms, rounded up.
  CHECK(v.clock_rate_ppb == 20'168);
  CHECK(v.max_drift_ppb == 15'000 + 20'168);
  // A clock that keeps the page's rate costs only the brackets' doubt.
  f.on_sample(sample_at(500'000'000, 55'000), abi::ClockStatus::synchronized);
  CHECK(f.view().clock_rate_ppb == 168);
}

TEST_CASE("bound feed: the truth never walks out of a bound grown at the published rate") {
  // A clock 20 ppm slow against the page (a migration chronyd has not
  // learnt yet): every instant between two samples stays inside.
  BoundFeed f(page_source());
  see_page(f, 1);
  const double ppm = 20;
  for (int i = 0; i <= 8; ++i) {
    const int64_t t = i * 250'000'000LL;
    f.on_sample(sample_at(t, 10'000 + static_cast<int64_t>(ppm * 1e-3 * static_cast<double>(t) / 1000)),
                abi::ClockStatus::synchronized);
    if (i == 0) continue;
    const auto v = f.view();
    REQUIRE(v.status == "synchronized");
    for (int64_t dt = 0; dt <= 250'000'000; dt += 10'000'000) {
      const double truth_offset = 10'000 + ppm * 1e-3 * static_cast<double>(t + dt) / 1000;
      const double grown = static_cast<double>(v.bound_ns) + static_cast<double>(v.max_drift_ppb) * 1e-9 * static_cast<double>(dt);
      CAPTURE(i);
      CAPTURE(dt);
      CHECK(truth_offset <= grown);
    }
  }
}

TEST_CASE("bound feed: a disruption needs two samples under the new marker again") {
  BoundFeed f(page_source());
  see_page(f, 1);
  f.on_sample(sample_at(0, 1000), abi::ClockStatus::synchronized);
  f.on_sample(sample_at(250'000'000, 1000), abi::ClockStatus::synchronized);
  REQUIRE(f.view().status == "synchronized");
  Page p;
  p.disruption_marker = 2;
  f.on_disruption(p, kT0 + 300'000'000);
  CHECK(f.view().status == "disrupted");
  f.on_sample(sample_at(500'000'000, 101'000, 1), abi::ClockStatus::synchronized);  // the old marker: ignored
  CHECK(f.view().status == "disrupted");
  f.on_sample(sample_at(750'000'000, 101'000, 2), abi::ClockStatus::synchronized);
  CHECK(f.view().status == "disrupted");  // one sample: no rate yet
  f.on_sample(sample_at(1'000'000'000, 106'000, 2), abi::ClockStatus::synchronized);
  CHECK(f.view().status == "synchronized");
  CHECK(f.view().clock_rate_ppb == 20'168);
}
