// SPDX-License-Identifier: Apache-2.0
// ClockBoundPublisher: the protocol's header and generation rules, reuse
// in place, the one-writer rules, and what a stop leaves.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "clock.h"
#include "clockbound_publisher.h"
#include "temp_dir.h"

using namespace vmc;
namespace cb = vmc::clockbound;

namespace {

cb::segment read_seg(const std::string& path) {
  cb::segment s{};
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pread(fd, &s, sizeof s, 0) == static_cast<ssize_t>(sizeof s));
  ::close(fd);
  return s;
}

void poke_generation(const std::string& path, uint16_t g) {
  const int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, &g, sizeof g, offsetof(cb::segment, generation)) == 2);
  ::close(fd);
}

bound::Record synced(uint64_t bound_ns = 40'000, uint32_t drift = 15'000) {
  bound::Record r;
  r.status = bound::Status::synchronized;
  r.disruption_marker = 7;
  r.as_of_ns = realtime_now().ns;
  r.bound_ns = bound_ns;
  r.max_drift_ppb = drift;
  r.page_watched = true;
  r.stale_after_ns = 2'000'000'000;
  r.void_after_ns = 300'000'000'000;
  return r;
}

int64_t coarse_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
  return t.tv_sec * kNsPerSec + t.tv_nsec;
}
int64_t ns(const cb::timespec64& t) { return t.sec * kNsPerSec + t.nsec; }

// Opens `path` and brings it past its probation, as the daemon's loop would.
std::unique_ptr<ClockBoundPublisher> open_publishing(const std::string& path) {
  auto p = ClockBoundPublisher::open(path, mono_now_ns());
  REQUIRE(p);
  (*p)->tick(mono_now_ns() + ClockBoundPublisher::kProbationNs);
  REQUIRE((*p)->state() == "publishing");
  return std::move(*p);
}

}  // namespace

