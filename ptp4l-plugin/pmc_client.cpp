// SPDX-License-Identifier: Apache-2.0
#include "pmc_client.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace vmc::ptp {
namespace {

using Clock = std::chrono::steady_clock;

// At most this many datagrams are read per wait: a flood of stale or
// foreign replies cannot keep request() busy past its deadline.
constexpr int kMaxDatagramsPerWait = 64;

Result<sockaddr_un> make_address(const std::string& path, std::string_view what) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path))
    return make_error(Errc::config, fmt::format("{} \"{}\" must be 1 to {} bytes", what, path, sizeof(a.sun_path) - 1));
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

Result<PmcClient> PmcClient::open(ClientOptions opts) {
  auto server = make_address(opts.server_path, "ptp4l uds_address");
  if (!server) return server.error();

  PmcClient c;
  c.fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!c.fd_) return make_error(Errc::os, fmt::format("ptp4l: socket(AF_UNIX): {}", errno_text(errno)));

  if (opts.local_path.empty()) {
    // Autobind: an address length of just the family asks the kernel for a
    // unique abstract name.
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (::bind(c.fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sa_family_t)) != 0)
      return make_error(Errc::os, fmt::format("ptp4l: bind(abstract): {}", errno_text(errno)));
    socklen_t len = sizeof(a);
    if (::getsockname(c.fd_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return make_error(Errc::os, fmt::format("ptp4l: getsockname: {}", errno_text(errno)));
    size_t n = len > offsetof(sockaddr_un, sun_path) + 1 ? len - offsetof(sockaddr_un, sun_path) - 1 : 0;
    c.local_name_ = "@" + std::string(a.sun_path + 1, n);
  } else {
    auto local = make_address(opts.local_path, "ptp4l client address");
    if (!local) return local.error();
    // A socket left by an earlier run of ours would make bind fail; like
    // pmc, remove it, but never remove anything that is not a socket.
    struct stat st{};
    if (::lstat(opts.local_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(opts.local_path.c_str());
    if (::bind(c.fd_.get(), reinterpret_cast<const sockaddr*>(&*local), sizeof(sockaddr_un)) != 0)
      return make_error(Errc::os, fmt::format("ptp4l: bind {}: {}", opts.local_path, errno_text(errno)));
    c.local_name_ = opts.local_path;
    c.unlink_on_close_ = true;
    if (::lstat(opts.local_path.c_str(), &st) == 0) c.bound_ino_ = st.st_ino, c.bound_dev_ = st.st_dev;
  }
  // pmc's convention: no clock identity, the pid as port number.
  c.self_.port_number = static_cast<uint16_t>(::getpid());
  c.opts_ = std::move(opts);
  return c;
}

PmcClient::~PmcClient() {
  if (!unlink_on_close_ || !fd_) return;
  // Only our own socket: a reload builds the new client (same path, the old
  // socket unlinked and bound anew) before this one goes.
  struct stat st{};
  if (::lstat(local_name_.c_str(), &st) == 0 && st.st_ino == bound_ino_ && st.st_dev == bound_dev_)
    ::unlink(local_name_.c_str());
}

Result<Message> PmcClient::request(Action action, uint16_t management_id, const Payload& payload,
                                   std::chrono::milliseconds timeout) {
  auto server = make_address(opts_.server_path, "ptp4l uds_address");
  if (!server) return server.error();

  // Replies that arrived after an earlier request timed out would otherwise
  // sit in the queue; they are stale by definition.
  std::array<uint8_t, kMaxMessageBytes> buf{};
  for (int i = 0; i < kMaxDatagramsPerWait; ++i)
    if (retry_eintr([&] { return ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT); }) < 0) break;

  Message req;
  req.domain_number = opts_.domain_number;
  req.sequence_id = next_sequence_++;
  req.source = self_;
  req.action = action;
  req.management_id = management_id;
  req.payload = payload;
  auto bytes = encode_message(req);
  auto label = fmt::format("{} {}", name(action), management_id_name(management_id));

  ssize_t sent = retry_eintr([&] {
    return ::sendto(fd_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&*server),
                    sizeof(sockaddr_un));
  });
  if (sent < 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED)
      return make_error(Errc::no_input, fmt::format("ptp4l: not running ({}: {})", opts_.server_path, errno_text(e)));
    if (e == EAGAIN || e == EWOULDBLOCK)
      return make_error(Errc::temp_fail, fmt::format("ptp4l: {} not sent: ptp4l's queue is full", label));
    if (e == EACCES || e == EPERM)
      return make_error(Errc::os, fmt::format("ptp4l: {}: {}", opts_.server_path, errno_text(e)));
    return make_error(Errc::io, fmt::format("ptp4l: sendto {}: {}", opts_.server_path, errno_text(e)));
  }

  const auto deadline = Clock::now() + timeout;
  std::string dropped;  // why the last unusable datagram was dropped
  for (int i = 0; i < kMaxDatagramsPerWait; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_.get(), POLLIN, 0};
    timespec ts{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
    int r = retry_eintr([&] { return ::ppoll(&p, 1, &ts, nullptr); });
    if (r < 0) return make_error(Errc::os, fmt::format("ptp4l: poll: {}", errno_text(errno)));
    if (r == 0) break;
    ssize_t n = retry_eintr([&] { return ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT); });
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return make_error(Errc::io, fmt::format("ptp4l: recv: {}", errno_text(errno)));
    }
    auto reply = decode_message({buf.data(), static_cast<size_t>(n)});
    if (!reply) {
      dropped = reply.error().message;
      continue;
    }
    if (reply->sequence_id != req.sequence_id || reply->management_id != management_id) {
      dropped = fmt::format("reply seq {} for {:#06x} does not match", reply->sequence_id, reply->management_id);
      continue;
    }
    responder_ = reply->source;
    if (const auto* e = std::get_if<ErrorStatus>(&reply->payload))
      return make_error(Errc::unavailable, fmt::format("ptp4l: {} answered {}", label, describe_error(*e, management_id)));
    Action expected = action == Action::command ? Action::acknowledge : Action::response;
    if (reply->action != expected)
      return make_error(Errc::data, fmt::format("ptp4l: {} answered with action {}", label, name(reply->action)));
    return std::move(*reply);
  }
  return make_error(Errc::temp_fail,
                    fmt::format("ptp4l: no reply to {} within {} ms ({}){}", label, timeout.count(),
                                fmt::format("ptp4l ignores requests unless its domainNumber is {}", opts_.domain_number),
                                dropped.empty() ? "" : fmt::format("; dropped: {}", dropped)));
}

