// SPDX-License-Identifier: Apache-2.0
#include "signal_wait.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "clock.h"
#include "units.h"

namespace vmc {

Status SignalWait::setup() {
  sigemptyset(&set_);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set_, s);
  sigprocmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int fd = signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return make_error(Errc::os, fmt::format("signalfd: {}", std::strerror(errno)));
  sig_fd_ = Fd(fd);
  return Ok{};
}

void SignalWait::take(int signo, Woken& w) {
  if (signo == SIGHUP) {
    w.reload = true;
    return;
  }
  log::notice("daemon", fmt::format("{}: stopping", strsignal(signo)));
  w.stop = true;
}

SignalWait::Woken SignalWait::wait(int64_t wake_ns, int notify_fd) {
  Woken w;
  const int64_t left = std::max<int64_t>(0, wake_ns - mono_now_ns());
  timespec ts{left / kNsPerSec, left % kNsPerSec};
  if (notify_fd < 0) {
    // Only signals to wait for: sigtimedwait() is one system call with no
    // file to poll (cheaper than ppoll on the signalfd, measured).
    siginfo_t si;
    int sig = ::sigtimedwait(&set_, &si, &ts);
    if (sig > 0) {
      take(sig, w);
    } else if (errno != EAGAIN && errno != EINTR) {
      incidents_.fail("daemon", "wait", fmt::format("sigtimedwait: {}", std::strerror(errno)));
    }
    return w;
  }
  pollfd fds[2] = {{sig_fd_.get(), POLLIN, 0}, {notify_fd, POLLIN, 0}};
  int n = ::ppoll(fds, 2, &ts, nullptr);
  if (n < 0) {
    if (errno != EINTR) incidents_.fail("daemon", "wait", fmt::format("ppoll: {}", std::strerror(errno)));
    return w;
  }
  incidents_.recover("daemon", "wait", "waiting works again");
  if (n == 0) return w;
  w.notify_revents = fds[1].revents;
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo si;
    while (::read(sig_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
      take(static_cast<int>(si.ssi_signo), w);
  }
  return w;
}

}  // namespace vmc