TEST_CASE("a new segment: the header, generation 0 until the first write, then even and rising") {
  test::TempDir d("cb");
  const auto path = d.join("cb/shm0");  // the directory is made too
  auto p = ClockBoundPublisher::open(path, mono_now_ns());
  REQUIRE(p);
  CHECK((*p)->state() == "publishing");
  CHECK((*p)->made_directory() == d.join("cb"));
  struct stat st;
  REQUIRE(::stat(d.join("cb").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(st.st_size == 80);
  auto s = read_seg(path);
  CHECK(cb::header_usable(s));
  CHECK(s.generation == 0);  // clients refuse to open it yet
  (*p)->publish(synced());
  s = read_seg(path);
  CHECK(s.generation == 2);
  CHECK(s.clock_status == static_cast<int32_t>(cb::Status::synchronized));
  CHECK(s.disruption_marker == 7);
  CHECK(s.max_drift_ppb == 15'000);
  CHECK(s.clock_disruption_support_enabled == 1);
  CHECK(s.bound_nsec >= 40'001);
  CHECK(s.bound_nsec < 40'100);
  // Dated in CLOCK_MONOTONIC_COARSE, early by the backdate and a tick.
  const int64_t c = coarse_ns();
  CHECK(ns(s.as_of) <= c - ClockBoundPublisher::kBackdateNs);
  CHECK(ns(s.as_of) > c - ClockBoundPublisher::kBackdateNs - 1'000'000'000);
  CHECK(ns(s.void_after) > c + 290'000'000'000);
  (*p)->publish(synced());
  CHECK(read_seg(path).generation == 4);
}

TEST_CASE("the bound is grown to the moment it is written, and rewritten when due") {
  test::TempDir d("cb");
  auto p = open_publishing(d.join("shm0"));
  auto r = synced(1000, 1'000'000);  // 1000 ppm: 1 us per ms
  r.as_of_ns -= 50'000'000;          // measured 50 ms ago
  p->publish(r);
  auto s = read_seg(d.join("shm0"));
  CHECK(s.bound_nsec >= 1000 + 50'000);
  const uint16_t g = s.generation;
  p->tick(mono_now_ns());  // not due yet
  CHECK(read_seg(d.join("shm0")).generation == g);
  CHECK(p->next_due() <= mono_now_ns() + ClockBoundPublisher::kRewriteNs);
  p->tick(p->next_due());
  CHECK(read_seg(d.join("shm0")).generation == g + 2);
}

TEST_CASE("a disruption is Disrupted with no bound; a drift clients would call malformed is Unknown") {
  test::TempDir d("cb");
  auto p = open_publishing(d.join("shm0"));
  auto r = synced();
  r.status = bound::Status::disrupted;
  r.disruption_marker = 8;
  p->publish(r);
  auto s = read_seg(d.join("shm0"));
  CHECK(s.clock_status == static_cast<int32_t>(cb::Status::disrupted));
  CHECK(s.bound_nsec == 0);
  CHECK(s.disruption_marker == 8);
  p->publish(synced(40'000, cb::kMaxDriftPpb));
  s = read_seg(d.join("shm0"));
  CHECK(s.clock_status == static_cast<int32_t>(cb::Status::unknown));
  CHECK(s.max_drift_ppb < cb::kMaxDriftPpb);
}

TEST_CASE("reused in place: the generation carries on, past 65535 to 2, and from an odd one a writer left") {
  test::TempDir d("cb");
  const auto path = d.join("shm0");
  { auto p = open_publishing(path); p->publish(synced()); }
  struct stat before;
  REQUIRE(::stat(path.c_str(), &before) == 0);
  poke_generation(path, 65534);
  {
    auto p = ClockBoundPublisher::open(path, mono_now_ns());
    REQUIRE(p);
    CHECK((*p)->state() != "publishing");  // watching for another writer first
    (*p)->publish(synced());
    CHECK(read_seg(path).generation == 65534);  // nothing written while on probation
    (*p)->tick(mono_now_ns() + ClockBoundPublisher::kProbationNs);
    CHECK(read_seg(path).generation == 2);  // 65535 while written, then 2: never 0
  }
  struct stat after;
  REQUIRE(::stat(path.c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);  // clients' mappings stay good
  poke_generation(path, 9);              // a writer died in the middle
  auto p = open_publishing(path);
  p->publish(synced());
  CHECK(read_seg(path).generation == 10);
}

TEST_CASE("one writer: another vmclockd is refused at open, another writer's generation makes it give up") {
  test::TempDir d("cb");
  const auto path = d.join("shm0");
  auto first = open_publishing(path);
  first->publish(synced());
  auto second = ClockBoundPublisher::open(path, mono_now_ns());
  REQUIRE(!second);
  CHECK(second.error().code == Errc::unavailable);
  CHECK(second.error().message.find("another vmclockd") != std::string::npos);

  SUBCASE("a write by someone else after ours") {
    poke_generation(path, 100);
    first->publish(synced());
    CHECK(first->refused());
    CHECK(read_seg(path).generation == 100);
  }
  SUBCASE("a write by someone else during the probation of a reused segment") {
    first.reset();
    auto p = ClockBoundPublisher::open(path, mono_now_ns());
    REQUIRE(p);
    (*p)->publish(synced());
    poke_generation(path, 200);
    (*p)->tick(mono_now_ns() + ClockBoundPublisher::kProbationNs);
    CHECK((*p)->refused());
    CHECK(read_seg(path).generation == 200);
    CHECK((*p)->next_due() == std::numeric_limits<int64_t>::max());
  }
}

TEST_CASE("a segment this user cannot write is another writer's: unavailable, not taken over") {
  test::TempDir d("cb");
  REQUIRE(::chmod(d.path.c_str(), 0755) == 0);
  const auto path = d.join("shm0");
  { auto p = open_publishing(path); p->publish(synced()); }
  REQUIRE(::chmod(path.c_str(), 0444) == 0);
  const auto before = read_seg(path);
  // In a child, as another user when root (root may write anything).
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    auto p = ClockBoundPublisher::open(path, mono_now_ns());
    ::_exit(!p && p.error().code == Errc::unavailable ? 0 : 1);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  const auto after = read_seg(path);
  CHECK(std::memcmp(&before, &after, sizeof before) == 0);
}

TEST_CASE("a clean stop leaves FreeRunning, growing, never Synchronized") {
  test::TempDir d("cb");
  auto p = open_publishing(d.join("shm0"));
  p->publish(synced());
  bound::Record stop;
  stop.stopped = true;
  p->publish(stop);
  auto s = read_seg(d.join("shm0"));
  CHECK(s.clock_status == static_cast<int32_t>(cb::Status::freerunning));
  CHECK(s.bound_nsec >= 40'001);
  CHECK(s.max_drift_ppb == 15'000);
  CHECK(p->state() == "stopped");
  const uint16_t g = s.generation;
  p->publish(synced());  // nothing after the stop
  CHECK(read_seg(d.join("shm0")).generation == g);
}
