// SPDX-License-Identifier: Apache-2.0
#pragma once
// A vmclock page decoded into host order and typed fields. decode() and
// encode() are the only places that know the byte layout and byte order.
#include <cstdint>
#include <optional>
#include <span>

#include "abi.h"
#include "result.h"

namespace vmc {

struct Page {
  uint32_t magic = abi::kMagic;
  uint32_t size = abi::kSizeWithGeneration;
  uint16_t version = abi::kVersion;
  abi::CounterId counter_id = abi::CounterId::invalid;
  abi::TimeType time_type = abi::TimeType::utc;
  uint32_t seq_count = 0;
  uint64_t disruption_marker = 0;
  abi::Flags flags{};
  abi::ClockStatus clock_status = abi::ClockStatus::unknown;
  abi::SmearingHint smearing_hint = abi::SmearingHint::strict;
  int16_t tai_offset_sec = 0;
  abi::LeapIndicator leap_indicator = abi::LeapIndicator::none;
  uint8_t counter_period_shift = 0;
  uint64_t counter_value = 0;
  uint64_t counter_period_frac_sec = 0;
  uint64_t counter_period_esterror_rate_frac_sec = 0;
  uint64_t counter_period_maxerror_rate_frac_sec = 0;
  uint64_t time_sec = 0;
  uint64_t time_frac_sec = 0;
  uint64_t time_esterror_nanosec = 0;
  uint64_t time_maxerror_nanosec = 0;
  // Present only when size >= 112 and VM_GEN_COUNTER_PRESENT is set.
  std::optional<uint64_t> vm_generation_counter;

  bool operator==(const Page&) const = default;
};

// Validates magic, version and size against the bytes available; the
// error names the field and the value. `available`, when given, is how
// long the page really is when `bytes` holds only its first part (a copy
// of the structure out of a 4096-byte page whose size says 4096).
Result<Page> decode(std::span<const uint8_t> bytes);
Result<Page> decode(std::span<const uint8_t> bytes, size_t available);

// Writes the structure (112 bytes, or `size` if smaller) in little-endian.
// The caller owns the seqlock protocol (see page_writer.h).
void encode(const Page& p, std::span<uint8_t> out);

// The header alone: magic, size and version, which precede everything else
// (kHeaderBytes, at abi.h's offsets).
struct Header {
  uint32_t magic = 0;
  uint16_t version = 0;
  uint32_t size = 0;
};
inline constexpr size_t kHeaderBytes = offsetof(abi::vmclock_abi, version) + sizeof(uint16_t);
Header load_header(const uint8_t* b);
// Whether a page with this header fits in `available` bytes: check_header()
// without the message, so without allocating (libvmclock's now()).
bool header_ok(const Header& h, size_t available);
// Header checks with the reason, for sources validating once at open.
Status check_header(const Header& h, size_t available);
Status check_header(uint32_t magic, uint16_t version, uint32_t size, size_t available);

uint32_t load_le32(const uint8_t* p);
uint64_t load_le64(const uint8_t* p);
void store_le32(uint8_t* p, uint32_t v);
void store_le64(uint8_t* p, uint64_t v);

}  // namespace vmc
