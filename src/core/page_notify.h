// SPDX-License-Identifier: Apache-2.0
#pragma once
// The vmclock device's notifications, used only where the driver really
// has them. NOTIFICATION_PRESENT is the hypervisor's word (Firecracker sets
// it on every page), not the guest kernel's: the 6.13-6.19 ptp_vmclock
// driver has no .poll, so the VFS answers every poll() at once with
// POLLIN|POLLOUT and a reader that trusts the flag spins. The kernels are
// told apart by the answer (reference/real-guests.md):
//   - POLLOUT set: no .poll (6.13-6.19): watch on a timer;
//   - POLLHUP/POLLERR/POLLNVAL: no notifications (the 7.0 driver says so
//     when the page lacks the flag): watch on a timer;
//   - otherwise the 7.0 driver: POLLIN while seq_count differs from what
//     this open file last read(); a read() acknowledges. A fresh open has
//     read nothing, so its first poll answers at once.
#include <poll.h>

#include <string>
#include <string_view>

namespace vmc {

enum class PollAnswer {
  changed,  // POLLIN alone: the page moved since this file last read it
  quiet,    // nothing: a driver that waits
  no_poll,  // POLLOUT: the VFS default of a driver without .poll
  hung_up,  // POLLHUP, POLLERR or POLLNVAL: no notifications will come
};
PollAnswer classify_poll(short revents);

enum class WatchMode { timer, device };

// One open file's notifications: chosen once at open by probe(), given up
// for good when a later answer says they stopped (the host cleared the
// flag), acknowledged by read() after each notification.
class Notifier {
 public:
  // `fd` is the open device (or, in tests, an fd behaving like one); it
  // stays owned by the caller. `flag_present`: the page's
  // NOTIFICATION_PRESENT. Polls once, without waiting.
  static Notifier probe(int fd, bool flag_present);

  WatchMode mode() const { return mode_; }
  // Why this mode, for the one line that names it.
  const std::string& why() const { return why_; }
  // The fd to poll for POLLIN, or -1 (timer mode, or a notification not
  // yet acknowledged: polling then would answer at once again).
  int poll_fd() const { return mode_ == WatchMode::device && !ack_pending_ ? fd_ : -1; }
  bool ack_pending() const { return mode_ == WatchMode::device && ack_pending_; }

  // The revents of a poll that included poll_fd(). Returns true when the
  // mode changed to the timer (why() says why: log it).
  bool answer(short revents);
  // The read() that tells the 7.0 driver this file has seen the page.
  // Call it only with an even seq_count: the driver's read() spins (up to
  // 100 ms) while the page is mid-update. A read that fails gives the
  // notifications up (returns true, like answer()): a pending one could
  // never be acknowledged.
  bool acknowledge();
  // For a caller that sees notifications which say nothing (the page does
  // not move): back to the timer, for good.
  void give_up(std::string why);

 private:
  Notifier(int fd, WatchMode mode, std::string why) : fd_(fd), mode_(mode), why_(std::move(why)) {}

  int fd_ = -1;
  WatchMode mode_ = WatchMode::timer;
  std::string why_;
  bool ack_pending_ = false;
};

std::string_view name(WatchMode m);

}  // namespace vmc
