// SPDX-License-Identifier: Apache-2.0
#include "page_reader.h"

#include <fmt/format.h>

#include "logging.h"

namespace vmc {
namespace {
// Far more than a host's updates in a row (odd, even, then the
// notification): past this, POLLIN says nothing.
constexpr int kMaxIdleNotifications = 16;
}  // namespace

Status PageReader::open() {
  if (source_) return Ok{};
  auto src = opener_(path_);
  if (!src) {
    missing_ = Missing{src.error(), explain_missing_device(path_)};
    return src.error();
  }
  missing_.reset();
  source_ = std::move(*src);
  sampler_ = std::make_unique<Sampler>(*source_);
  last_seq_.reset();
  idle_notifications_ = 0;
  checking_notification_ = false;
  const std::string note = source_->note();
  const Notifier* n = notifier();
  log::info("page", fmt::format("reading {} ({}{}); watching the marker on {}{}", source_->path(), source_->kind(),
                                note.empty() ? "" : ": " + note,
                                name(n ? n->mode() : WatchMode::timer), n ? ": " + n->why() : ""));
  return Ok{};
}

bool PageReader::timer_watch() const {
  const Notifier* n = notifier();
  return !n || n->mode() == WatchMode::timer || n->ack_pending();
}

int PageReader::poll_fd() const {
  const Notifier* n = notifier();
  return n ? n->poll_fd() : -1;
}

WatchMode PageReader::watch_mode() const {
  const Notifier* n = notifier();
  return n ? n->mode() : WatchMode::timer;
}

std::string PageReader::watch_why() const {
  const Notifier* n = notifier();
  return n ? n->why() : std::string();
}

void PageReader::timer_from_now() {
  log::notice("page", fmt::format("{}: watching the marker on a timer from now on: {}", path_, notifier()->why()));
}

void PageReader::notified(short revents) {
  Notifier* n = notifier();
  if (!n) return;
  if (n->answer(revents)) return timer_from_now();
  checking_notification_ = n->ack_pending();
}

bool PageReader::moved() {
  if (!source_) return false;
  auto seq = peek_seq(*source_);
  if (!seq) return false;  // the sample tick reports page errors, once
  // Odd: the host is mid-update (or stuck); a later tick sees the result,
  // and acknowledges then (the device's read() would spin until even).
  if (*seq & 1u) return false;
  Notifier* n = notifier();
  if (n && n->ack_pending() && n->acknowledge()) timer_from_now();
  const bool m = !last_seq_ || *seq != *last_seq_;
  if (checking_notification_) {
    checking_notification_ = false;
    idle_notifications_ = m ? 0 : idle_notifications_ + 1;
    if (idle_notifications_ >= kMaxIdleNotifications && n && n->mode() == WatchMode::device) {
      n->give_up(fmt::format("{} notifications in a row without a change of seq_count", idle_notifications_));
      timer_from_now();
    }
  }
  return m;
}

Result<Snapshot, PageError> PageReader::snapshot() {
  auto snap = take_snapshot(*source_);
  if (snap) seen(snap->page.seq_count);
  return snap;
}

Result<SampleOutcome, PageError> PageReader::sample(unsigned attempts) {
  if (auto r = sampler_->refresh(); !r) return PageError{r.error()};
  // A page stuck mid-update is retried briefly, not for the kernel's full
  // 100 ms every time: that would keep a core busy for nothing.
  SeqlockLimits lim;
  if (stuck_) lim.time_limit_ns = 1'000'000;
  sampler_->set_limits(lim);
  auto out = sampler_->best(attempts);
  stuck_ = !out && out.error().seqlock == SeqlockFailure::stuck_odd;
  if (out) seen(out->snapshot.page.seq_count);
  return out;
}

}  // namespace vmc
