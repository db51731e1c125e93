// SPDX-License-Identifier: Apache-2.0
#pragma once
// The daemon's side of the bound segment (bound_segment.h): creates or
// reuses the file, keeps it mapped, and publishes under the seqlock.
#include <memory>
#include <string>

#include "bound_segment.h"
#include "fd.h"
#include "published_segment.h"
#include "result.h"

namespace vmc {

class BoundPublisher final : public PublishedSegment {
 public:
  // Reuses an existing file in place (readers keep their mapping across
  // daemon restarts, and the seq_count continues); creates it 0644
  // otherwise, every block allocated (posix_fallocate: a full file system
  // is an error here, never a SIGBUS later); replaces a file this user
  // cannot write. Errc::io names the path and the reason.
  static Result<std::unique_ptr<BoundPublisher>> open(const std::string& path);
  Kind kind() const override { return Kind::libvmclock; }
  void publish(const bound::Record& r) override;
  const bound::Record& last() const { return last_; }
  const std::string& path() const override { return path_; }

 private:
  BoundPublisher(std::string path, Fd fd, Mapping map);
  std::string path_;
  Fd fd_;
  Mapping map_;
  volatile bound::segment* seg_;
  bound::Record last_;
};

}  // namespace vmc
