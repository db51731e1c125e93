// SPDX-License-Identifier: Apache-2.0
// How the daemon's loop watches the page (src/core/page_notify.cpp,
// src/daemon/page_reader.cpp, Daemon::step()), through the seam of
// tests/support/notified_source.h: fds that answer poll() like each
// kernel, under a Firecracker-like page that sets NOTIFICATION_PRESENT.
// The loop's wake-ups are counted: on a driver without .poll they stay at
// the timer's rate (before this, the loop spun: hundreds of thousands a
// second), on the 7.0 driver they follow the device's events and no timer
// runs.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

#include "clock.h"
#include "daemon.h"
#include "notified_source.h"
#include "page_source.h"
#include "page.h"
#include "page_notify.h"
#include "temp_dir.h"

using namespace vmc;
using test::TempDir;

namespace {

// What Firecracker writes (reference/real-guests.md): no time, generation
// counter and NOTIFICATION_PRESENT, size 4096.
Page firecracker(uint32_t restores) {
  Page p;
  p.size = 4096;
  p.counter_id = abi::CounterId::invalid;
  p.clock_status = abi::ClockStatus::unknown;
  p.flags = abi::Flags{}.with(abi::Flag::vm_gen_counter_present).with(abi::Flag::notification_present);
  p.seq_count = 2 * restores;
  p.disruption_marker = restores;
  p.vm_generation_counter = restores;
  return p;
}

void write_page(const std::string& path, const Page& p) {
  uint8_t buf[4096] = {};
  encode(p, buf);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, buf, sizeof buf, 0) == static_cast<ssize_t>(sizeof buf));
  ::close(fd);
}

Config quiet_config() {
  Config c;
  c.chrony.sock.clear();
  c.chrony.reset_on_disruption = false;
  c.daemon.status_file.clear();
  c.bound.segment.clear();
  c.sampling.interval_ms = 1000;
  c.source.watch_interval_ms = 5;
  return c;
}

// The daemon over `path`, its page watched through `notify`.
struct Loop {
  Daemon d;
  Loop(const std::string& path, Fd notify)
      : d(quiet_config(), "", path, [n = std::make_shared<Fd>(std::move(notify))](const std::string& p) {
          auto src = open_file_source(p);
          if (!src) return src;
          return Result<std::unique_ptr<PageSource>>(test::with_notifications(std::move(*src), std::move(*n)));
        }) {
    REQUIRE(d.setup().ok());
    d.begin();
  }
  // Steps for `ms` of monotonic time (and at most 100,000 steps).
  void run_for(int64_t ms) {
    const int64_t end = mono_now_ns() + ms * 1'000'000;
    for (int i = 0; i < 100'000 && mono_now_ns() < end; ++i) REQUIRE(d.step());
  }
};

// The 7.0 driver: POLLIN while there is something unread, never POLLOUT.
// The read end of a pipe answers the same way; the test keeps the write
// end as the host's notification.
struct Device70 {
  Fd read_end, write_end;
  explicit Device70(bool fresh_open) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    read_end = Fd(p[0]);
    write_end = Fd(p[1]);
    if (fresh_open) notify();  // a fresh open has read nothing: its first poll answers at once
  }
  bool notify() const { return ::write(write_end.get(), "n", 1) == 1; }
  // Whether the reader has read (acknowledged) every notification.
  bool acknowledged() const {
    int n = 0;
    return ::ioctl(write_end.get(), FIONREAD, &n) == 0 && n == 0;
  }
};

Fd regular_file(const TempDir& t) {
  const std::string f = t.path + "/no-poll";
  write_page(f, firecracker(0));
  return Fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
}

}  // namespace

TEST_CASE("poll answers tell the kernels apart") {
  CHECK(classify_poll(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM) == PollAnswer::no_poll);
  CHECK(classify_poll(POLLIN | POLLRDNORM) == PollAnswer::changed);
  CHECK(classify_poll(POLLHUP) == PollAnswer::hung_up);
  CHECK(classify_poll(POLLIN | POLLERR) == PollAnswer::hung_up);
  CHECK(classify_poll(POLLNVAL) == PollAnswer::hung_up);
  CHECK(classify_poll(0) == PollAnswer::quiet);
}

