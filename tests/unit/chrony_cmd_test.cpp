// chronyd's command protocol: byte strings checked against candm.h /
// pktlength.c of chrony 4.3, and the client against a fake chronyd.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chrony_cmd.h"
#include "chrony_cmd_wire.h"

using namespace vmc;
using namespace vmc::chrony;
using Bytes = std::vector<uint8_t>;

TEST_CASE("request lengths are chrony 4.3's, padding included") {
  CHECK(cmd::request_length(cmd::Command::null) == 28);
  CHECK(cmd::request_length(cmd::Command::make_step) == 28);
  CHECK(cmd::request_length(cmd::Command::reset_sources) == 28);
  CHECK(cmd::request_length(cmd::Command::burst) == 68);  // 20 + 2 IPAddr (20 each) + 2 int32
  CHECK(cmd::reply_length(cmd::kReplyNull) == 28);
  CHECK(cmd::reply_length(5) == 0);
}

TEST_CASE("RESET_SOURCES on the wire") {
  Bytes b = cmd::encode_request({.command = cmd::Command::reset_sources, .attempt = 2, .sequence = 0x01020304});
  Bytes want = {6, 1, 0, 0, 0x00, 0x42, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0,
                0, 0, 0, 0, 0,    0,    0,    0,    0,    0,    0,    0};
  CHECK(b == want);
}

TEST_CASE("MAKESTEP and NULL on the wire") {
  Bytes b = cmd::encode_request({.command = cmd::Command::make_step, .sequence = 0xfffffffe});
  REQUIRE(b.size() == 28);
  CHECK(Bytes(b.begin(), b.begin() + 12) == Bytes{6, 1, 0, 0, 0, 43, 0, 0, 0xff, 0xff, 0xff, 0xfe});
  CHECK(Bytes(b.begin() + 12, b.end()) == Bytes(16, 0));
  b = cmd::encode_request({.command = cmd::Command::null, .sequence = 1});
  CHECK(b.size() == 28);
  CHECK(b[5] == 0);
}

TEST_CASE("BURST 4/8 to every source") {
  Bytes b = cmd::encode_request({.command = cmd::Command::burst, .sequence = 7, .burst_good = 4, .burst_total = 8});
  REQUIRE(b.size() == 68);
  CHECK(Bytes(b.begin(), b.begin() + 12) == Bytes{6, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 7});
  CHECK(Bytes(b.begin() + 12, b.begin() + 60) == Bytes(48, 0));  // pads, mask, address: IPADDR_UNSPEC
  CHECK(Bytes(b.begin() + 60, b.end()) == Bytes{0, 0, 0, 4, 0, 0, 0, 8});
}

TEST_CASE("replies decode only when whole and well-formed") {
  Bytes ok = {6, 2, 0, 0, 0, 66, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0};
  auto r = cmd::decode_reply(ok);
  REQUIRE(r.ok());
  CHECK(r->command == 66);
  CHECK(r->reply_type == 1);
  CHECK(r->status == 4);
  CHECK(r->sequence == 0xdeadbeef);
  CHECK(cmd::encode_reply(*r) == ok);

  CHECK(cmd::decode_reply(std::span(ok).first(27)).error().code == Errc::data);
  CHECK(cmd::decode_reply({}).error().code == Errc::data);
  auto bad = ok;
  bad[0] = 5;
  CHECK(cmd::decode_reply(bad).error().message.find("version 5") != std::string::npos);
  bad = ok;
  bad[1] = 1;
  CHECK_FALSE(cmd::decode_reply(bad).ok());
  bad = ok;
  bad[3] = 1;
  CHECK_FALSE(cmd::decode_reply(bad).ok());
  bad = ok;
  bad[7] = 5;  // RPY_TRACKING: not a reply to anything we send
  CHECK_FALSE(cmd::decode_reply(bad).ok());
}

TEST_CASE("requests round-trip and are length-checked") {
  for (auto c : {cmd::Command::null, cmd::Command::burst, cmd::Command::make_step, cmd::Command::reset_sources}) {
    cmd::Request r{.command = c, .attempt = 3, .sequence = 99, .burst_good = 2, .burst_total = 5};
    if (c != cmd::Command::burst) r.burst_good = 4, r.burst_total = 8;
    Bytes b = cmd::encode_request(r);
    auto back = cmd::decode_request(b);
    REQUIRE(back.ok());
    CHECK(*back == r);
    CHECK_FALSE(cmd::decode_request(std::span(b).first(b.size() - 1)).ok());
  }
}

TEST_CASE("status and command names") {
  CHECK(cmd::status_name(0) == "SUCCESS");
  CHECK(cmd::status_name(1) == "FAILED");
  CHECK(cmd::status_name(4) == "NOSUCHSOURCE");
  CHECK(cmd::status_name(19) == "BADPKTLENGTH");
  CHECK(cmd::status_name(20) == "");
  CHECK(cmd::status_name(21) == "INVALIDNAME");
  CHECK(cmd::status_name(60000) == "");
  CHECK(cmd::command_name(66) == "RESET_SOURCES");
  CHECK(cmd::command_name(3) == "BURST");
  CHECK(cmd::command_name(43) == "MAKESTEP");
  CHECK(cmd::command_name(44) == "");
}

