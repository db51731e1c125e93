// SPDX-License-Identifier: Apache-2.0
// seqlock_read() (src/core/seqlock.h) against PageWriter (src/core/page_writer.cpp):
// a clean read, retries while the page changes, and a host stuck with an
// odd seq_count: an error within the time limit, never a hang.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>

#include "page_source.h"
#include "page_writer.h"
#include "cross_timestamp.h"
#include "seqlock.h"

using namespace vmc;

namespace {

Page sample_page(uint64_t i) {
  Page p;
  p.counter_id = abi::CounterId::x86_tsc;
  p.clock_status = abi::ClockStatus::synchronized;
  p.time_sec = i;
  p.counter_value = i;
  p.disruption_marker = i;
  p.time_frac_sec = ~i;
  p.counter_period_frac_sec = 18446744074ULL;
  return p;
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("seqlock: a clean read copies the structure and runs `inside` once") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  Page p = sample_page(5);
  w.publish(p);
  CHECK(w.seq() == 2);
  int inside = 0;
  auto r = seqlock_read(src.writable(), src.size(), [&] { ++inside; });
  REQUIRE(r.ok());
  CHECK(inside == 1);
  CHECK(r->seq == 2);
  CHECK(r->retries == 0);
  CHECK(r->len == 112);  // the structure, not the whole 4096-byte page
  Page expect = p;
  expect.seq_count = 2;
  std::array<uint8_t, 112> enc{};
  encode(expect, enc);
  CHECK(std::memcmp(r->bytes.data(), enc.data(), 112) == 0);
  auto d = decode(std::span<const uint8_t>(r->bytes.data(), r->len));
  REQUIRE(d.ok());
  CHECK(*d == expect);
}

TEST_CASE("seqlock: a short source copies only what it has") {
  MemoryPageSource src(104);
  PageWriter w(src.writable(), src.size());
  Page p = sample_page(1);
  p.size = 104;
  w.publish(p);
  auto r = seqlock_read(src.writable(), src.size(), [] {});
  REQUIRE(r.ok());
  CHECK(r->len == 104);
  auto d = decode(std::span<const uint8_t>(r->bytes.data(), r->len));
  REQUIRE(d.ok());
  CHECK(d->time_sec == 1);
}

TEST_CASE("seqlock: a change during the window is retried") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  w.publish(sample_page(1));
  int calls = 0;
  // The host publishes while we are inside the first window.
  auto r = seqlock_read(src.writable(), src.size(), [&] {
    if (calls++ == 0) w.publish(sample_page(2));
  });
  REQUIRE(r.ok());
  CHECK(calls == 2);
  CHECK(r->retries == 1);
  CHECK(r->seq == 4);
  auto d = decode(std::span<const uint8_t>(r->bytes.data(), r->len));
  REQUIRE(d.ok());
  CHECK(d->time_sec == 2);  // the new content, not a mix
  CHECK(d->time_frac_sec == ~uint64_t{2});
}

