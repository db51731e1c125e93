// SPDX-License-Identifier: Apache-2.0
// The chrony reset state machine (src/daemon/chrony_reset.cpp) against a
// scripted chronyd: reset, burst, makestep, chronyd absent, retries with
// backoff, giving up, and one log line per incident.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "chrony_commands.h"
#include "chrony_reset.h"
#include "logging.h"

using namespace vmc;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

struct FakeChronyd : ChronyCommands {
  std::deque<Status> reset_answers;  // empty: success
  Result<BurstOutcome> burst_answer = BurstOutcome::done;
  std::string burst_refusal;
  Status makestep_answer = Ok{};
  std::vector<std::string> calls;

  Status reset_sources() override {
    calls.push_back("reset");
    if (reset_answers.empty()) return Ok{};
    Status s = reset_answers.front();
    reset_answers.pop_front();
    return s;
  }
  Result<BurstOutcome> burst(std::string& refused) override {
    calls.push_back("burst");
    refused = burst_refusal;
    return burst_answer;
  }
  Status make_step() override {
    calls.push_back("makestep");
    return makestep_answer;
  }
};

// The reply comes 1 ms after the tick that asked.
int64_t g_now = 0;
int64_t fake_clock() { return g_now + 1'000'000; }

struct Clocked : ChronyReset {
  Clocked(ChronyCommands* c, ResetPolicy p) : ChronyReset(c, p, fake_clock) {}
  std::optional<Done> tick(int64_t t, bool hold = false) {
    g_now = t;
    return ChronyReset::tick(t, hold);
  }
};

Status absent() { return make_error(Errc::temp_fail, "chronyc: no reply from /run/chrony/chronyd.sock"); }

struct LogCapture {
  std::vector<std::string> lines;
  LogCapture() {
    log::set_sink([this](log::Level, std::string_view module, std::string_view msg) {
      lines.push_back(std::string(module) + ": " + std::string(msg));
    });
  }
  ~LogCapture() { log::set_sink(nullptr); }
  size_t count(std::string_view part) const {
    size_t n = 0;
    for (const auto& l : lines) n += l.find(part) != std::string::npos;
    return n;
  }
};

}  // namespace

TEST_CASE("without a command client nothing is ever pending") {
  Clocked r(nullptr, {});
  r.disrupted(0);
  CHECK_FALSE(r.resets());
  CHECK_FALSE(r.pending());
  CHECK_FALSE(r.tick(0));
  CHECK(r.next_due() == INT64_MAX);
}

TEST_CASE("a reset at once, then a burst; the latency is measured from the disruption") {
  FakeChronyd c;
  LogCapture logs;
  Clocked r(&c, {.burst = true, .makestep = false});
  r.disrupted(0);
  CHECK(r.pending());
  CHECK(r.next_due() == 0);
  auto done = r.tick(0);
  REQUIRE(done);
  CHECK(done->latency_ns == 1'000'000);
  CHECK(c.calls == std::vector<std::string>{"reset", "burst"});
  CHECK_FALSE(r.pending());
  CHECK(r.sent() == 1);
  CHECK(r.failed() == 0);
  CHECK(logs.count("sources reset") == 1);
  CHECK(logs.count(", burst") == 1);
}

TEST_CASE("no burst when the policy says so; a chronyd with refclocks only is no failure") {
  FakeChronyd c;
  LogCapture logs;
  SUBCASE("policy off") {
    Clocked r(&c, {.burst = false});
    r.disrupted(0);
    REQUIRE(r.tick(0));
    CHECK(c.calls == std::vector<std::string>{"reset"});
  }
  SUBCASE("NOSUCHSOURCE") {
    c.burst_answer = ChronyCommands::BurstOutcome::no_ntp_source;
    Clocked r(&c, {.burst = true});
    r.disrupted(0);
    REQUIRE(r.tick(0));
    CHECK(logs.count("burst") == 0);
  }
  SUBCASE("refused") {
    c.burst_answer = ChronyCommands::BurstOutcome::refused;
    c.burst_refusal = "NOTENABLED";
    Clocked r(&c, {.burst = true});
    r.disrupted(0);
    REQUIRE(r.tick(0));
    CHECK(logs.count("burst refused (NOTENABLED)") == 1);
  }
}

TEST_CASE("held while the marker is about to change again") {
  FakeChronyd c;
  Clocked r(&c, {});
  r.disrupted(0);
  CHECK_FALSE(r.tick(5 * kMs, /*hold=*/true));
  CHECK(c.calls.empty());
  CHECK(r.pending());
  CHECK(r.next_due(/*hold=*/true) == INT64_MAX);  // no busy loop while held
  CHECK(r.tick(6 * kMs));
}

