// SPDX-License-Identifier: Apache-2.0
// GrandmasterUpdater and PmcClient against a fake ptp4l: a thread that
// answers on a Unix socket with ptp_wire, the way ptp4l 3.1.1 does. The real
// ptp4l is in tests/integration/test_ptp_*.py.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "gm_updater.h"

using namespace vmc;
using namespace vmc::ptp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Time bounds allow for a loaded build machine; the budgets themselves are
// the reply timeouts.
constexpr auto kSchedulingSlack = 150ms;

enum class Mode { normal, silent, error_status, garbage_first };

class FakePtp4l {
 public:
  explicit FakePtp4l(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd_);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof(a.sun_path) - 1);
    REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    thread_ = std::thread([this] { run(); });
  }
  ~FakePtp4l() {
    stop_ = true;
    thread_.join();
    ::unlink(path_.c_str());
  }
  std::atomic<Mode> mode{Mode::normal};
  std::atomic<int> gets{0}, sets{0};
  void restart() {
    std::lock_guard l(mu_);
    settings_ = GrandmasterSettings{};
  }
  GrandmasterSettings settings() {
    std::lock_guard l(mu_);
    return settings_;
  }

 private:
  void run() {
    // Bounded: the test ends it, or 60 s do.
    auto end = Clock::now() + 60s;
    uint8_t buf[1500];
    while (!stop_ && Clock::now() < end) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      sockaddr_un from{};
      socklen_t len = sizeof(from);
      ssize_t n = ::recvfrom(fd_.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      auto req = decode_message({buf, static_cast<size_t>(n)});
      if (!req) continue;  // ptp4l drops what it cannot parse
      Message rsp = *req;
      rsp.source = PortIdentity{{1, 2, 3, 0xff, 0xfe, 4, 5, 6}, 0};
      rsp.action = Action::response;
      if (req->action == Action::get) ++gets;
      if (req->action == Action::set) ++sets;
      Mode m = mode;
      if (m == Mode::silent) continue;
      if (m == Mode::garbage_first) {
        uint8_t junk[3] = {1, 2, 3};
        ::sendto(fd_.get(), junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&from), len);
        Message stale = rsp;
        stale.sequence_id = static_cast<uint16_t>(stale.sequence_id - 1);
        auto sb = encode_message(stale);
        ::sendto(fd_.get(), sb.data(), sb.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
      if (m == Mode::error_status) {
        rsp.payload = ErrorStatus{ManagementError::not_supported, ""};
      } else {
        std::lock_guard l(mu_);
        if (req->action == Action::set) settings_ = std::get<GrandmasterSettings>(req->payload);
        rsp.payload = settings_;
      }
      auto b = encode_message(rsp);
      ::sendto(fd_.get(), b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  std::string path_;
  Fd fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  GrandmasterSettings settings_{};
};

std::string temp_path(const char* name) {
  return fmt::format("/tmp/vmc-ptp-test-{}-{}", ::getpid(), name);
}

ClockView locked_view() {
  ClockView v;
  v.have_page = true;
  v.status = abi::ClockStatus::synchronized;
  v.samples_ok = true;
  v.maxerror_ns = 80;
  v.esterror_ns = 30;
  v.tai_minus_utc = 37;
  return v;
}

Ptp4lOptions options(const std::string& uds) {
  Ptp4lOptions o;
  o.uds_address = uds;
  o.upgrade_hold_updates = 1;
  o.upgrade_hold = 0ms;
  o.check_interval = 5s;
  o.retry_interval = 2s;
  return o;
}

}  // namespace

TEST_CASE("client: request/response against the fake, abstract and path addresses") {
  auto uds = temp_path("c1");
  FakePtp4l fake(uds);
  for (std::string local : {std::string(), temp_path("c1-client")}) {
    auto c = PmcClient::open({uds, local, 0});
    REQUIRE(c.ok());
    if (local.empty()) CHECK(c->local_address().rfind("@", 0) == 0);
    auto g = c->get_grandmaster_settings(200ms);
    REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message));
    CHECK(*g == GrandmasterSettings{});
    CHECK(to_string(c->last_responder()) == "010203.fffe.040506-0");
  }
  CHECK(::access(temp_path("c1-client").c_str(), F_OK) != 0);  // removed on close
}

TEST_CASE("client: stale and malformed replies are skipped") {
  auto uds = temp_path("c2");
  FakePtp4l fake(uds);
  fake.mode = Mode::garbage_first;
  auto c = PmcClient::open({uds, "", 0});
  REQUIRE(c.ok());
  auto g = c->get_grandmaster_settings(200ms);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message));
}

TEST_CASE("client: MANAGEMENT_ERROR_STATUS is an error naming it") {
  auto uds = temp_path("c3");
  FakePtp4l fake(uds);
  fake.mode = Mode::error_status;
  auto c = PmcClient::open({uds, "", 0});
  REQUIRE(c.ok());
  auto g = c->set_grandmaster_settings(GrandmasterSettings{}, 200ms);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().code == Errc::unavailable);
  CHECK(g.error().message.find("NOT_SUPPORTED") != std::string::npos);
}

TEST_CASE("client: absent ptp4l fails at once; a silent one within the timeout") {
  auto c = PmcClient::open({temp_path("nobody"), "", 0});
  REQUIRE(c.ok());
  auto t0 = Clock::now();
  auto g = c->get_grandmaster_settings(1000ms);
  CHECK(Clock::now() - t0 < 500ms);  // at once, not after the timeout
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().code == Errc::no_input);

  auto uds = temp_path("c4");
  FakePtp4l fake(uds);
  fake.mode = Mode::silent;
  auto c2 = PmcClient::open({uds, "", 0});
  REQUIRE(c2.ok());
  t0 = Clock::now();
  auto g2 = c2->get_grandmaster_settings(20ms);
  auto took = Clock::now() - t0;
  CHECK(took >= 20ms);
  CHECK(took < 20ms + kSchedulingSlack);
  REQUIRE_FALSE(g2.ok());
  CHECK(g2.error().code == Errc::temp_fail);
  CHECK(g2.error().message.find("domainNumber") != std::string::npos);
}

