// SPDX-License-Identifier: Apache-2.0
#pragma once
// What every segment vmclockd publishes its bound in does: vmclockd's own
// for libvmclock (bound_publisher.h) and AWS ClockBound's for its clients
// (clockbound_publisher.h), one small file per kind behind this interface,
// all fed the same bound::Record by BoundFeed.
#include <cstdint>
#include <limits>
#include <string>

#include "bound_segment.h"

namespace vmc {

class PublishedSegment {
 public:
  enum class Kind { libvmclock, clockbound };
  virtual ~PublishedSegment() = default;
  virtual Kind kind() const = 0;
  // A new bound (or status). A record with `stopped` is the last one.
  virtual void publish(const bound::Record& r) = 0;
  // From the daemon's loop, by next_due() at the latest: kinds whose
  // readers age the bound on another clock rewrite it here.
  virtual void tick(int64_t mono_ns) { (void)mono_ns; }
  virtual int64_t next_due() const { return std::numeric_limits<int64_t>::max(); }
  virtual const std::string& path() const = 0;
  // "publishing", or why not, for the status file.
  virtual std::string state() const { return "publishing"; }
};

}  // namespace vmc
