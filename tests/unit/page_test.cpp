// SPDX-License-Identifier: Apache-2.0
// decode()/encode() (src/core/page.cpp): byte layout, byte order, the size rule
// for vm_generation_counter, header errors, the real Firecracker page and
// every other fixture in tests/fixtures/.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "cross_timestamp.h"
#include "page.h"
#include "time_math.h"
#include "validity.h"

using namespace vmc;
using abi::Flag;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// A fixture's 4096 bytes, and the page they decode to (a whole-page size).
Page decode_fixture(const std::string& file, std::vector<uint8_t>& bytes) {
  bytes = read_file(std::string(VMC_FIXTURES_DIR "/") + file);
  REQUIRE(bytes.size() == 4096);
  auto d = decode(bytes);
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? std::string() : d.error().message));
  CHECK(d->magic == abi::kMagic);
  CHECK(d->size == 0x1000);
  CHECK(d->version == 1);
  return *d;
}

Page full_page() {
  Page p;
  p.size = 112;
  p.counter_id = abi::CounterId::x86_tsc;
  p.time_type = abi::TimeType::tai;
  p.seq_count = 0x11223344;
  p.disruption_marker = 0x0123456789abcdefULL;
  p.flags = abi::Flags{0x3ff};
  p.clock_status = abi::ClockStatus::synchronized;
  p.smearing_hint = abi::SmearingHint::utc_sls;
  p.tai_offset_sec = -37;
  p.leap_indicator = abi::LeapIndicator::post_neg;
  p.counter_period_shift = 31;
  p.counter_value = 0xfedcba9876543210ULL;
  p.counter_period_frac_sec = 10706508447873559134ULL;
  p.counter_period_esterror_rate_frac_sec = 535325422394ULL;
  p.counter_period_maxerror_rate_frac_sec = 10706508447874ULL;
  p.time_sec = 1'700'000'000;
  p.time_frac_sec = 0x8000000000000001ULL;
  p.time_esterror_nanosec = 12345;
  p.time_maxerror_nanosec = 0xffffffffffffffffULL;
  p.vm_generation_counter = 0xa5a5a5a55a5a5a5aULL;
  return p;
}

}  // namespace

TEST_CASE("page: encode/decode round trip") {
  SUBCASE("every field set, generation present") {
    Page p = full_page();
    std::array<uint8_t, 4096> buf{};
    encode(p, buf);
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK(*d == p);
  }
  SUBCASE("generation absent (flag clear), size 104") {
    Page p = full_page();
    p.size = 104;
    p.flags = p.flags.without(Flag::vm_gen_counter_present);
    p.vm_generation_counter.reset();
    std::array<uint8_t, 104> buf{};
    encode(p, buf);  // exactly 104 bytes of room: must not write past it
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK(*d == p);
  }
  SUBCASE("defaults") {
    Page p;
    std::array<uint8_t, 112> buf{};
    encode(p, buf);
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK(*d == p);
  }
  SUBCASE("negative tai_offset_sec keeps its sign") {
    Page p = full_page();
    for (int16_t v : {int16_t{-37}, int16_t{37}, int16_t{-32768}, int16_t{32767}, int16_t{-1}}) {
      p.tai_offset_sec = v;
      std::array<uint8_t, 112> buf{};
      encode(p, buf);
      auto d = decode(buf);
      REQUIRE(d.ok());
      CHECK(d->tai_offset_sec == v);
    }
  }
}

TEST_CASE("page: encode writes little-endian at the ABI offsets") {
  Page p = full_page();
  std::array<uint8_t, 112> b{};
  encode(p, b);
  const uint8_t magic[] = {'V', 'C', 'L', 'K'};
  CHECK(std::memcmp(b.data(), magic, 4) == 0);
  CHECK(b[0x04] == 112);
  CHECK(b[0x08] == 1);
  CHECK(b[0x09] == 0);
  CHECK(b[0x0A] == 1);     // x86_tsc
  CHECK(b[0x0B] == 1);     // tai
  CHECK(b[0x0C] == 0x44);  // seq_count 0x11223344, low byte first
  CHECK(b[0x0F] == 0x11);
  CHECK(b[0x10] == 0xef);  // disruption_marker low byte
  CHECK(b[0x17] == 0x01);
  CHECK(b[0x18] == 0xff);  // flags 0x3ff
  CHECK(b[0x19] == 0x03);
  CHECK(b[0x20] == 0);  // pad
  CHECK(b[0x21] == 0);
  CHECK(b[0x22] == 2);     // synchronized
  CHECK(b[0x23] == 2);     // utc_sls
  CHECK(b[0x24] == 0xdb);  // -37 = 0xffdb
  CHECK(b[0x25] == 0xff);
  CHECK(b[0x26] == 5);   // post_neg
  CHECK(b[0x27] == 31);  // shift
  CHECK(b[0x28] == 0x10);
  CHECK(b[0x2f] == 0xfe);
  CHECK(b[0x50] == 0x01);  // time_frac_sec 0x8000000000000001
  CHECK(b[0x57] == 0x80);
  CHECK(b[0x68] == 0x5a);  // vm_generation_counter
  CHECK(b[0x6f] == 0xa5);
}

