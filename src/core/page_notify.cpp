// SPDX-License-Identifier: Apache-2.0
#include "page_notify.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>

#include "fd.h"

namespace vmc {

PollAnswer classify_poll(short revents) {
  if (revents & (POLLHUP | POLLERR | POLLNVAL)) return PollAnswer::hung_up;
  if (revents & POLLOUT) return PollAnswer::no_poll;
  if (revents & POLLIN) return PollAnswer::changed;
  return PollAnswer::quiet;
}

std::string_view name(WatchMode m) { return m == WatchMode::device ? "device notifications" : "timer"; }

namespace {
std::string why_timer(PollAnswer a) {
  switch (a) {
    case PollAnswer::no_poll:
      return "the driver has no poll() (ptp_vmclock of Linux 6.13-6.19: it answers at once, every time), "
             "though the page sets NOTIFICATION_PRESENT";
    case PollAnswer::hung_up:
      return "the device answers poll() with POLLHUP: it sends no notifications";
    default:
      return {};
  }
}
}  // namespace

Notifier Notifier::probe(int fd, bool flag_present) {
  if (!flag_present) return Notifier(fd, WatchMode::timer, "the page does not set NOTIFICATION_PRESENT");
  pollfd p{fd, POLLIN | POLLOUT, 0};
  int n = retry_eintr([&] { return ::poll(&p, 1, 0); });
  if (n < 0) return Notifier(fd, WatchMode::timer, fmt::format("poll() fails: {}", std::strerror(errno)));
  const PollAnswer a = n == 0 ? PollAnswer::quiet : classify_poll(p.revents);
  if (a == PollAnswer::no_poll || a == PollAnswer::hung_up) return Notifier(fd, WatchMode::timer, why_timer(a));
  Notifier nt(fd, WatchMode::device, "the driver sends notifications (ptp_vmclock with poll(), Linux 7.0+)");
  // A fresh open has read nothing yet, so the first answer is at once:
  // acknowledge it like any other notification.
  nt.ack_pending_ = a == PollAnswer::changed;
  return nt;
}

void Notifier::give_up(std::string why) {
  mode_ = WatchMode::timer;
  ack_pending_ = false;
  why_ = std::move(why);
}

bool Notifier::answer(short revents) {
  if (mode_ != WatchMode::device) return false;
  switch (const PollAnswer a = classify_poll(revents)) {
    case PollAnswer::changed:
      ack_pending_ = true;
      return false;
    case PollAnswer::quiet:
      return false;
    case PollAnswer::no_poll:
    case PollAnswer::hung_up:
      give_up(why_timer(a));
      return true;
  }
  return false;
}

bool Notifier::acknowledge() {
  if (!ack_pending()) return false;
  // Any length acknowledges; 8 bytes is also what an eventfd needs.
  uint64_t b[2];
  // The device reads at an offset; a pipe or eventfd standing in for it
  // (tests) cannot seek.
  ssize_t n = retry_eintr([&] { return ::pread(fd_, b, sizeof b, 0); });
  if (n < 0 && errno == ESPIPE) n = retry_eintr([&] { return ::read(fd_, b, sizeof b); });
  if (n < 0) {
    give_up(fmt::format("read() of the device fails: {}", std::strerror(errno)));
    return true;
  }
  ack_pending_ = false;
  return false;
}

}  // namespace vmc
