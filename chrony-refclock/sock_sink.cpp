// SPDX-License-Identifier: Apache-2.0
// The SOCK refclock writer: datagrams to the socket chronyd binds. chronyd
// re-creates that socket when it restarts, so a send that is refused means
// "reconnect", which happens on later publish() calls with a backoff so a
// stopped chronyd costs one log line and no busy loop.
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "fd.h"
#include "sink.h"
#include "sock_sample.h"

namespace vmc::chrony {
namespace {

using Clock = std::chrono::steady_clock;

class SockSink final : public SampleSink {
 public:
  SockSink(std::string path, SockOptions opts) : path_(std::move(path)), opts_(std::move(opts)) {
    backoff_ = opts_.min_backoff;
  }
  std::string_view name() const override { return "sock"; }

  Status publish(const vmc::Sample& s) override {
    if (!fd_) {
      if (Clock::now() < next_attempt_) return fail(Errc::temp_fail, "waiting for chronyd at " + path_, false);
      if (auto st = connect_now(); !st) return go_down(st.error().message);
    }
    SockSample d = to_sock_sample(s);
    ssize_t n = retry_eintr([&] { return ::send(fd_.get(), &d, sizeof d, MSG_DONTWAIT | MSG_NOSIGNAL); });
    if (n == static_cast<ssize_t>(sizeof d)) return sent();
    int e = n < 0 ? errno : EMSGSIZE;
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
      return fail(Errc::temp_fail, fmt::format("sock: {}: chronyd is not reading ({})", path_, std::strerror(e)), false);
    // The socket we hold went away (chronyd restarted): one immediate retry
    // on a fresh socket, so a quick restart loses a single sample.
    fd_.reset();
    std::string why = fmt::format("send: {}", std::strerror(e));
    if (auto st = connect_now(); !st) return go_down(why);
    n = retry_eintr([&] { return ::send(fd_.get(), &d, sizeof d, MSG_DONTWAIT | MSG_NOSIGNAL); });
    if (n == static_cast<ssize_t>(sizeof d)) return sent();
    fd_.reset();
    return go_down(fmt::format("send: {}", std::strerror(n < 0 ? errno : EMSGSIZE)));
  }

  // Datagrams chronyd took are already in its filter: there is nothing
  // left to invalidate here; a RESET_SOURCES is what drops them.
  void withdraw() override {}

  SinkHealth health() const override {
    SinkHealth h;
    h.ok = static_cast<bool>(fd_);
    h.state = fd_ ? "connected to " + path_ : "waiting for chronyd at " + path_;
    h.published = published_;
    h.failed = failed_;
    h.last_error = last_error_;
    return h;
  }

 private:
  Status connect_now() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path)
      return make_error(Errc::config, fmt::format("sock: path too long for a Unix socket: {}", path_));
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return make_error(Errc::os, fmt::format("socket: {}", std::strerror(errno)));
    if (retry_eintr([&] { return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr); }) != 0)
      return make_error(Errc::temp_fail, fmt::format("connect: {}", std::strerror(errno)));
    fd_ = std::move(fd);
    return Ok{};
  }

  Status sent() {
    ++published_;
    backoff_ = opts_.min_backoff;
    if (!up_) {
      up_ = true;
      // The trouble is over: a status that kept it would report a startup
      // race with chronyd (Permission denied before its ExecStartPost) forever.
      last_error_.clear();
      log_line(opts_.log, fmt::format("sock: sending samples to chronyd at {}", path_));
    }
    return Ok{};
  }

  Status go_down(const std::string& why) {
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, opts_.max_backoff);
    std::string msg = fmt::format("sock: chronyd at {} not reachable ({})", path_, why);
    bool first = up_ || !down_logged_;
    if (first) {
      log_line(opts_.log, msg + fmt::format("; retrying with backoff up to {} ms", opts_.max_backoff.count()));
      down_logged_ = true;
    }
    up_ = false;
    return fail(Errc::temp_fail, msg, true);
  }

  Status fail(Errc c, std::string msg, bool record) {
    ++failed_;
    if (record) last_error_ = msg;
    return make_error(c, std::move(msg));
  }

  std::string path_;
  SockOptions opts_;
  Fd fd_;
  bool up_ = false;
  bool down_logged_ = false;
  std::chrono::milliseconds backoff_{};
  Clock::time_point next_attempt_{};
  uint64_t published_ = 0, failed_ = 0;
  std::string last_error_;
};

}  // namespace

Result<std::unique_ptr<SampleSink>> make_sock_sink(std::string path, SockOptions opts) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(Errc::config, fmt::format("sock: bad socket path '{}' (empty or over {} bytes)", path,
                                                sizeof(sockaddr_un{}.sun_path) - 1));
  if (opts.min_backoff.count() <= 0 || opts.max_backoff < opts.min_backoff)
    return make_error(Errc::config, "sock: backoff must satisfy 0 < min <= max");
  return std::unique_ptr<SampleSink>(new SockSink(std::move(path), std::move(opts)));
}

}  // namespace vmc::chrony
