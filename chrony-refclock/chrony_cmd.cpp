// SPDX-License-Identifier: Apache-2.0
#include "chrony_cmd.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <random>

#include "clock.h"

namespace vmc::chrony {
namespace {

bool fill_addr(sockaddr_un& a, const std::string& path) {
  a = {};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return false;
  std::memcpy(a.sun_path, path.data(), path.size());
  return true;
}

std::atomic<unsigned> g_instance{0};

}  // namespace

Result<std::unique_ptr<CmdClient>> CmdClient::open(CmdOptions opts) {
  if (opts.tries == 0 || opts.tries > 1000 || opts.retry_interval.count() <= 0 || opts.retry_interval.count() > 10'000)
    return make_error(Errc::config, "chronyc: tries must be 1..1000 and retry_interval 1..10000 ms");
  sockaddr_un server;
  if (!fill_addr(server, opts.socket_path))
    return make_error(Errc::config, fmt::format("chronyc: socket path too long: {}", opts.socket_path));
  std::string bound = fmt::format("{}/vmclockd-cmd.{}.{}.sock", opts.client_dir, getpid(), g_instance++);
  sockaddr_un local;
  if (!fill_addr(local, bound)) return make_error(Errc::config, fmt::format("chronyc: path too long: {}", bound));
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(Errc::os, fmt::format("chronyc: socket: {}", std::strerror(errno)));
  ::unlink(bound.c_str());  // left by an earlier process with our pid
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    return make_error(Errc::no_input, fmt::format("chronyc: bind {}: {}", bound, std::strerror(errno)));
  // chronyd may run as another user (chrony): it must be able to send to
  // us; the directory's mode decides who else can (as chronyc does).
  if (::chmod(bound.c_str(), 0666) != 0) {
    int e = errno;
    ::unlink(bound.c_str());
    return make_error(Errc::os, fmt::format("chronyc: chmod {}: {}", bound, std::strerror(e)));
  }
  std::random_device rd;
  return std::unique_ptr<CmdClient>(new CmdClient(std::move(opts), std::move(fd), std::move(bound), rd()));
}

CmdClient::~CmdClient() {
  fd_.reset();
  ::unlink(bound_.c_str());
}

Result<CmdOutcome> CmdClient::request(cmd::Request r) {
  r.sequence = seq_++;
  sockaddr_un server;
  fill_addr(server, opts_.socket_path);
  std::string last_error = "no reply";
  const int64_t interval = opts_.retry_interval.count();
  for (unsigned attempt = 0; attempt < opts_.tries; ++attempt) {
    r.attempt = static_cast<uint16_t>(attempt);
    auto bytes = cmd::encode_request(r);
    if (bytes.empty())
      return make_error(Errc::software, fmt::format("chronyc: command {} has no known length", uint16_t(r.command)));
    ssize_t n = retry_eintr([&] {
      return ::sendto(fd_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                      reinterpret_cast<sockaddr*>(&server), sizeof server);
    });
    if (n < 0) {
      const int e = errno;
      last_error = fmt::format("send to {}: {}", opts_.socket_path, std::strerror(e));
      // Nobody listens (chronyd down, or not started yet): waiting out the
      // tries would only hold the caller.
      if (e == ENOENT || e == ECONNREFUSED)
        return make_error(Errc::temp_fail, fmt::format("chronyc: {}: chronyd is not there ({})",
                                                       cmd::command_name(uint16_t(r.command)), last_error));
    }
    // Wait out this try's interval, taking any reply to this sequence
    // (from this or an earlier try); stale replies to older ones are skipped.
    const int64_t until = mono_now_ns() / 1'000'000 + interval;
    for (int reads = 0; reads < 64; ++reads) {
      int64_t left = until - mono_now_ns() / 1'000'000;
      if (left <= 0) break;
      pollfd p{fd_.get(), POLLIN, 0};
      int pr = retry_eintr([&] { return ::poll(&p, 1, static_cast<int>(left)); });
      if (pr <= 0) break;
      uint8_t buf[1024];
      ssize_t got = retry_eintr([&] { return ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT); });
      if (got < 0) {
        last_error = fmt::format("recv: {}", std::strerror(errno));
        continue;
      }
      auto rep = cmd::decode_reply(std::span<const uint8_t>(buf, static_cast<size_t>(got)));
      if (!rep) {
        last_error = rep.error().message;
        continue;
      }
      if (rep->sequence != r.sequence || rep->command != uint16_t(r.command)) continue;
      return CmdOutcome{*rep, attempt + 1, std::vector<uint8_t>(buf, buf + got)};
    }
  }
  return make_error(Errc::temp_fail,
                    fmt::format("chronyc: {} to {}: no reply after {} tries {} ms apart ({})",
                                cmd::command_name(uint16_t(r.command)), opts_.socket_path, opts_.tries,
                                interval, last_error));
}

Result<CmdOutcome> CmdClient::expect_success(cmd::Request r) {
  auto out = request(r);
  if (!out) {
    log_line(opts_.log, out.error().message);
    return out.error();
  }
  uint16_t st = out->reply.status;
  if (st == uint16_t(cmd::StatusCode::success)) return out;
  auto name = cmd::status_name(st);
  std::string msg = fmt::format("chronyc: {}: chronyd answered {} ({})", cmd::command_name(uint16_t(r.command)),
                                name.empty() ? "an unknown status" : name, st);
  log_line(opts_.log, msg);
  return make_error(Errc::unavailable, std::move(msg));
}

namespace {
Status status_of(const Result<CmdOutcome>& r) { return r ? Status(Ok{}) : Status(r.error()); }
}  // namespace

Status CmdClient::reset_sources() { return status_of(expect_success({.command = cmd::Command::reset_sources})); }
Status CmdClient::make_step() { return status_of(expect_success({.command = cmd::Command::make_step})); }
Status CmdClient::ping() { return status_of(expect_success({.command = cmd::Command::null})); }
namespace {
Status check_burst_counts(int good, int total) {
  if (good < 0 || total < good || total > 1000)
    return make_error(Errc::usage, fmt::format("chronyc: burst {}/{}: need 0 <= good <= total <= 1000", good, total));
  return Ok{};
}
}  // namespace

Status CmdClient::burst(int good, int total) {
  if (auto c = check_burst_counts(good, total); !c) return c;
  return status_of(expect_success({.command = cmd::Command::burst, .burst_good = good, .burst_total = total}));
}

Result<uint16_t> CmdClient::burst_status(int good, int total) {
  if (auto c = check_burst_counts(good, total); !c) return c.error();
  auto out = request({.command = cmd::Command::burst, .burst_good = good, .burst_total = total});
  if (!out) return out.error();
  return out->reply.status;
}

Result<cmd::Tracking> CmdClient::tracking() {
  auto out = expect_success({.command = cmd::Command::tracking});
  if (!out) return out.error();
  // A successful TRACKING is answered with RPY_TRACKING only; anything
  // else (RPY_NULL from a chronyd that does not know the command) is data
  // we cannot use.
  auto t = cmd::decode_tracking(out->bytes);
  if (!t) log_line(opts_.log, t.error().message);
  return t;
}

}  // namespace vmc::chrony
