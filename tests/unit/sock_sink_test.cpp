// SPDX-License-Identifier: Apache-2.0
// The SOCK sink against our own bound socket standing in for chronyd:
// the datagram layout, and reconnecting when the socket comes and goes.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fd.h"
#include "sink.h"
#include "sock_sample.h"

using namespace vmc;
using namespace vmc::chrony;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/vmc-sock-test.XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
  }
  ~TempDir() {
    for (auto n : {"/chronyd.sock"}) ::unlink((path + n).c_str());
    ::rmdir(path.c_str());
  }
};

// What chronyd does for `refclock SOCK path`: bind a datagram socket there.
Fd bind_at(const std::string& path) {
  ::unlink(path.c_str());
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

std::vector<uint8_t> recv_one(const Fd& fd, int timeout_ms = 1000) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return {};
  std::vector<uint8_t> buf(256);
  ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

Sample sample(int64_t system_ns, int64_t offset_ns, Leap leap = Leap::none) {
  Sample s;
  s.system = SysTime{system_ns};
  s.offset = Nanoseconds{offset_ns};
  s.leap = leap;
  return s;
}

}  // namespace

TEST_CASE("the datagram is chrony's 40-byte sock_sample") {
  SockSample d = to_sock_sample(sample(1'700'000'000'123'456'789, 37'500, Leap::remove));
  uint8_t b[40];
  std::memcpy(b, &d, sizeof b);
  int64_t sec;
  int64_t usec;
  double off;
  int32_t pulse, leap, magic;
  std::memcpy(&sec, b + 0, 8);
  std::memcpy(&usec, b + 8, 8);
  std::memcpy(&off, b + 16, 8);
  std::memcpy(&pulse, b + 24, 4);
  std::memcpy(&leap, b + 28, 4);
  std::memcpy(&magic, b + 36, 4);
  CHECK(sec == 1'700'000'000);
  CHECK(usec == 123'456);  // truncated; the offset is the sample's own
  CHECK(off == doctest::Approx(37.5e-6).epsilon(1e-12));
  CHECK(pulse == 0);
  CHECK(leap == 2);
  CHECK(magic == 0x534f434b);
  CHECK(std::string(reinterpret_cast<const char*>(b + 36), 4) == "KCOS");  // little-endian "SOCK"

  SockSample neg = to_sock_sample(sample(-1, -5));
  CHECK(neg.tv.tv_sec == -1);
  CHECK(neg.tv.tv_usec == 999'999);
}

TEST_CASE("samples arrive at the bound socket") {
  TempDir d;
  std::string path = d.path + "/chronyd.sock";
  Fd server = bind_at(path);
  std::vector<std::string> log;
  auto sink = make_sock_sink(path, {.log = [&](std::string_view l) { log.emplace_back(l); }});
  REQUIRE(sink.ok());
  REQUIRE((*sink)->publish(sample(1'700'000'000'000'001'000, -250)).ok());
  auto b = recv_one(server);
  REQUIRE(b.size() == 40);
  SockSample got;
  std::memcpy(&got, b.data(), 40);
  CHECK(got.tv.tv_sec == 1'700'000'000);
  CHECK(got.tv.tv_usec == 1);
  CHECK(got.offset == doctest::Approx(-250e-9).epsilon(1e-12));
  CHECK(got.magic == kSockMagic);
  CHECK((*sink)->health().ok);
  CHECK((*sink)->health().published == 1);
  REQUIRE(log.size() == 1);
  CHECK(log[0].rfind("sock: ", 0) == 0);
}

TEST_CASE("bad paths and backoffs are config errors") {
  CHECK(make_sock_sink("").error().code == Errc::config);
  CHECK(make_sock_sink(std::string(200, 'x')).error().code == Errc::config);
  CHECK(make_sock_sink("/tmp/x", {.min_backoff = std::chrono::milliseconds(0), .max_backoff = std::chrono::milliseconds(1), .log = {}}).error().code == Errc::config);
}

TEST_CASE("chronyd starting late, going away and coming back: one log line each way") {
  TempDir d;
  std::string path = d.path + "/chronyd.sock";
  std::vector<std::string> log;
  auto sink = make_sock_sink(path, {.min_backoff = std::chrono::milliseconds(20),
                                    .max_backoff = std::chrono::milliseconds(80),
                                    .log = [&](std::string_view l) { log.emplace_back(l); }});
  REQUIRE(sink.ok());
  auto s = sample(1'700'000'000'000'000'000, 1);

  // Not there yet: errors, one line.
  for (int i = 0; i < 20; ++i) {
    auto st = (*sink)->publish(s);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Errc::temp_fail);
  }
  CHECK(log.size() == 1);
  CHECK(log.at(0).find("not reachable") != std::string::npos);
  CHECK_FALSE((*sink)->health().ok);
  CHECK((*sink)->health().failed == 20);

  // chronyd binds: within the backoff the sink connects.
  Fd server = bind_at(path);
  bool sent = false;
  for (int i = 0; i < 100 && !sent; ++i) {
    sent = (*sink)->publish(s).ok();
    if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(sent);
  CHECK(recv_one(server).size() == 40);
  REQUIRE(log.size() == 2);
  CHECK(log[1].find("sending samples") != std::string::npos);

  // chronyd restarts (new socket at the same path) between two samples:
  // the sink follows at once, losing nothing and logging nothing.
  server = bind_at(path);
  REQUIRE((*sink)->publish(s).ok());
  CHECK(recv_one(server).size() == 40);
  CHECK(log.size() == 2);

  // chronyd killed, its socket file left behind: refused, one line, and
  // the backoff keeps the sink from trying on every call.
  server.reset();
  for (int i = 0; i < 50; ++i) CHECK_FALSE((*sink)->publish(s).ok());
  CHECK(log.size() == 3);
  CHECK(log[2].find("not reachable") != std::string::npos);
  CHECK((*sink)->health().last_error.find("Connection refused") != std::string::npos);

  server = bind_at(path);
  sent = false;
  for (int i = 0; i < 100 && !sent; ++i) {
    sent = (*sink)->publish(s).ok();
    if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(sent);
  CHECK(log.size() == 4);
  CHECK((*sink)->health().ok);
  CHECK((*sink)->health().last_error.empty());  // over: no stale error in the status
}

TEST_CASE("a chronyd that does not read gets temp_fail, not a disconnect") {
  TempDir d;
  std::string path = d.path + "/chronyd.sock";
  Fd server = bind_at(path);
  auto sink = make_sock_sink(path);
  REQUIRE(sink.ok());
  auto s = sample(1'700'000'000'000'000'000, 1);
  Status last = Ok{};
  for (int i = 0; i < 100'000 && last.ok(); ++i) last = (*sink)->publish(s);
  REQUIRE_FALSE(last.ok());
  CHECK(last.error().code == Errc::temp_fail);
  CHECK(last.error().message.find("not reading") != std::string::npos);
  CHECK((*sink)->health().ok);
}
