// SPDX-License-Identifier: Apache-2.0
#pragma once
// The daemon's page: opened (and re-opened when it went away), watched for
// a moved seq_count (on the device's notifications where the driver has
// them, page_notify.h, else on the loop's timer), snapshotted, and sampled
// through the cached Sampler.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cross_timestamp.h"
#include "device_presence.h"
#include "page_source.h"
#include "sampler.h"

namespace vmc {

// How a path becomes a source: open_page_source, or a test's seam.
using PageOpener = std::function<Result<std::unique_ptr<PageSource>>(const std::string&)>;

class PageReader {
 public:
  explicit PageReader(std::string path, PageOpener opener = open_page_source)
      : path_(std::move(path)), opener_(std::move(opener)) {}

  const std::string& path() const { return path_; }
  bool is_open() const { return source_ != nullptr; }
  // "closed" when not open.
  std::string_view kind() const { return source_ ? source_->kind() : std::string_view("closed"); }

  // Opens the page when it is not open; logs which source it got. When it
  // fails, missing() says why until an open succeeds.
  Status open();
  struct Missing {
    Error error;                          // the open error
    std::optional<MissingDevice> device;  // what /sys says, for a /dev/vmclock* path
  };
  const std::optional<Missing>& missing() const { return missing_; }
  // The open error with what /sys says: the one line to log.
  std::string why_missing() const { return missing_ ? explain_open_error(missing_->error, missing_->device) : ""; }

  // How the page is watched now. timer_watch(): the loop must check
  // moved() on its own grid (no notifications, or one not acknowledged
  // yet); poll_fd(): the fd whose POLLIN wakes the loop, or -1. The open
  // line says which, and why.
  bool timer_watch() const;
  int poll_fd() const;
  WatchMode watch_mode() const;
  // Why that mode (page_notify.h); empty for a source with no notifier.
  std::string watch_why() const;
  // The revents of a wait that polled poll_fd().
  void notified(short revents);

  // seq_count is even and differs from the last snapshot's: the cheap
  // check of the watch tick (one load). Acknowledges a pending
  // notification first, so that a later change notifies again.
  bool moved();
  // One consistent snapshot (the watch tick's view of a moved page).
  Result<Snapshot, PageError> snapshot();
  // The best of `attempts` cross-timestamps, the source refreshed first.
  Result<SampleOutcome, PageError> sample(unsigned attempts);

 private:
  void seen(uint32_t seq) { last_seq_ = seq; }
  Notifier* notifier() const { return source_ ? source_->notifier() : nullptr; }
  void timer_from_now();

  std::string path_;
  PageOpener opener_;
  std::unique_ptr<PageSource> source_;
  std::unique_ptr<Sampler> sampler_;
  std::optional<uint32_t> last_seq_;
  std::optional<Missing> missing_;
  bool stuck_ = false;  // the last read found the page stuck mid-update
  // Notifications in a row after which the page had not moved: a driver
  // that answers POLLIN for nothing would otherwise keep the loop busy.
  int idle_notifications_ = 0;
  bool checking_notification_ = false;
};

}  // namespace vmc