TEST_CASE("updater: applies, then only GETs, re-applies after a restart") {
  auto uds = temp_path("u1");
  FakePtp4l fake(uds);
  std::vector<std::string> logs;
  auto up = GrandmasterUpdater::create(options(uds), [&](std::string_view l) { logs.emplace_back(l); });
  REQUIRE(up.ok());
  Clock::time_point t{};
  auto view = locked_view();

  up->tick(view, t);
  CHECK(up->status().state == "applied");
  CHECK(up->status().sets_sent == 1);
  CHECK(fake.settings().quality.clock_class == 6);
  CHECK(logs.size() == 1);
  CHECK(logs.back().rfind("ptp4l: announcing class 6", 0) == 0);

  // Nothing changed, before the check interval: no traffic at all.
  up->tick(view, t + 1s);
  up->tick(view, t + 4s);
  CHECK(fake.gets == 1);
  CHECK(fake.sets == 1);

  // Periodic check: GET, same settings, no SET.
  up->tick(view, t + 5s);
  CHECK(fake.gets == 2);
  CHECK(fake.sets == 1);

  // ptp4l restarted: back to its defaults; the next check re-applies.
  fake.restart();
  up->tick(view, t + 7s);
  CHECK(fake.sets == 1);
  up->tick(view, t + 10s);
  CHECK(fake.sets == 2);
  CHECK(up->status().reapplied == 1);
  CHECK(fake.settings().quality.clock_class == 6);
  CHECK(logs.back().rfind("ptp4l: settings changed behind our back", 0) == 0);

  // A change of state is acted on at once, without waiting for the check.
  auto holdover = view;
  holdover.status = abi::ClockStatus::freerunning;
  holdover.maxerror_ns = 5'000'000;
  up->tick(holdover, t + 11s);
  CHECK(fake.settings().quality.clock_class == 7);
  CHECK(up->status().applied->quality.clock_class == 7);
  CHECK(up->status().sets_sent == 3);
  CHECK(up->status().grade == Grade::holdover);
}

TEST_CASE("updater: absent ptp4l is reported, retried, and picked up when it appears") {
  auto uds = temp_path("u2");
  ::unlink(uds.c_str());
  std::vector<std::string> logs;
  auto up = GrandmasterUpdater::create(options(uds), [&](std::string_view l) { logs.emplace_back(l); });
  REQUIRE(up.ok());
  Clock::time_point t{};
  up->tick(locked_view(), t);
  CHECK(up->status().state == "absent");
  CHECK(up->status().last_error.find("not running") != std::string::npos);
  up->tick(locked_view(), t + 1s);
  CHECK(up->status().gets_sent == 1);  // waits for retry_interval
  CHECK(logs.size() == 1);             // one line per incident

  FakePtp4l fake(uds);
  up->tick(locked_view(), t + 2s);
  CHECK(up->status().state == "applied");
  CHECK(fake.settings().quality.clock_class == 6);
}

TEST_CASE("updater: error status and silence are 'error', and a tick is bounded by its reply timeouts") {
  auto uds = temp_path("u3");
  FakePtp4l fake(uds);
  auto up = GrandmasterUpdater::create(options(uds));
  REQUIRE(up.ok());
  Clock::time_point t{};

  fake.mode = Mode::error_status;
  up->tick(locked_view(), t);
  CHECK(up->status().state == "error");
  CHECK(up->status().last_error.find("MANAGEMENT_ERROR_STATUS NOT_SUPPORTED") != std::string::npos);

  fake.mode = Mode::silent;
  auto t0 = Clock::now();
  up->tick(locked_view(), t + 3s);
  CHECK(Clock::now() - t0 < 2 * 20ms + kSchedulingSlack);  // GET and SET at most
  CHECK(up->status().state == "error");
  CHECK(up->status().last_error.find("no reply") != std::string::npos);

  fake.mode = Mode::normal;
  up->tick(locked_view(), t + 6s);
  CHECK(up->status().state == "applied");
}

TEST_CASE("updater: withdraw announces class 248 at once; JSON status") {
  auto uds = temp_path("u4");
  FakePtp4l fake(uds);
  auto up = GrandmasterUpdater::create(options(uds));
  REQUIRE(up.ok());
  up->tick(locked_view(), Clock::time_point{});
  REQUIRE(fake.settings().quality.clock_class == 6);
  REQUIRE(up->withdraw().ok());
  CHECK(fake.settings().quality == ClockQuality{248, 0xFE, 0xFFFF});
  auto j = to_json(up->status());
  CHECK(j["state"] == "applied");
  CHECK(j["applied"]["clock_class"] == 248);
  CHECK(j["desired"]["clock_class"] == 6);
  CHECK(j["sets_sent"] == 2);
  CHECK(j["ptp4l_identity"] == "010203.fffe.040506-0");
}

TEST_CASE("updater: bad options are refused with the key") {
  Ptp4lOptions o;
  o.reply_timeout = 1s;
  auto up = GrandmasterUpdater::create(o);
  REQUIRE_FALSE(up.ok());
  CHECK(up.error().message.find("ptp4l.reply_timeout_ms") == 0);
}
