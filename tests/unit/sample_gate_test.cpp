// SPDX-License-Identifier: Apache-2.0
// The sample gate (src/daemon/sample_gate.cpp): its decision for each
// refusal, in the order the daemon relies on, and what ptp4l and the
// bound may still use when chrony gets nothing.
#include <doctest/doctest.h>

#include "sample_gate.h"

using namespace vmc;

namespace {

SampleOutcome with_sample(uint64_t marker, uint64_t maxerror_ns) {
  SampleOutcome o;
  Sample s;
  s.disruption_marker = marker;
  s.maxerror_ns = maxerror_ns;
  o.sample = s;
  return o;
}

GateDecision decide(const SampleOutcome& o, std::optional<uint64_t> marker = 7, bool imminent = false, bool reset = false,
                    uint64_t limit = 100'000) {
  return gate({.outcome = o, .tracked_marker = marker, .imminent = imminent, .reset_pending = reset,
               .max_error_ns = limit});
}

}  // namespace

TEST_CASE("a usable sample within the limit goes to chrony, ptp4l and the bound") {
  auto d = decide(with_sample(7, 40'000));
  CHECK(d.refusal == Refusal::none);
  REQUIRE(d.for_chrony);
  REQUIRE(d.usable);
  CHECK(d.for_chrony->maxerror_ns == 40'000);
  CHECK(d.why.empty());
  CHECK_FALSE(d.counts_as_refused());
}

TEST_CASE("a sample exactly at the limit is sent; one nanosecond over is refused but usable") {
  CHECK(decide(with_sample(7, 100'000)).refusal == Refusal::none);
  auto d = decide(with_sample(7, 100'001));
  CHECK(d.refusal == Refusal::over_max_error);
  CHECK_FALSE(d.for_chrony);
  REQUIRE(d.usable);  // ptp4l announces class 7/187 from it, the bound carries the error
  CHECK(d.why == "maxerror 100001 ns is over the limit of 100000 ns");
  CHECK(d.counts_as_refused());
}

TEST_CASE("a page without time is refused with the page's own reason") {
  SampleOutcome o;
  o.why_not = "clock_status is UNRELIABLE";
  auto d = decide(o);
  CHECK(d.refusal == Refusal::no_time);
  CHECK(d.why == "clock_status is UNRELIABLE");
  CHECK_FALSE(d.for_chrony);
  CHECK_FALSE(d.usable);
  CHECK(d.counts_as_refused());
}

TEST_CASE("a sample under another marker than the tracker's is refused and unusable") {
  auto d = decide(with_sample(6, 10), 7);
  CHECK(d.refusal == Refusal::across_disruption);
  CHECK(d.why == "sample taken across a disruption");
  CHECK_FALSE(d.for_chrony);
  CHECK_FALSE(d.usable);
  CHECK(d.counts_as_refused());
}

TEST_CASE("disruption_imminent pauses everything, before any other reason") {
  for (const auto& o : {with_sample(7, 10), with_sample(6, 10), SampleOutcome{}}) {
    auto d = decide(o, 7, /*imminent=*/true, /*reset=*/true);
    CHECK(d.refusal == Refusal::paused);
    CHECK_FALSE(d.for_chrony);
    CHECK_FALSE(d.usable);
    CHECK_FALSE(d.counts_as_refused());
    CHECK(d.why.find("disruption_imminent") != std::string::npos);
  }
}

TEST_CASE("while chronyd still holds stale samples nothing is sent, and nothing is counted as refused") {
  auto d = decide(with_sample(7, 10), 7, false, /*reset=*/true);
  CHECK(d.refusal == Refusal::reset_pending);
  CHECK_FALSE(d.for_chrony);
  CHECK_FALSE(d.usable);
  CHECK_FALSE(d.counts_as_refused());
}
