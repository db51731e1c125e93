// SPDX-License-Identifier: Apache-2.0
// The SHM sink read back as chronyd 4.3 reads it (tests/support/shm_reader.h
// copies shm_poll()), including while another thread writes.
#include <doctest/doctest.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "shm_reader.h"
#include "shm_sample.h"
#include "sink.h"

using namespace vmc;
using namespace vmc::chrony;

namespace {

int test_unit(int k) { return 20000 + (getpid() % 10000) * 4 + k; }

struct SegmentGuard {
  int unit;
  explicit SegmentGuard(int u) : unit(u) { (void)remove_shm_segment(u); }
  ~SegmentGuard() { (void)remove_shm_segment(unit); }
};

Sample sample(int64_t system_ns, int64_t offset_ns, Leap leap = Leap::none, uint64_t maxerr = 1000) {
  Sample s;
  s.system = SysTime{system_ns};
  s.offset = Nanoseconds{offset_ns};
  s.leap = leap;
  s.maxerror_ns = maxerr;
  return s;
}

}  // namespace

TEST_CASE("precision is log2 of the error bound in seconds, rounded up") {
  CHECK(precision_log2(1) == -29);
  CHECK(precision_log2(1000) == -19);
  CHECK(precision_log2(1'000'000) == -9);
  CHECK(precision_log2(500'000'000) == -1);
  CHECK(precision_log2(0) == -30);
  CHECK(precision_log2(UINT64_MAX) == 30);
}