TEST_CASE("page: every field decodes from its offset (byte pattern)") {
  // Byte i holds 0x10 + i, so every field's value spells its own offset.
  std::array<uint8_t, 112> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(0x10 + i);
  // The header must still be valid: magic, size 112, version 1.
  store_le32(b.data() + 0x00, abi::kMagic);
  store_le32(b.data() + 0x04, 112);
  b[0x08] = 1;
  b[0x09] = 0;
  auto d = decode(b);
  REQUIRE(d.ok());
  const Page& p = *d;
  CHECK(static_cast<int>(p.counter_id) == 0x1a);         // byte 0x0A
  CHECK(static_cast<int>(p.time_type) == 0x1b);          // byte 0x0B
  CHECK(p.seq_count == 0x1f1e1d1cu);                     // bytes 0x0C..0x0F
  CHECK(p.disruption_marker == 0x2726252423222120ULL);   // 0x10..0x17
  CHECK(p.flags.raw == 0x2f2e2d2c2b2a2928ULL);           // 0x18..0x1F (bit 8 set: 0x29 & 1)
  CHECK(static_cast<int>(p.clock_status) == 0x32);       // 0x22 (pad 0x20/0x21 skipped)
  CHECK(static_cast<int>(p.smearing_hint) == 0x33);      // 0x23
  CHECK(p.tai_offset_sec == 0x3534);                     // 0x24..0x25
  CHECK(static_cast<int>(p.leap_indicator) == 0x36);     // 0x26
  CHECK(p.counter_period_shift == 0x37);                 // 0x27
  CHECK(p.counter_value == 0x3f3e3d3c3b3a3938ULL);       // 0x28
  CHECK(p.counter_period_frac_sec == 0x4746454443424140ULL);                // 0x30
  CHECK(p.counter_period_esterror_rate_frac_sec == 0x4f4e4d4c4b4a4948ULL);  // 0x38
  CHECK(p.counter_period_maxerror_rate_frac_sec == 0x5756555453525150ULL);  // 0x40
  CHECK(p.time_sec == 0x5f5e5d5c5b5a5958ULL);                               // 0x48
  CHECK(p.time_frac_sec == 0x6766656463626160ULL);                          // 0x50
  CHECK(p.time_esterror_nanosec == 0x6f6e6d6c6b6a6968ULL);                  // 0x58
  CHECK(p.time_maxerror_nanosec == 0x7776757473727170ULL);                  // 0x60
  REQUIRE(p.vm_generation_counter.has_value());
  CHECK(*p.vm_generation_counter == 0x7f7e7d7c7b7a7978ULL);                // 0x68

  SUBCASE("tai_offset_sec is signed") {
    b[0x24] = 0xdb;
    b[0x25] = 0xff;
    auto n = decode(b);
    REQUIRE(n.ok());
    CHECK(n->tai_offset_sec == -37);
  }
}