template <class T>
Result<T> PmcClient::typed(Action action, uint16_t id, const Payload& payload, std::chrono::milliseconds timeout) {
  auto r = request(action, id, payload, timeout);
  if (!r) return r.error();
  if (auto* v = std::get_if<T>(&r->payload)) return *v;
  return make_error(Errc::data, fmt::format("ptp4l: {} reply to {} carries no data", management_id_name(id),
                                            name(action)));
}

Result<GrandmasterSettings> PmcClient::get_grandmaster_settings(std::chrono::milliseconds timeout) {
  return typed<GrandmasterSettings>(Action::get, mid::grandmaster_settings_np, {}, timeout);
}
Result<GrandmasterSettings> PmcClient::set_grandmaster_settings(const GrandmasterSettings& s,
                                                                std::chrono::milliseconds timeout) {
  return typed<GrandmasterSettings>(Action::set, mid::grandmaster_settings_np, s, timeout);
}
Result<TimePropertiesDataSet> PmcClient::get_time_properties(std::chrono::milliseconds timeout) {
  return typed<TimePropertiesDataSet>(Action::get, mid::time_properties_data_set, {}, timeout);
}
Result<ParentDataSet> PmcClient::get_parent_data_set(std::chrono::milliseconds timeout) {
  return typed<ParentDataSet>(Action::get, mid::parent_data_set, {}, timeout);
}
Result<PortDataSet> PmcClient::get_port_data_set(std::chrono::milliseconds timeout) {
  return typed<PortDataSet>(Action::get, mid::port_data_set, {}, timeout);
}

}  // namespace vmc::ptp
