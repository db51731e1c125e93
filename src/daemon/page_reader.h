#pragma once
// The daemon's page: opened (and re-opened when it went away), watched for
// a moved seq_count, snapshotted, and sampled through the cached Sampler.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cross_timestamp.h"
#include "device_presence.h"
#include "page_source.h"
#include "sampler.h"

namespace vmc {

class PageReader {
 public:
  explicit PageReader(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool is_open() const { return source_ != nullptr; }
  // "closed" when not open.
  std::string_view kind() const { return source_ ? source_->kind() : std::string_view("closed"); }
  int notify_fd() const { return source_ ? source_->notify_fd() : -1; }

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
  // seq_count is even and differs from the last snapshot's: the cheap
  // check of the watch tick (one load).
  bool moved();
  // One consistent snapshot (the watch tick's view of a moved page).
  Result<Snapshot, PageError> snapshot();
  // The best of `attempts` cross-timestamps, the source refreshed first.
  Result<SampleOutcome, PageError> sample(unsigned attempts);

 private:
  void seen(uint32_t seq) { last_seq_ = seq; }

  std::string path_;
  std::unique_ptr<PageSource> source_;
  std::unique_ptr<Sampler> sampler_;
  std::optional<uint32_t> last_seq_;
  std::optional<Missing> missing_;
  bool stuck_ = false;  // the last read found the page stuck mid-update
};

}  // namespace vmc
