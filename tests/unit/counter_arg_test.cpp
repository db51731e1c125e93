// SPDX-License-Identifier: Apache-2.0
// vmclockctl time --counter N (src/cli/counter_arg.h): every 64-bit value
// in decimal or 0x-hex, nothing else (issue 14: "-5" wrapped and an
// over-long value saturated, both with exit 0).
#include <doctest/doctest.h>

#include "counter_arg.h"

using namespace vmc;
using vmc::cli::parse_counter;

TEST_CASE("decimal and hexadecimal counters, up to 2^64-1") {
  CHECK(parse_counter("0").value() == 0);
  CHECK(parse_counter("123456789").value() == 123456789);
  CHECK(parse_counter("18446744073709551615").value() == UINT64_MAX);
  CHECK(parse_counter("0x10").value() == 16);
  CHECK(parse_counter("0XffffFFFFffffFFFF").value() == UINT64_MAX);
}

TEST_CASE("a sign, garbage or a value past 64 bits: a usage error naming the value") {
  for (const char* bad : {"-5", "+5", "-0", "", "0x", "12a", " 12", "12 ", "1e3", "0x-1", "0xg",
                          "18446744073709551616", "99999999999999999999999", "0x10000000000000000"}) {
    auto r = parse_counter(bad);
    REQUIRE_MESSAGE(!r, bad);
    CHECK(r.error().code == Errc::usage);
    CHECK(r.error().message.find(std::string("--counter ") + bad + ":") == 0);
  }
  CHECK(parse_counter("-5").error().message.find("without a sign") != std::string::npos);
  CHECK(parse_counter("18446744073709551616").error().message.find("larger than") != std::string::npos);
}
