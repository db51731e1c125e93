// SPDX-License-Identifier: Apache-2.0
#pragma once
// The vmclock shared page as Linux merged it: include/uapi/linux/vmclock-abi.h
// (6.13; vm_generation_counter added in 7.0). Not the v3 draft, which had
// picosecond errors and different leap indicator values. All fields are
// little-endian on the wire; decode() in page.h does the byte order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vmc::abi {

struct vmclock_abi {
  uint32_t magic;
  uint32_t size;
  uint16_t version;
  uint8_t counter_id;
  uint8_t time_type;
  uint32_t seq_count;
  uint64_t disruption_marker;
  uint64_t flags;
  uint8_t pad[2];
  uint8_t clock_status;
  uint8_t leap_second_smearing_hint;
  int16_t tai_offset_sec;
  uint8_t leap_indicator;
  uint8_t counter_period_shift;
  uint64_t counter_value;
  uint64_t counter_period_frac_sec;
  uint64_t counter_period_esterror_rate_frac_sec;
  uint64_t counter_period_maxerror_rate_frac_sec;
  uint64_t time_sec;
  uint64_t time_frac_sec;
  uint64_t time_esterror_nanosec;
  uint64_t time_maxerror_nanosec;
  uint64_t vm_generation_counter;
};

static_assert(offsetof(vmclock_abi, magic) == 0x00);
static_assert(offsetof(vmclock_abi, size) == 0x04);
static_assert(offsetof(vmclock_abi, version) == 0x08);
static_assert(offsetof(vmclock_abi, counter_id) == 0x0A);
static_assert(offsetof(vmclock_abi, time_type) == 0x0B);
static_assert(offsetof(vmclock_abi, seq_count) == 0x0C);
static_assert(offsetof(vmclock_abi, disruption_marker) == 0x10);
static_assert(offsetof(vmclock_abi, flags) == 0x18);
static_assert(offsetof(vmclock_abi, pad) == 0x20);
static_assert(offsetof(vmclock_abi, clock_status) == 0x22);
static_assert(offsetof(vmclock_abi, leap_second_smearing_hint) == 0x23);
static_assert(offsetof(vmclock_abi, tai_offset_sec) == 0x24);
static_assert(offsetof(vmclock_abi, leap_indicator) == 0x26);
static_assert(offsetof(vmclock_abi, counter_period_shift) == 0x27);
static_assert(offsetof(vmclock_abi, counter_value) == 0x28);
static_assert(offsetof(vmclock_abi, counter_period_frac_sec) == 0x30);
static_assert(offsetof(vmclock_abi, counter_period_esterror_rate_frac_sec) == 0x38);
static_assert(offsetof(vmclock_abi, counter_period_maxerror_rate_frac_sec) == 0x40);
static_assert(offsetof(vmclock_abi, time_sec) == 0x48);
static_assert(offsetof(vmclock_abi, time_frac_sec) == 0x50);
static_assert(offsetof(vmclock_abi, time_esterror_nanosec) == 0x58);
static_assert(offsetof(vmclock_abi, time_maxerror_nanosec) == 0x60);
static_assert(offsetof(vmclock_abi, vm_generation_counter) == 0x68);
static_assert(sizeof(vmclock_abi) == 0x70);

inline constexpr uint32_t kMagic = 0x4b4c4356;  // "VCLK" in memory
inline constexpr uint16_t kVersion = 1;
inline constexpr uint32_t kMinSize = offsetof(vmclock_abi, vm_generation_counter);  // 104
inline constexpr uint32_t kSizeWithGeneration = sizeof(vmclock_abi);               // 112
inline constexpr size_t kPageBytes = 4096;
// The largest page a reader accepts: the device is one guest page, and on
// arm64 kernels with 64 KiB pages it exists only when `size` is at least
// 64 KiB (ptp_vmclock refuses a smaller structure), so `size` and the
// mapping reach 65536 there. Beyond that no kernel maps it.
inline constexpr size_t kMaxPageBytes = 65536;

enum class CounterId : uint8_t { arm_vcnt = 0, x86_tsc = 1, invalid = 0xff };
enum class TimeType : uint8_t { utc = 0, tai = 1, monotonic = 2, invalid_smeared = 3, invalid_maybe_smeared = 4 };
enum class ClockStatus : uint8_t { unknown = 0, initializing = 1, synchronized = 2, freerunning = 3, unreliable = 4 };
enum class SmearingHint : uint8_t { strict = 0, noon_linear = 1, utc_sls = 2 };
enum class LeapIndicator : uint8_t { none = 0, pre_pos = 1, pre_neg = 2, pos = 3, post_pos = 4, post_neg = 5 };

// Flags are a strong type so that a raw integer cannot be tested by accident.
enum class Flag : uint64_t {
  tai_offset_valid = 1u << 0,
  disruption_soon = 1u << 1,
  disruption_imminent = 1u << 2,
  period_esterror_valid = 1u << 3,
  period_maxerror_valid = 1u << 4,
  time_esterror_valid = 1u << 5,
  time_maxerror_valid = 1u << 6,
  time_monotonic = 1u << 7,
  vm_gen_counter_present = 1u << 8,
  notification_present = 1u << 9,
};

struct Flags {
  uint64_t raw = 0;
  constexpr bool has(Flag f) const { return (raw & static_cast<uint64_t>(f)) != 0; }
  constexpr Flags with(Flag f) const { return {raw | static_cast<uint64_t>(f)}; }
  constexpr Flags without(Flag f) const { return {raw & ~static_cast<uint64_t>(f)}; }
  constexpr bool operator==(const Flags&) const = default;
};

// Names as the kernel header spells them, lowercase, for printing and JSON.
// A value the ABI does not define returns "": decode() keeps it raw, and
// name_or_undefined() shows it.
std::string_view name(CounterId v);
std::string_view name(TimeType v);
std::string_view name(ClockStatus v);
std::string_view name(SmearingHint v);
std::string_view name(LeapIndicator v);
std::string_view name(Flag v);
// name(), or "undefined(N)" for a value the ABI does not define: how every
// tool shows an enumerated field.
template <class E>
std::string name_or_undefined(E v) {
  auto n = name(v);
  return n.empty() ? "undefined(" + std::to_string(static_cast<unsigned>(v)) + ")" : std::string(n);
}

inline constexpr Flag kAllFlags[] = {
    Flag::tai_offset_valid,      Flag::disruption_soon,       Flag::disruption_imminent,
    Flag::period_esterror_valid, Flag::period_maxerror_valid, Flag::time_esterror_valid,
    Flag::time_maxerror_valid,   Flag::time_monotonic,        Flag::vm_gen_counter_present,
    Flag::notification_present};

}  // namespace vmc::abi