TEST_CASE("page: fields past size are absent") {
  Page p = full_page();
  std::array<uint8_t, 4096> buf{};
  SUBCASE("size 104, flag set: no vm_generation_counter") {
    p.size = 104;
    encode(p, buf);
    store_le64(buf.data() + 0x68, 77);  // bytes are there, but past size
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK(d->flags.has(Flag::vm_gen_counter_present));
    CHECK_FALSE(d->vm_generation_counter.has_value());
  }
  SUBCASE("size 111, flag set: the counter does not fit") {
    p.size = 111;
    encode(p, buf);
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK_FALSE(d->vm_generation_counter.has_value());
  }
  SUBCASE("size 112 without the flag: absent") {
    p.size = 112;
    p.flags = p.flags.without(Flag::vm_gen_counter_present);
    encode(p, buf);
    store_le64(buf.data() + 0x68, 77);
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK_FALSE(d->vm_generation_counter.has_value());
  }
  SUBCASE("size 112 with the flag: present") {
    p.size = 112;
    encode(p, buf);
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK(d->vm_generation_counter == 0xa5a5a5a55a5a5a5aULL);
  }
  SUBCASE("size 4096 (a whole page) with the flag: present") {
    p.size = 4096;
    encode(p, buf);
    auto d = decode(buf);
    REQUIRE(d.ok());
    CHECK(d->size == 4096);
    CHECK(d->vm_generation_counter == 0xa5a5a5a55a5a5a5aULL);
  }
  SUBCASE("104 bytes available, size 104") {
    p.size = 104;
    p.vm_generation_counter.reset();
    encode(p, std::span<uint8_t>(buf.data(), 104));
    auto d = decode(std::span<const uint8_t>(buf.data(), 104));
    REQUIRE(d.ok());
    CHECK_FALSE(d->vm_generation_counter.has_value());
  }
}

TEST_CASE("page: encode honours a size below 112 (page.h: \"112 bytes, or size if smaller\")") {
  // page.h documents that encode() writes `size` bytes when size < 112;
  // encode() writes min(out.size(), 112) instead: vm_generation_counter
  // lands in bytes 104..111, which a size-104 host does not own.
  Page p = full_page();
  p.size = 104;
  std::array<uint8_t, 4096> buf;
  buf.fill(0xaa);
  encode(p, buf);
  size_t written_past_size = 0;
  for (size_t i = 104; i < 112; ++i) written_past_size += buf[i] != 0xaa;
  CHECK_MESSAGE(written_past_size == 0, "encode() wrote " << written_past_size
                                          << " bytes past size 104 (vm_generation_counter)");
}

TEST_CASE("page: header errors name the field and the value") {
  Page p = full_page();
  std::array<uint8_t, 112> buf{};
  auto err = [&](std::span<const uint8_t> b) {
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == Errc::data);
    return d.error().message;
  };
  SUBCASE("short buffer") {
    encode(p, buf);
    auto m = err(std::span<const uint8_t>(buf.data(), 50));
    CHECK(contains(m, "50 bytes"));
    CHECK(contains(m, "shorter than the 104-byte"));
    CHECK(contains(err(std::span<const uint8_t>(buf.data(), 0)), "0 bytes"));
    CHECK(contains(err(std::span<const uint8_t>(buf.data(), 103)), "103 bytes"));
  }
  SUBCASE("wrong magic") {
    p.magic = 0x12345678;
    encode(p, buf);
    auto m = err(buf);
    CHECK(contains(m, "magic"));
    CHECK(contains(m, "0x12345678"));
  }
  SUBCASE("magic in the wrong byte order") {
    p.magic = 0x56434c4b;  // "KLCV": a big-endian writer
    encode(p, buf);
    auto m = err(buf);
    CHECK(contains(m, "magic"));
    CHECK(contains(m, "0x56434c4b"));
  }
  SUBCASE("version 2") {
    p.version = 2;
    encode(p, buf);
    auto m = err(buf);
    CHECK(contains(m, "version"));
    CHECK(contains(m, "2"));
  }
  SUBCASE("version 0") {
    p.version = 0;
    encode(p, buf);
    CHECK(contains(err(buf), "version is 0"));
  }
  // The size field is patched after encoding: encode() writes only `size`
  // bytes, and these sizes are below the header itself.
  SUBCASE("size below 104") {
    encode(p, buf);
    store_le32(buf.data() + 0x04, 100);
    auto m = err(buf);
    CHECK(contains(m, "size"));
    CHECK(contains(m, "100"));
  }
  SUBCASE("size 0") {
    encode(p, buf);
    store_le32(buf.data() + 0x04, 0);
    CHECK(contains(err(buf), "size is 0"));
  }
  SUBCASE("size beyond the bytes available") {
    p.size = 4096;
    encode(p, buf);
    auto m = err(buf);
    CHECK(contains(m, "size"));
    CHECK(contains(m, "4096"));
    CHECK(contains(m, "112"));
  }
  SUBCASE("size 113 with 112 bytes") {
    p.size = 113;
    encode(p, buf);
    CHECK(contains(err(buf), "113"));
  }
}

