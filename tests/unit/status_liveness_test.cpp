// SPDX-License-Identifier: Apache-2.0
// Whether a status file speaks for a running daemon (status_liveness.h):
// a clean stop, a dead or replaced writer, a file not rewritten (SIGSTOP)
// each read as not running; and the pid's identity read from /proc.
#include <doctest/doctest.h>
#include <unistd.h>

#include "process_identity.h"
#include "status_liveness.h"
#include "units.h"

using namespace vmc;

namespace {

constexpr int64_t kT = 1'796'166'000'000'000'000;

StatusView written() {
  StatusView v;
  v.pid = 4242;
  v.boot_id = "b1";
  v.start_ticks = 777;
  v.state = DaemonState::synced;
  v.updated = "2026-12-01T23:00:00.000000000Z";
  v.updated_unix_ns = kT;
  return v;
}

WriterNow same(int64_t age_ns) { return {"b1", 777, kT + age_ns}; }

}  // namespace

TEST_CASE("the writer alive and the file fresh: running") {
  auto l = judge_liveness(written(), same(kStatusRefreshNs));
  CHECK(l.what == Liveness::running);
  CHECK(l.text.empty());
  CHECK(judge_liveness(written(), same(kStatusStaleAfterNs)).what == Liveness::running);
}

TEST_CASE("a clean stop is stopped, whatever the pid is now") {
  auto v = written();
  v.state = DaemonState::stopped;
  for (const WriterNow& n : {same(0), WriterNow{"b1", std::nullopt, kT}, same(100 * kNsPerSec)}) {
    auto l = judge_liveness(v, n);
    CHECK(l.what == Liveness::stopped);
    CHECK(l.text == "stopped");
  }
}

TEST_CASE("no such pid, a pid used again, another boot: not running, with when it was last seen") {
  for (const WriterNow& n : {WriterNow{"b1", std::nullopt, kT}, WriterNow{"b1", 778, kT}, WriterNow{"b2", 777, kT}}) {
    auto l = judge_liveness(written(), n);
    CHECK(l.what == Liveness::not_running);
    CHECK(l.text == "not running (last seen 2026-12-01T23:00:00.000000000Z)");
  }
}

TEST_CASE("the writer there but the file not rewritten (SIGSTOP, a hang): stale, with its age") {
  auto l = judge_liveness(written(), same(kStatusStaleAfterNs + 7 * kNsPerSec));
  CHECK(l.what == Liveness::stale);
  CHECK(l.text == "stale (last written 12 s ago)");
  CHECK(name(l.what) == "stale");
}

TEST_CASE("this process's identity: the boot and the start time /proc reports") {
  const auto& me = self_identity();
  CHECK(me.boot_id.size() == 36);
  CHECK(me.boot_id == current_boot_id());
  REQUIRE(process_start_ticks(::getpid()));
  CHECK(*process_start_ticks(::getpid()) == me.start_ticks);
  CHECK_FALSE(process_start_ticks(0));
  CHECK_FALSE(process_start_ticks(-1));
}

TEST_CASE("the start time counts fields after the last ')': a command name may hold both") {
  std::string rest;
  for (int n = 3; n <= 21; ++n) rest += " " + std::to_string(n);
  CHECK(start_ticks_from_stat("12 (a) b (c)" + rest + " 98765 23 24") == 98765);
  CHECK(start_ticks_from_stat("12 (x)" + rest + " 5") == 5);
  CHECK_FALSE(start_ticks_from_stat("12 (x)" + rest));
  CHECK_FALSE(start_ticks_from_stat("12 (x)" + rest + " 5x"));
  CHECK_FALSE(start_ticks_from_stat("garbage"));
}