TEST_CASE("chronyd absent: retries with doubling backoff, one log line, then gives up after 10 s") {
  FakeChronyd c;
  for (int i = 0; i < 1000; ++i) c.reset_answers.push_back(absent());
  LogCapture logs;
  Clocked r(&c, {});
  r.disrupted(0);
  std::vector<int64_t> tries;
  int64_t t = 0;
  for (int i = 0; i < 1000 && r.pending(); ++i) {
    t = r.next_due();
    REQUIRE(t < 60 * kS);
    tries.push_back(t);
    CHECK_FALSE(r.tick(t));
  }
  CHECK_FALSE(r.pending());  // samples flow again: chronyd may simply not run
  REQUIRE(tries.size() >= 5);
  CHECK(tries[0] == 0);
  CHECK(tries[1] == 10 * kMs);
  CHECK(tries[2] == 30 * kMs);
  CHECK(tries[3] == 70 * kMs);
  for (size_t i = 1; i < tries.size(); ++i) CHECK(tries[i] - tries[i - 1] <= ChronyReset::kMaxRetryNs);
  CHECK(tries.back() >= ChronyReset::kGiveUpNs);
  CHECK(tries.back() < ChronyReset::kGiveUpNs + ChronyReset::kMaxRetryNs);
  CHECK(r.failed() == tries.size());
  CHECK(r.sent() == 0);
  CHECK(logs.count("RESET_SOURCES failed, will retry") == 1);  // one line per incident
  CHECK(logs.count("giving up") == 1);
}

TEST_CASE("a retry that succeeds closes the incident with one line") {
  FakeChronyd c;
  c.reset_answers = {absent(), absent()};
  LogCapture logs;
  Clocked r(&c, {.burst = false});
  r.disrupted(0);
  CHECK_FALSE(r.tick(0));
  CHECK_FALSE(r.tick(r.next_due()));
  auto done = r.tick(r.next_due());
  REQUIRE(done);
  CHECK(r.failed() == 2);
  CHECK(r.sent() == 1);
  CHECK(logs.count("RESET_SOURCES works again") == 1);
}

TEST_CASE("makestep at 3, 6 and 12 s after the reset, and a new disruption cancels the old steps") {
  FakeChronyd c;
  LogCapture logs;
  Clocked r(&c, {.burst = false, .makestep = true});
  r.disrupted(0);
  REQUIRE(r.tick(0));
  const int64_t first = r.next_due();
  CHECK(first >= 3 * kS);
  CHECK(first < 3 * kS + 100 * kMs);
  r.tick(first - 1);
  CHECK(c.calls == std::vector<std::string>{"reset"});
  r.tick(first);
  CHECK(c.calls == std::vector<std::string>{"reset", "makestep"});
  const int64_t second = r.next_due();
  CHECK(second - first == 3 * kS);
  r.disrupted(second - 1);  // another migration: steps for the old one measure nothing new
  REQUIRE(r.tick(second - 1));
  CHECK(r.next_due() >= second - 1 + 3 * kS);
  c.makestep_answer = make_error(Errc::unavailable, "chronyc: MAKESTEP: chronyd answered NOTENABLED (2)");
  r.tick(r.next_due());
  r.tick(r.next_due());
  CHECK(logs.count("MAKESTEP failed") == 1);
}

TEST_CASE("a reload that turns resets off while one is pending drops it (and never calls a gone client)") {
  FakeChronyd c;
  c.reset_answers = {absent()};
  Clocked r(&c, {.burst = false, .makestep = true});
  r.disrupted(0);
  CHECK_FALSE(r.tick(0));
  REQUIRE(r.pending());
  r.set_commands(nullptr);
  CHECK_FALSE(r.pending());
  CHECK(r.next_due() == INT64_MAX);
  CHECK_FALSE(r.tick(20 * kS));
  CHECK(c.calls.size() == 1);
  FakeChronyd other;
  r.set_commands(&other);  // back on: the next disruption resets through the new client
  r.disrupted(30 * kS);
  REQUIRE(r.tick(30 * kS));
  CHECK(other.calls == std::vector<std::string>{"reset"});
}

TEST_CASE("the daemon's command client holds the loop two tries of 5 ms at most") {
  // A chronyd whose socket is there but which never answers (stopped):
  // each reset attempt waits out the client's tries, so those bound how
  // long one attempt keeps the loop from watching the marker.
  char t[] = "/tmp/vmc-reset-test.XXXXXX";
  REQUIRE(::mkdtemp(t) != nullptr);
  const std::string dir = t, server = dir + "/chronyd.sock";
  Fd silent(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", server.c_str());
  REQUIRE(::bind(silent.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  ChronySection c;
  c.command_socket = server;
  c.client_dir = dir;
  const auto o = chrony_cmd_options(c);
  CHECK(o.tries * o.retry_interval.count() <= 10);
  {
    auto cl = chrony::CmdClient::open(o);
    REQUIRE(cl.ok());
    auto st = (*cl)->reset_sources();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Errc::temp_fail);
    CHECK(st.error().message.find("no reply after 2 tries 5 ms apart") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