TEST_CASE("probe: the page's flag alone does not turn notifications on") {
  TempDir t;
  Fd f = regular_file(t);
  REQUIRE(f);
  auto without_poll = Notifier::probe(f.get(), true);
  CHECK(without_poll.mode() == WatchMode::timer);
  CHECK(without_poll.poll_fd() == -1);
  CHECK(without_poll.why().find("no poll()") != std::string::npos);

  Device70 dev(false);
  auto no_flag = Notifier::probe(dev.read_end.get(), false);
  CHECK(no_flag.mode() == WatchMode::timer);
  CHECK(no_flag.why().find("NOTIFICATION_PRESENT") != std::string::npos);

  auto quiet = Notifier::probe(dev.read_end.get(), true);
  CHECK(quiet.mode() == WatchMode::device);
  CHECK(quiet.poll_fd() == dev.read_end.get());
  CHECK_FALSE(quiet.ack_pending());

  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  ::close(p[1]);
  Fd hung(p[0]);
  auto hup = Notifier::probe(hung.get(), true);
  CHECK(hup.mode() == WatchMode::timer);
  CHECK(hup.why().find("POLLHUP") != std::string::npos);
}

TEST_CASE("probe: a fresh open's first answer is acknowledged, then the fd is quiet") {
  Device70 dev(true);
  auto n = Notifier::probe(dev.read_end.get(), true);
  REQUIRE(n.mode() == WatchMode::device);
  CHECK(n.ack_pending());
  CHECK(n.poll_fd() == -1);  // polling now would answer at once again
  CHECK_FALSE(n.acknowledge());
  CHECK_FALSE(n.ack_pending());
  CHECK(n.poll_fd() == dev.read_end.get());
  pollfd pfd{dev.read_end.get(), POLLIN, 0};
  CHECK(::poll(&pfd, 1, 0) == 0);
}

TEST_CASE("loop on a driver without .poll: wake-ups at the timer's rate") {
  TempDir t;
  const std::string page = t.path + "/page";
  write_page(page, firecracker(1));
  Loop l(page, regular_file(t));
  l.run_for(300);
  const auto& c = l.d.counters();
  MESSAGE("wake-ups in 300 ms: " << c.wakeups << " (5 ms timer: about 60)");
  CHECK(c.notifications == 0);
  // 60 timer ticks, the sampling and a margin; the loop that trusted the
  // flag woke about 130,000 times in 300 ms.
  CHECK(c.wakeups <= 90);
  CHECK(c.wakeups >= 3);
}