TEST_CASE("arbitrary bytes never crash the decoders") {
  std::mt19937 rng(12345);
  for (int i = 0; i < 50'000; ++i) {
    Bytes b(rng() % 80);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (!b.empty() && rng() % 2) b[0] = 6;
    if (b.size() > 1 && rng() % 2) b[1] = static_cast<uint8_t>(1 + rng() % 2);
    (void)cmd::decode_reply(b);
    (void)cmd::decode_request(b);
  }
}

namespace {

struct FakeChronyd {
  std::string dir, path;
  int fd = -1;
  std::thread th;
  std::vector<cmd::Request> seen;
  FakeChronyd() {
    char t[] = "/tmp/vmc-cmd-test.XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    dir = t;
    path = dir + "/chronyd.sock";
    fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  // Ignores the first `drop` requests, sends a stale reply before the real
  // one, answers with `status`; stops after `n` requests or 2 s.
  void serve(int n, int drop, uint16_t status) {
    th = std::thread([=, this] {
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      for (int i = 0; i < n && std::chrono::steady_clock::now() < until; ++i) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) != 1) { --i; continue; }
        uint8_t buf[600];
        sockaddr_un from{};
        socklen_t fl = sizeof from;
        ssize_t got = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        auto req = cmd::decode_request(std::span<const uint8_t>(buf, got > 0 ? size_t(got) : 0));
        if (!req) continue;
        seen.push_back(*req);
        if (i < drop) continue;
        auto stale = cmd::encode_reply({.command = uint16_t(req->command), .sequence = req->sequence - 1});
        ::sendto(fd, stale.data(), stale.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
        auto rep = cmd::encode_reply({.command = uint16_t(req->command), .status = status, .sequence = req->sequence});
        ::sendto(fd, rep.data(), rep.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
      }
    });
  }
  ~FakeChronyd() {
    if (th.joinable()) th.join();
    ::close(fd);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
};

}  // namespace

TEST_CASE("the client retries, skips stale replies and matches by sequence") {
  FakeChronyd fake;
  fake.serve(3, 2, 0);
  auto c = CmdClient::open({.socket_path = fake.path, .client_dir = fake.dir, .tries = 30,
                            .retry_interval = std::chrono::milliseconds(20)});
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  auto out = (*c)->request({.command = cmd::Command::reset_sources});
  REQUIRE_MESSAGE(out.ok(), out.error().message);
  CHECK(out->tries == 3);
  CHECK(out->reply.status == 0);
  fake.th.join();
  REQUIRE(fake.seen.size() == 3);
  for (uint16_t i = 0; i < 3; ++i) {
    CHECK(fake.seen[i].attempt == i);
    CHECK(fake.seen[i].sequence == fake.seen[0].sequence);
  }
}

TEST_CASE("a refusal is reported by chrony's status name") {
  FakeChronyd fake;
  fake.serve(1, 0, 4);
  std::vector<std::string> log;
  auto c = CmdClient::open({.socket_path = fake.path, .client_dir = fake.dir,
                            .log = [&](std::string_view l) { log.emplace_back(l); }});
  REQUIRE(c.ok());
  auto st = (*c)->burst(4, 8);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::unavailable);
  CHECK(st.error().message == "chronyc: BURST: chronyd answered NOSUCHSOURCE (4)");
  CHECK(log.size() == 1);
  fake.th.join();
  CHECK(fake.seen.at(0).burst_total == 8);
  CHECK((*c)->burst(5, 4).error().code == Errc::usage);
}

TEST_CASE("no chronyd: a bounded wait, then temp_fail; the bound socket is removed") {
  char t[] = "/tmp/vmc-cmd-test.XXXXXX";
  REQUIRE(mkdtemp(t) != nullptr);
  std::string dir = t, bound;
  {
    auto c = CmdClient::open({.socket_path = dir + "/absent.sock", .client_dir = dir, .tries = 4,
                              .retry_interval = std::chrono::milliseconds(5)});
    REQUIRE(c.ok());
    bound = (*c)->bound_path();
    CHECK(access(bound.c_str(), F_OK) == 0);
    auto t0 = std::chrono::steady_clock::now();
    auto st = (*c)->reset_sources();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Errc::temp_fail);
    CHECK(st.error().message.find("No such file") != std::string::npos);
    CHECK(ms < 500);
  }
  CHECK(access(bound.c_str(), F_OK) != 0);
  ::rmdir(dir.c_str());
  CHECK(CmdClient::open({.tries = 0}).error().code == Errc::config);
}
