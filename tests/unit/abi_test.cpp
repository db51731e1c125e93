// SPDX-License-Identifier: Apache-2.0
// The ABI constants and names (src/core/abi.h): values as the kernel header
// (include/uapi/linux/vmclock-abi.h, 6.13/7.0) and the shared reference
// define them. Offsets are static_asserted in abi.h itself; the byte
// pattern test in page_test.cpp checks decode() against them at run time.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "abi.h"

using namespace vmc::abi;

TEST_CASE("abi: sizes and magic") {
  CHECK(kMinSize == 104);             // offsetof(vm_generation_counter) = 0x68
  CHECK(kSizeWithGeneration == 112);  // 0x70
  CHECK(sizeof(vmclock_abi) == 0x70);
  CHECK(kVersion == 1);
  CHECK(kPageBytes == 4096);
  CHECK(kMaxPageBytes == 65536);  // one arm64 page of 64 KiB
  // "VCLK" in memory, little-endian u32 0x4b4c4356.
  uint8_t b[4] = {0x56, 0x43, 0x4c, 0x4b};
  CHECK(std::memcmp(b, "VCLK", 4) == 0);
  CHECK((static_cast<uint32_t>(b[0]) | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24) == kMagic);
}

TEST_CASE("abi: enum values as the merged ABI (not the v3 draft)") {
  CHECK(static_cast<int>(CounterId::arm_vcnt) == 0);
  CHECK(static_cast<int>(CounterId::x86_tsc) == 1);
  CHECK(static_cast<int>(CounterId::invalid) == 0xff);
  CHECK(static_cast<int>(TimeType::utc) == 0);
  CHECK(static_cast<int>(TimeType::tai) == 1);
  CHECK(static_cast<int>(TimeType::monotonic) == 2);
  CHECK(static_cast<int>(TimeType::invalid_smeared) == 3);
  CHECK(static_cast<int>(TimeType::invalid_maybe_smeared) == 4);
  CHECK(static_cast<int>(ClockStatus::unknown) == 0);
  CHECK(static_cast<int>(ClockStatus::initializing) == 1);
  CHECK(static_cast<int>(ClockStatus::synchronized) == 2);
  CHECK(static_cast<int>(ClockStatus::freerunning) == 3);
  CHECK(static_cast<int>(ClockStatus::unreliable) == 4);
  CHECK(static_cast<int>(SmearingHint::strict) == 0);
  CHECK(static_cast<int>(SmearingHint::noon_linear) == 1);
  CHECK(static_cast<int>(SmearingHint::utc_sls) == 2);
  // The draft had 4 NEG, 5 POST_POS, 6 POST_NEG.
  CHECK(static_cast<int>(LeapIndicator::none) == 0);
  CHECK(static_cast<int>(LeapIndicator::pre_pos) == 1);
  CHECK(static_cast<int>(LeapIndicator::pre_neg) == 2);
  CHECK(static_cast<int>(LeapIndicator::pos) == 3);
  CHECK(static_cast<int>(LeapIndicator::post_pos) == 4);
  CHECK(static_cast<int>(LeapIndicator::post_neg) == 5);
}

TEST_CASE("abi: flag bits") {
  CHECK(static_cast<uint64_t>(Flag::tai_offset_valid) == 1u << 0);
  CHECK(static_cast<uint64_t>(Flag::disruption_soon) == 1u << 1);
  CHECK(static_cast<uint64_t>(Flag::disruption_imminent) == 1u << 2);
  CHECK(static_cast<uint64_t>(Flag::period_esterror_valid) == 1u << 3);
  CHECK(static_cast<uint64_t>(Flag::period_maxerror_valid) == 1u << 4);
  CHECK(static_cast<uint64_t>(Flag::time_esterror_valid) == 1u << 5);
  CHECK(static_cast<uint64_t>(Flag::time_maxerror_valid) == 1u << 6);
  CHECK(static_cast<uint64_t>(Flag::time_monotonic) == 1u << 7);
  CHECK(static_cast<uint64_t>(Flag::vm_gen_counter_present) == 1u << 8);
  CHECK(static_cast<uint64_t>(Flag::notification_present) == 1u << 9);
  uint64_t all = 0;
  for (Flag f : kAllFlags) {
    CHECK((all & static_cast<uint64_t>(f)) == 0);  // each listed once
    all |= static_cast<uint64_t>(f);
  }
  CHECK(all == 0x3ff);
}