TEST_CASE("loop at the default watch: the sampling and the reports take no wake-up of their own") {
  TempDir t;
  const std::string page = t.path + "/page";
  write_page(page, firecracker(1));
  Config c = quiet_config();
  c.source.watch_interval_ms = Config{}.source.watch_interval_ms;
  // Off the watch's grid (250 ms is on it), so that each sample would be
  // a wake-up of its own if it did not wait for the next tick.
  c.sampling.interval_ms = 230;
  c.daemon.status_file = t.path + "/status.json";
  Daemon d(c, "", page, [f = std::make_shared<Fd>(regular_file(t))](const std::string& p) {
    auto src = open_file_source(p);
    if (!src) return src;
    return Result<std::unique_ptr<PageSource>>(test::with_notifications(std::move(*src), std::move(*f)));
  });
  REQUIRE(d.setup().ok());
  d.begin();
  const int64_t t0 = mono_now_ns(), end = t0 + 2'000'000'000;
  for (int i = 0; i < 100'000 && mono_now_ns() < end; ++i) REQUIRE(d.step());
  const int64_t ticks = (mono_now_ns() - t0) / (c.source.watch_interval_ms * 1'000'000);
  MESSAGE("wake-ups in 2 s: " << d.counters().wakeups << " for " << ticks << " watch ticks");
  // Each sample (every 230 ms) and report (every second) on a wake-up of
  // its own would add 8 and 2; the first tick after begin() may add one.
  CHECK(d.counters().wakeups <= static_cast<uint64_t>(ticks) + 1);
  // A loop descheduled past a tick skips it (the grid moves on): on a busy
  // machine fewer wake-ups than ticks is right, but not half as many.
  CHECK(d.counters().wakeups >= static_cast<uint64_t>(ticks) / 2);
}

TEST_CASE("loop on a hung-up device: the timer") {
  TempDir t;
  const std::string page = t.path + "/page";
  write_page(page, firecracker(1));
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  ::close(p[1]);
  Loop l(page, Fd(p[0]));
  l.run_for(100);
  CHECK(l.d.counters().notifications == 0);
  CHECK(l.d.counters().wakeups <= 40);
}

TEST_CASE("loop on the 7.0 driver: the device's events wake it, no timer runs") {
  TempDir t;
  const std::string page = t.path + "/page";
  write_page(page, firecracker(1));
  Device70 dev(true);
  Loop l(page, std::move(dev.read_end));
  l.run_for(50);  // acknowledges the first answer; nothing else happens
  CHECK(l.d.counters().disruptions_seen == 0);
  const uint64_t wakes_before = l.d.counters().wakeups;
  const int64_t t0 = mono_now_ns();

  // Ten restores, each published (marker and generation +1, seq +2) and
  // then notified, the next once the loop has acknowledged the last.
  constexpr uint32_t kEvents = 10;
  std::thread host([&] {
    for (uint32_t i = 1; i <= kEvents; ++i) {
      const int64_t give_up = mono_now_ns() + 5'000'000'000;
      while (!dev.acknowledged() && mono_now_ns() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      write_page(page, firecracker(1 + i));
      if (!dev.notify()) break;
    }
  });
  const int64_t end = mono_now_ns() + 10'000'000'000;
  for (int i = 0; i < 10'000 && mono_now_ns() < end && l.d.counters().disruptions_seen < kEvents; ++i)
    REQUIRE(l.d.step());
  host.join();
  const auto& c = l.d.counters();
  const int64_t elapsed_ms = (mono_now_ns() - t0) / 1'000'000;
  const uint64_t wakes = c.wakeups - wakes_before;
  MESSAGE("10 events in " << elapsed_ms << " ms: " << wakes << " wake-ups, " << c.notifications << " by the device");
  CHECK(c.disruptions_seen == kEvents);
  CHECK(c.notifications == kEvents);
  // Besides the events: the 1 s sampling, and the look right after each
  // notification that acknowledges it. A 5 ms timer would add elapsed/5.
  CHECK(wakes <= kEvents + 4 + static_cast<uint64_t>(elapsed_ms / 1000));
}

TEST_CASE("loop: notifications that say nothing, or a device that hangs up later, give way to the timer") {
  TempDir t;
  const std::string page = t.path + "/page";
  write_page(page, firecracker(1));
  SUBCASE("POLLIN for ever, the page never moving") {
    Device70 dev(false);
    Loop l(page, std::move(dev.read_end));
    std::thread chatter([&dev] {
      for (int i = 0; i < 200; ++i) {
        if (!dev.notify()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
    l.run_for(600);
    chatter.join();
    // 16 notifications in a row without a change, then the timer.
    CHECK(l.d.counters().notifications >= 16);
    CHECK(l.d.counters().notifications <= 17);
  }
  SUBCASE("the writer side goes away: POLLHUP") {
    Device70 dev(false);
    Loop l(page, std::move(dev.read_end));
    std::thread host([&dev] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      dev.write_end.reset();
    });
    l.run_for(150);
    host.join();
    CHECK(l.d.counters().notifications == 1);  // the POLLHUP, once
    CHECK(l.d.counters().wakeups <= 60);
  }
}
