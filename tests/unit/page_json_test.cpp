// SPDX-License-Identifier: Apache-2.0
// page_to_text()/page_to_json() (src/cli/page_json.cpp), what `vmclockctl
// dump` prints: the leap indicator and the smearing hint, defined or not,
// raw and decoded, and neither refuses the page.
#include <doctest/doctest.h>

#include <string>

#include "counter.h"
#include "page_json.h"

using namespace vmc;

namespace {

Page usable() {
  Page p;
  p.counter_id = kNativeCounter;
  p.clock_status = abi::ClockStatus::synchronized;
  p.counter_period_frac_sec = 18446744074ULL;  // 1 GHz
  p.time_sec = 1'700'000'000;
  p.flags = abi::Flags{}.with(abi::Flag::time_maxerror_valid);
  return p;
}

// The line of `field` in page_to_text(), without the padding.
std::string line_of(const std::string& text, const std::string& field) {
  size_t at = text.find(field + " ");
  REQUIRE(at != std::string::npos);
  size_t end = text.find('\n', at);
  std::string l = text.substr(at + field.size(), end - at - field.size());
  return l.substr(l.find_first_not_of(' '));
}

}  // namespace

TEST_CASE("dump: undefined smearing hints and leap indicators print as undefined, raw value kept") {
  Page p = usable();
  p.smearing_hint = abi::SmearingHint{7};
  p.leap_indicator = abi::LeapIndicator{9};
  const std::string t = page_to_text(p);
  CHECK(line_of(t, "leap_second_smearing_hint") == "7  (undefined(7))");
  CHECK(line_of(t, "leap_indicator") == "9  (undefined(9))");
  CHECK(line_of(t, "time data") == "usable");
  auto j = page_to_json(p);
  CHECK(j["leap_second_smearing_hint"] == 7);
  CHECK(j["leap_indicator"] == 9);
  CHECK(j["decoded"]["leap_second_smearing_hint"] == "undefined(7)");
  CHECK(j["decoded"]["leap_indicator"] == "undefined(9)");
  CHECK(j["decoded"]["usable"] == true);
}

TEST_CASE("dump: a pending leap under a smearing hint is shown and usable") {
  Page p = usable();
  p.smearing_hint = abi::SmearingHint::noon_linear;
  p.leap_indicator = abi::LeapIndicator::pre_pos;
  const std::string t = page_to_text(p);
  CHECK(line_of(t, "leap_second_smearing_hint") == "1  (noon_linear)");
  CHECK(line_of(t, "leap_indicator") == "1  (pre_pos)");
  CHECK(line_of(t, "time data") == "usable");
  auto j = page_to_json(p);
  CHECK(j["decoded"]["leap_second_smearing_hint"] == "noon_linear");
  CHECK(j["decoded"]["usable"] == true);
  CHECK(j["decoded"]["unusable_reason"].is_null());
}