TEST_CASE("abi: Flags has/with/without") {
  Flags f{0x300};  // Firecracker's flags
  CHECK(f.has(Flag::vm_gen_counter_present));
  CHECK(f.has(Flag::notification_present));
  CHECK_FALSE(f.has(Flag::tai_offset_valid));
  Flags g = f.with(Flag::disruption_soon);
  CHECK(g.raw == 0x302);
  CHECK(g.without(Flag::disruption_soon) == f);
  CHECK(f.without(Flag::disruption_soon) == f);  // clearing a clear bit
  // Bits the ABI does not define survive with/without.
  Flags u{1ull << 63};
  CHECK(u.with(Flag::tai_offset_valid).raw == ((1ull << 63) | 1));
}

TEST_CASE("abi: names as the kernel header spells them") {
  CHECK(name(CounterId::arm_vcnt) == "arm_vcnt");
  CHECK(name(CounterId::x86_tsc) == "x86_tsc");
  CHECK(name(CounterId::invalid) == "invalid");
  CHECK(name(CounterId{7}).empty());
  CHECK(name(TimeType::utc) == "utc");
  CHECK(name(TimeType::tai) == "tai");
  CHECK(name(TimeType::monotonic) == "monotonic");
  CHECK(name(TimeType::invalid_smeared) == "invalid_smeared");
  CHECK(name(TimeType::invalid_maybe_smeared) == "invalid_maybe_smeared");
  CHECK(name(TimeType{5}).empty());
  CHECK(name(ClockStatus::unknown) == "unknown");
  CHECK(name(ClockStatus::initializing) == "initializing");
  CHECK(name(ClockStatus::synchronized) == "synchronized");
  CHECK(name(ClockStatus::freerunning) == "freerunning");
  CHECK(name(ClockStatus::unreliable) == "unreliable");
  CHECK(name(ClockStatus{5}).empty());
  CHECK(name(SmearingHint::strict) == "strict");
  CHECK(name(SmearingHint::noon_linear) == "noon_linear");
  CHECK(name(SmearingHint::utc_sls) == "utc_sls");
  CHECK(name(SmearingHint{3}).empty());
  CHECK(name(LeapIndicator::none) == "none");
  CHECK(name(LeapIndicator::pre_pos) == "pre_pos");
  CHECK(name(LeapIndicator::pre_neg) == "pre_neg");
  CHECK(name(LeapIndicator::pos) == "pos");
  CHECK(name(LeapIndicator::post_pos) == "post_pos");
  CHECK(name(LeapIndicator::post_neg) == "post_neg");
  CHECK(name(LeapIndicator{6}).empty());
  // Undefined values are kept as they are and shown as undefined.
  CHECK(name_or_undefined(SmearingHint{7}) == "undefined(7)");
  CHECK(name_or_undefined(SmearingHint::utc_sls) == "utc_sls");
  CHECK(name_or_undefined(LeapIndicator{255}) == "undefined(255)");
  CHECK(name_or_undefined(LeapIndicator::pre_neg) == "pre_neg");
  CHECK(name_or_undefined(ClockStatus{5}) == "undefined(5)");
  const char* flag_names[] = {"tai_offset_valid",    "disruption_soon",       "disruption_imminent",
                              "period_esterror_valid", "period_maxerror_valid", "time_esterror_valid",
                              "time_maxerror_valid", "time_monotonic",        "vm_gen_counter_present",
                              "notification_present"};
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(name(kAllFlags[i]) == flag_names[i]);
    CHECK(static_cast<uint64_t>(kAllFlags[i]) == (1ull << i));
  }
  CHECK(name(Flag{1u << 10}).empty());
}
