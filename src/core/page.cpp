// SPDX-License-Identifier: Apache-2.0
#include "page.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>

namespace vmc {
namespace {

using abi::vmclock_abi;
#define OFF(f) offsetof(vmclock_abi, f)

uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void store_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace

uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t load_le64(const uint8_t* p) {
  return static_cast<uint64_t>(load_le32(p)) | static_cast<uint64_t>(load_le32(p + 4)) << 32;
}
void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

Header load_header(const uint8_t* b) {
  return Header{load_le32(b + OFF(magic)), load_le16(b + OFF(version)), load_le32(b + OFF(size))};
}

bool header_ok(const Header& h, size_t available) {
  return available >= abi::kMinSize && h.magic == abi::kMagic && h.version == abi::kVersion &&
         h.size >= abi::kMinSize && h.size <= available;
}

Status check_header(const Header& h, size_t available) { return check_header(h.magic, h.version, h.size, available); }

Status check_header(uint32_t magic, uint16_t version, uint32_t size, size_t available) {
  if (available < abi::kMinSize)
    return make_error(Errc::data, fmt::format("{} bytes, shorter than the {}-byte vmclock structure",
                                              available, abi::kMinSize));
  if (magic != abi::kMagic)
    return make_error(Errc::data,
                      fmt::format("field magic is {:#010x}, expected {:#010x} (\"VCLK\")", magic, abi::kMagic));
  if (version != abi::kVersion)
    return make_error(Errc::data, fmt::format("field version is {}, only version {} is defined", version,
                                              abi::kVersion));
  if (size < abi::kMinSize)
    return make_error(Errc::data, fmt::format("field size is {}, below the {}-byte minimum", size, abi::kMinSize));
  if (size > available)
    return make_error(Errc::data,
                      fmt::format("field size is {}, larger than the {} bytes available", size, available));
  return Ok{};
}

Result<Page> decode(std::span<const uint8_t> bytes) { return decode(bytes, bytes.size()); }

Result<Page> decode(std::span<const uint8_t> bytes, size_t available) {
  const uint8_t* b = bytes.data();
  if (bytes.size() < abi::kMinSize) {
    auto st = check_header(0, 0, 0, bytes.size());
    return st.error();
  }
  if (available < bytes.size()) available = bytes.size();
  Page p;
  const Header h = load_header(b);
  p.magic = h.magic;
  p.size = h.size;
  p.version = h.version;
  if (auto st = check_header(h, available); !st) return st.error();
  p.counter_id = abi::CounterId{b[OFF(counter_id)]};
  p.time_type = abi::TimeType{b[OFF(time_type)]};
  p.seq_count = load_le32(b + OFF(seq_count));
  p.disruption_marker = load_le64(b + OFF(disruption_marker));
  p.flags = abi::Flags{load_le64(b + OFF(flags))};
  p.clock_status = abi::ClockStatus{b[OFF(clock_status)]};
  p.smearing_hint = abi::SmearingHint{b[OFF(leap_second_smearing_hint)]};
  p.tai_offset_sec = static_cast<int16_t>(load_le16(b + OFF(tai_offset_sec)));
  p.leap_indicator = abi::LeapIndicator{b[OFF(leap_indicator)]};
  p.counter_period_shift = b[OFF(counter_period_shift)];
  p.counter_value = load_le64(b + OFF(counter_value));
  p.counter_period_frac_sec = load_le64(b + OFF(counter_period_frac_sec));
  p.counter_period_esterror_rate_frac_sec = load_le64(b + OFF(counter_period_esterror_rate_frac_sec));
  p.counter_period_maxerror_rate_frac_sec = load_le64(b + OFF(counter_period_maxerror_rate_frac_sec));
  p.time_sec = load_le64(b + OFF(time_sec));
  p.time_frac_sec = load_le64(b + OFF(time_frac_sec));
  p.time_esterror_nanosec = load_le64(b + OFF(time_esterror_nanosec));
  p.time_maxerror_nanosec = load_le64(b + OFF(time_maxerror_nanosec));
  if (p.size >= abi::kSizeWithGeneration && bytes.size() >= abi::kSizeWithGeneration &&
      p.flags.has(abi::Flag::vm_gen_counter_present))
    p.vm_generation_counter = load_le64(b + OFF(vm_generation_counter));
  return p;
}

void encode(const Page& p, std::span<uint8_t> out) {
  uint8_t buf[sizeof(vmclock_abi)] = {};
  uint8_t* b = buf;
  store_le32(b + OFF(magic), p.magic);
  store_le32(b + OFF(size), p.size);
  store_le16(b + OFF(version), p.version);
  b[OFF(counter_id)] = static_cast<uint8_t>(p.counter_id);
  b[OFF(time_type)] = static_cast<uint8_t>(p.time_type);
  store_le32(b + OFF(seq_count), p.seq_count);
  store_le64(b + OFF(disruption_marker), p.disruption_marker);
  store_le64(b + OFF(flags), p.flags.raw);
  b[OFF(clock_status)] = static_cast<uint8_t>(p.clock_status);
  b[OFF(leap_second_smearing_hint)] = static_cast<uint8_t>(p.smearing_hint);
  store_le16(b + OFF(tai_offset_sec), static_cast<uint16_t>(p.tai_offset_sec));
  b[OFF(leap_indicator)] = static_cast<uint8_t>(p.leap_indicator);
  b[OFF(counter_period_shift)] = p.counter_period_shift;
  store_le64(b + OFF(counter_value), p.counter_value);
  store_le64(b + OFF(counter_period_frac_sec), p.counter_period_frac_sec);
  store_le64(b + OFF(counter_period_esterror_rate_frac_sec), p.counter_period_esterror_rate_frac_sec);
  store_le64(b + OFF(counter_period_maxerror_rate_frac_sec), p.counter_period_maxerror_rate_frac_sec);
  store_le64(b + OFF(time_sec), p.time_sec);
  store_le64(b + OFF(time_frac_sec), p.time_frac_sec);
  store_le64(b + OFF(time_esterror_nanosec), p.time_esterror_nanosec);
  store_le64(b + OFF(time_maxerror_nanosec), p.time_maxerror_nanosec);
  store_le64(b + OFF(vm_generation_counter), p.vm_generation_counter.value_or(0));
  // Nothing past `size`: a 104-byte structure has no generation counter.
  size_t n = std::min({out.size(), sizeof buf, std::max<size_t>(p.size, abi::kMinSize)});
  for (size_t i = 0; i < n; ++i) out[i] = buf[i];
}

}  // namespace vmc