TEST_CASE("seqlock: a page stuck with an odd seq_count is an error within the time limit") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  w.publish(sample_page(1));
  w.publish_stuck(sample_page(2));
  CHECK((w.seq() & 1u) == 1u);

  SUBCASE("20 ms limit") {
    SeqlockLimits lim;
    lim.time_limit_ns = 20'000'000;
    auto t0 = std::chrono::steady_clock::now();
    auto r = seqlock_read(src.writable(), src.size(), [] {}, lim);
    double ms = ms_since(t0);
    MESSAGE("stuck read returned after " << ms << " ms");
    REQUIRE_FALSE(r.ok());
    CHECK(ms < 1000.0);
    CHECK(r.error().code == Errc::data);
    CHECK(contains(r.error().message, "seq_count"));
    CHECK(contains(r.error().message, "stuck odd"));
    CHECK(contains(r.error().message, std::to_string(w.seq())));
    CHECK(r.error().seqlock == SeqlockFailure::stuck_odd);
  }
  SUBCASE("default limits (the kernel's 100 ms) also return, well under 1 s") {
    auto t0 = std::chrono::steady_clock::now();
    auto r = seqlock_read(src.writable(), src.size(), [] {});
    double ms = ms_since(t0);
    MESSAGE("stuck read (defaults) returned after " << ms << " ms");
    REQUIRE_FALSE(r.ok());
    CHECK(ms < 1000.0);
    CHECK(contains(r.error().message, "seq_count"));
  }
  SUBCASE("a retry limit ends it too") {
    SeqlockLimits lim;
    lim.max_retries = 10;
    lim.time_limit_ns = 10'000'000'000;  // 10 s: the retry count must stop it first
    auto t0 = std::chrono::steady_clock::now();
    auto r = seqlock_read(src.writable(), src.size(), [] {}, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(ms_since(t0) < 1000.0);
    CHECK(contains(r.error().message, "seq_count"));
  }
  SUBCASE("through take_snapshot: the error names the source and seq_count") {
    SeqlockLimits lim;
    lim.time_limit_ns = 20'000'000;
    auto t0 = std::chrono::steady_clock::now();
    auto s = take_snapshot(src, lim);
    REQUIRE_FALSE(s.ok());
    CHECK(ms_since(t0) < 1000.0);
    CHECK(contains(s.error().message, "<memory>"));
    CHECK(contains(s.error().message, "seq_count"));
    CHECK(s.error().seqlock == SeqlockFailure::stuck_odd);
  }
  SUBCASE("the host recovering: the next publish reads cleanly") {
    w.publish(sample_page(3));
    auto r = seqlock_read(src.writable(), src.size(), [] {});
    REQUIRE(r.ok());
    CHECK((r->seq & 1u) == 0u);
    CHECK(decode(std::span<const uint8_t>(r->bytes.data(), r->len))->time_sec == 3);
  }
}

TEST_CASE("seqlock: a page that never stops changing is a temporary failure") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  w.publish(sample_page(1));
  uint64_t i = 1;
  SeqlockLimits lim;
  lim.time_limit_ns = 20'000'000;
  auto t0 = std::chrono::steady_clock::now();
  auto r = seqlock_read(src.writable(), src.size(), [&] { w.publish(sample_page(++i)); }, lim);
  REQUIRE_FALSE(r.ok());
  CHECK(ms_since(t0) < 1000.0);
  CHECK(r.error().code == Errc::temp_fail);
  CHECK(contains(r.error().message, "seq_count"));
  CHECK(contains(r.error().message, "kept changing"));
  CHECK(r.error().seqlock == SeqlockFailure::kept_changing);
}

TEST_CASE("seqlock: the writer's sequence") {
  MemoryPageSource src;
  PageWriter w(src.writable(), src.size());
  SUBCASE("even after each publish") {
    for (uint32_t k = 1; k <= 5; ++k) {
      w.publish(sample_page(k));
      CHECK(w.seq() == 2 * k);
      CHECK(seqlock_read(src.writable(), src.size(), [] {})->seq == 2 * k);
    }
  }
  SUBCASE("continuing from an even value a file already holds") {
    w.set_seq(100);
    w.publish(sample_page(1));
    CHECK(w.seq() == 102);
  }
  SUBCASE("wrapping past 2^32") {
    w.set_seq(0xfffffffeu);
    w.publish(sample_page(1));
    CHECK(w.seq() == 0u);
    auto r = seqlock_read(src.writable(), src.size(), [] {});
    REQUIRE(r.ok());
    CHECK(r->seq == 0u);
    CHECK(decode(std::span<const uint8_t>(r->bytes.data(), r->len))->seq_count == 0u);
  }
  SUBCASE("publish_stuck leaves the fields written and the sequence odd") {
    w.publish(sample_page(1));
    w.publish_stuck(sample_page(7));
    CHECK(w.seq() == 3u);
    // The bytes (not the seqlock) show the new body and the odd count.
    std::array<uint8_t, 112> raw{};
    for (size_t k = 0; k < raw.size(); ++k) raw[k] = src.writable()[k];
    auto d = decode(raw);
    REQUIRE(d.ok());
    CHECK(d->time_sec == 7);
    CHECK(d->seq_count == 3u);
  }
}