TEST_CASE("a published sample reads back as chrony would take it") {
  SegmentGuard g(test_unit(0));
  auto sink = make_shm_sink(g.unit);
  REQUIRE_MESSAGE(sink.ok(), sink.error().message);
  CHECK((*sink)->name() == "shm");
  const int64_t sys = 1'700'000'000'123'456'789;
  REQUIRE((*sink)->publish(sample(sys, 37'500, Leap::insert, 1000)).ok());

  auto r = read_shm_segment(g.unit);
  REQUIRE(r.ok());
  CHECK(r->accepted);
  CHECK(r->nsec_used);
  CHECK(r->raw.mode == 1);
  CHECK(r->raw.valid == 1);
  CHECK(r->raw.count == 2);  // +1 before the fields, +1 after
  CHECK(r->raw.receiveTimeStampSec == 1'700'000'000);
  CHECK(r->raw.receiveTimeStampNSec == 123'456'789);
  CHECK(r->raw.receiveTimeStampUSec == 123'456);
  CHECK(r->raw.clockTimeStampSec == 1'700'000'000);
  CHECK(r->raw.clockTimeStampNSec == 123'494'289);
  CHECK(r->raw.clockTimeStampUSec == 123'494);
  CHECK(r->raw.leap == 1);
  CHECK(r->raw.precision == -19);
  CHECK(r->receive_ns == sys);
  CHECK(r->offset_ns() == 37'500);

  REQUIRE((*sink)->publish(sample(sys, 0, Leap::remove)).ok());
  r = read_shm_segment(g.unit);
  CHECK(r->raw.count == 4);
  CHECK(r->raw.leap == 2);
  CHECK((*sink)->health().published == 2);
  CHECK((*sink)->health().ok);
}

TEST_CASE("negative offsets borrow from the seconds") {
  SegmentGuard g(test_unit(1));
  auto sink = make_shm_sink(g.unit);
  REQUIRE(sink.ok());
  REQUIRE((*sink)->publish(sample(1'700'000'000'000'000'100, -200)).ok());
  auto r = read_shm_segment(g.unit);
  CHECK(r->raw.clockTimeStampSec == 1'699'999'999);
  CHECK(r->raw.clockTimeStampNSec == 999'999'900);
  CHECK(r->raw.clockTimeStampUSec == 999'999);
  CHECK(r->offset_ns() == -200);
}

TEST_CASE("a consumed, withdrawn or closed sample is not there for chrony") {
  SegmentGuard g(test_unit(2));
  {
    auto sink = make_shm_sink(g.unit);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->publish(sample(1'700'000'000'000'000'000, 5)).ok());
    auto first = read_shm_segment(g.unit, /*consume=*/true);
    CHECK(first->accepted);
    CHECK_FALSE(read_shm_segment(g.unit)->accepted);

    REQUIRE((*sink)->publish(sample(1'700'000'001'000'000'000, 5)).ok());
    (*sink)->withdraw();
    auto r = read_shm_segment(g.unit);
    CHECK_FALSE(r->accepted);
    CHECK(r->raw.valid == 0);

    REQUIRE((*sink)->publish(sample(1'700'000'002'000'000'000, 5)).ok());
    CHECK(read_shm_segment(g.unit)->accepted);
  }
  // The destructor withdraws: nothing stale for chronyd after we exit.
  CHECK_FALSE(read_shm_segment(g.unit)->accepted);
}

TEST_CASE("without create, a missing segment is no_input") {
  SegmentGuard g(test_unit(3));
  auto sink = make_shm_sink(g.unit, {.create = false, .perm = 0600, .log = {}});
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().code == Errc::no_input);
  CHECK(sink.error().message.find("shm: unit") != std::string::npos);
  CHECK(read_shm_segment(g.unit).error().code == Errc::no_input);
}

TEST_CASE("a segment made before us that others may write, or by another user, is refused") {
  SegmentGuard g(test_unit(4));
  const key_t key = static_cast<key_t>(kShmKeyBase + g.unit);
  int id = shmget(key, sizeof(ShmTime), IPC_CREAT | 0666);
  REQUIRE(id >= 0);
  auto sink = make_shm_sink(g.unit);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().code == Errc::unavailable);
  CHECK(sink.error().message.find("mode 0666") != std::string::npos);
  CHECK(sink.error().message.find("ipcrm -M") != std::string::npos);

  // Owner-only, but given to another user (as an unprivileged user's own
  // segment would be).
  shmid_ds ds{};
  REQUIRE(shmctl(id, IPC_STAT, &ds) == 0);
  ds.shm_perm.mode = 0600;
  ds.shm_perm.uid = geteuid() == 65534 ? 65533 : 65534;
  REQUIRE(shmctl(id, IPC_SET, &ds) == 0);
  sink = make_shm_sink(g.unit);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().message.find("owned by uid " + std::to_string(ds.shm_perm.uid)) != std::string::npos);

  // Ours and owner-only: attached.
  REQUIRE(remove_shm_segment(g.unit).ok());
  sink = make_shm_sink(g.unit);
  CHECK(sink.ok());
}

TEST_CASE("a reader racing the writer never accepts a torn sample") {
  SegmentGuard g(test_unit(0));
  auto sink = make_shm_sink(g.unit);
  REQUIRE(sink.ok());
  // Each sample's offset is a function of its seconds, so a sample mixing
  // two writes shows up as a mismatch.
  auto offset_for = [](int64_t sec) { return (sec % 1000) * 1000 + 7; };
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int64_t i = 0; i < 2'000'000 && !stop.load(std::memory_order_relaxed); ++i) {
      int64_t sec = 1'700'000'000 + i;
      (void)(*sink)->publish(sample(sec * kNsPerSec + (i * 7919) % kNsPerSec, offset_for(sec)));
    }
  });
  int accepted = 0, bad = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(700);
  for (int i = 0; i < 200'000 && std::chrono::steady_clock::now() < deadline; ++i) {
    auto r = read_shm_segment(g.unit, true);
    REQUIRE(r.ok());
    if (!r->accepted) continue;
    ++accepted;
    if (r->offset_ns() != offset_for(r->raw.receiveTimeStampSec) || !r->nsec_used) ++bad;
  }
  stop = true;
  writer.join();
  CHECK(bad == 0);
  CHECK(accepted > 0);
  MESSAGE("accepted " << accepted << " samples while racing");
}
