// SPDX-License-Identifier: Apache-2.0
#pragma once
// How the loop sleeps: until a deadline (CLOCK_MONOTONIC), a signal
// (SIGTERM/SIGINT stop, SIGHUP reloads) or the page's notification.
#include <signal.h>

#include <cstdint>

#include "fd.h"
#include "logging.h"
#include "result.h"

namespace vmc {

class SignalWait {
 public:
  // Blocks the signals (so they are only taken here) and opens a signalfd.
  Status setup();

  struct Woken {
    bool stop = false;    // SIGTERM or SIGINT
    bool reload = false;  // SIGHUP
    short notify_revents = 0;  // what poll() said of the page's notification fd
  };
  // `notify_fd` < 0: none. Never longer than until `wake_ns`. The fd's
  // answer is the caller's to judge and acknowledge (page_notify.h).
  Woken wait(int64_t wake_ns, int notify_fd);

 private:
  void take(int signo, Woken& w);

  Fd sig_fd_;
  sigset_t set_{};
  log::Incidents incidents_;
};

}  // namespace vmc