TEST_CASE("page: check_header accepts exactly the valid headers") {
  CHECK(check_header(abi::kMagic, 1, 104, 104).ok());
  CHECK(check_header(abi::kMagic, 1, 112, 4096).ok());
  CHECK(check_header(abi::kMagic, 1, 4096, 4096).ok());
  CHECK_FALSE(check_header(abi::kMagic, 1, 4097, 4096).ok());
  CHECK_FALSE(check_header(abi::kMagic, 1, 103, 4096).ok());
  CHECK_FALSE(check_header(abi::kMagic, 2, 112, 4096).ok());
  CHECK_FALSE(check_header(abi::kMagic + 1, 1, 112, 4096).ok());
  CHECK_FALSE(check_header(abi::kMagic, 1, 104, 103).ok());
}

TEST_CASE("page: little-endian helpers") {
  uint8_t b[8];
  store_le64(b, 0x0102030405060708ULL);
  CHECK(b[0] == 0x08);
  CHECK(b[7] == 0x01);
  CHECK(load_le64(b) == 0x0102030405060708ULL);
  store_le32(b, 0xdeadbeef);
  CHECK(b[0] == 0xef);
  CHECK(b[3] == 0xde);
  CHECK(load_le32(b) == 0xdeadbeefu);
  CHECK(load_le64(b) == 0x01020304deadbeefULL);
}

TEST_CASE("page: the real Firecracker page decodes to what its README says") {
  auto bytes = read_file(VMC_FIXTURES_DIR "/vmclock-firecracker-page.bin");
  REQUIRE(bytes.size() == 4096);
  auto d = decode(bytes);
  REQUIRE(d.ok());
  const Page& p = *d;
  CHECK(p.magic == 0x4b4c4356);
  CHECK(p.size == 0x1000);
  CHECK(p.version == 1);
  CHECK(p.counter_id == abi::CounterId::invalid);
  CHECK(p.time_type == abi::TimeType::utc);
  CHECK(p.seq_count == 2);
  CHECK(p.disruption_marker == 1);
  CHECK(p.flags.raw == 0x300);
  CHECK(p.flags.has(Flag::vm_gen_counter_present));
  CHECK(p.flags.has(Flag::notification_present));
  // everything else 0
  CHECK(p.clock_status == abi::ClockStatus::unknown);
  CHECK(p.smearing_hint == abi::SmearingHint::strict);
  CHECK(p.tai_offset_sec == 0);
  CHECK(p.leap_indicator == abi::LeapIndicator::none);
  CHECK(p.counter_period_shift == 0);
  CHECK(p.counter_value == 0);
  CHECK(p.counter_period_frac_sec == 0);
  CHECK(p.counter_period_esterror_rate_frac_sec == 0);
  CHECK(p.counter_period_maxerror_rate_frac_sec == 0);
  CHECK(p.time_sec == 0);
  CHECK(p.time_frac_sec == 0);
  CHECK(p.time_esterror_nanosec == 0);
  CHECK(p.time_maxerror_nanosec == 0);
  REQUIRE(p.vm_generation_counter.has_value());
  CHECK(*p.vm_generation_counter == 1);  // restored from a snapshot once

  // And the whole page beyond the structure is zero.
  for (size_t i = 0x70; i < bytes.size(); ++i)
    if (bytes[i] != 0) FAIL("non-zero byte at " << i);

  // No time samples: a valid disruption-only device, on either architecture.
  for (auto native : {abi::CounterId::x86_tsc, abi::CounterId::arm_vcnt}) {
    Validity v = assess(p, native);
    CHECK(v.reason == Unusable::no_counter);
    CHECK(v.disruption_only());
    CHECK_FALSE(v.ok());
  }
  CHECK(name(Unusable::no_counter) == "disruption-only");
  CHECK(contains(describe(Unusable::no_counter, p), "disruption-only"));

  // Re-encoding it gives back the same 112 bytes.
  std::array<uint8_t, 112> re{};
  encode(p, re);
  CHECK(std::memcmp(re.data(), bytes.data(), re.size()) == 0);
}

TEST_CASE("page: every fixture decodes as tests/fixtures/README.md says") {
  // The disruption-only pages the hypervisors' own code writes.
  struct Fixture {
    const char* file;
    uint32_t seq_count;
    uint64_t marker;
    uint64_t flags;
    std::optional<uint64_t> generation;  // absent: QEMU has no generation counter
  };
  const Fixture fixtures[] = {
      {"vmclock-firecracker-page.bin", 2, 1, 0x300, 1},
      {"vmclock-firecracker-boot.bin", 0, 0, 0x300, 0},
      {"vmclock-firecracker-after-2-restores.bin", 4, 2, 0x300, 2},
      {"vmclock-qemu-boot.bin", 2, 1, 0, std::nullopt},
      {"vmclock-qemu-after-migration.bin", 4, 2, 0, std::nullopt},
  };
  for (const auto& f : fixtures) {
    CAPTURE(f.file);
    std::vector<uint8_t> bytes;
    const Page p = decode_fixture(f.file, bytes);
    CHECK(p.counter_id == abi::CounterId::invalid);
    CHECK(p.clock_status == abi::ClockStatus::unknown);
    CHECK(p.seq_count == f.seq_count);
    CHECK(p.disruption_marker == f.marker);
    CHECK(p.flags.raw == f.flags);
    CHECK(p.flags.has(Flag::vm_gen_counter_present) == f.generation.has_value());
    CHECK(p.flags.has(Flag::notification_present) == f.generation.has_value());
    CHECK(p.vm_generation_counter == f.generation);
    // No time at all: the calibration and the errors are zero.
    CHECK(p.counter_period_frac_sec == 0);
    CHECK(p.time_sec == 0);
    CHECK(p.time_maxerror_nanosec == 0);
    for (auto native : {abi::CounterId::x86_tsc, abi::CounterId::arm_vcnt}) {
      Validity v = assess(p, native);
      CHECK(v.reason == Unusable::no_counter);
      CHECK(v.disruption_only());
    }
    for (size_t i = 0x70; i < bytes.size(); ++i)
      if (bytes[i] != 0) FAIL("non-zero byte at " << i);
  }
}

TEST_CASE("page: the TAI prototype's fixture gives UTC = TAI - 37 s, convention TAI - UTC") {
  std::vector<uint8_t> bytes;
  const Page p = decode_fixture("vmclock-host-prototype-tai.bin", bytes);
  CHECK(p.counter_id == abi::CounterId::x86_tsc);
  CHECK(p.time_type == abi::TimeType::tai);
  CHECK(p.tai_offset_sec == 37);
  CHECK(p.clock_status == abi::ClockStatus::synchronized);
  CHECK(p.flags.raw == 0x281);
  CHECK(p.flags.has(Flag::tai_offset_valid));
  CHECK(p.flags.has(Flag::time_monotonic));
  CHECK(p.flags.has(Flag::notification_present));
  CHECK_FALSE(p.flags.has(Flag::vm_gen_counter_present));
  CHECK_FALSE(p.vm_generation_counter.has_value());
  CHECK(p.counter_period_shift == 31);
  CHECK(p.counter_period_frac_sec == 0xb7407f019e46321fULL);

  // A TSC page: read as the x86 machine it was written for.
  Validity v = assess(p, abi::CounterId::x86_tsc);
  REQUIRE(v.ok());
  CHECK(v.tai_convention == TaiConvention::tai_minus_utc);
  CHECK(name(v.tai_convention) == "tai-minus-utc");
  CHECK(v.utc_minus_page_sec == -37);

  // Its time at counter_value, in UTC: TAI 2026-01-01T00:00:37 is UTC
  // midnight.
  auto t = time_at(p, p.counter_value);
  REQUIRE(t.ok());
  CHECK(t->time.sec.count == static_cast<int64_t>(p.time_sec));
  CHECK(t->time.sec.count + v.utc_minus_page_sec == 1'767'225'600);
  // One second of its ~3 GHz counter later: one second later.
  auto t1 = time_at(p, p.counter_value + 3'000'000'000ULL);
  REQUIRE(t1.ok());
  CHECK(t1->time.sec.count - t->time.sec.count == 1);

  // It carries no error bound, so the page alone gives no sample, and says
  // why; with a bound the sample is UTC.
  Snapshot s;
  s.page = p;
  s.counter = p.counter_value;
  s.before = SysTime{1'767'225'600LL * kNsPerSec};
  s.after = SysTime{s.before.ns + 100};
  auto none = sample_from(s, abi::CounterId::x86_tsc);
  CHECK_FALSE(none.sample.has_value());
  CHECK(contains(none.why_not, "maxerror"));
  s.page.flags = p.flags.with(Flag::time_maxerror_valid);
  auto out = sample_from(s, abi::CounterId::x86_tsc);
  REQUIRE_MESSAGE(out.sample.has_value(), out.why_not);
  CHECK(out.sample->reference.sec.count == 1'767'225'600);
  CHECK(out.validity.tai_convention == TaiConvention::tai_minus_utc);
}
