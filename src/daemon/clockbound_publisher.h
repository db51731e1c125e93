// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bound in AWS ClockBound's v2 segment (clockbound_segment.h), so that
// ClockBound's clients (the Rust crate, libclockbound, YugabyteDB's clock)
// read vmclockd's bound unchanged.
//
// ClockBound's clients age a bound with CLOCK_MONOTONIC_COARSE and call a
// Synchronized older than 5 s FreeRunning, so every write carries the
// bound grown to the moment of writing, and it is rewritten every
// kRewriteNs whether or not a new one came.
//
// One writer only. A segment another vmclockd holds (flock) is refused at
// open; a valid segment found at open is watched for kProbationNs before
// the first write, and a generation this publisher did not write (a
// ClockBound daemon writing it, before or after) makes it give the segment
// up for good: one log line, the other writer's data left as it is.
#include <cstdint>
#include <memory>
#include <string>

#include "bound_segment.h"
#include "clockbound_segment.h"
#include "fd.h"
#include "published_segment.h"
#include "result.h"

namespace vmc {

class ClockBoundPublisher final : public PublishedSegment {
 public:
  static constexpr int64_t kRewriteNs = 500'000'000;
  // ClockBound's daemon writes once a second: two of its writes at least.
  static constexpr int64_t kProbationNs = 2'500'000'000;
  // A client reads its clock, then the segment, and calls an as_of later
  // than its clock a "causality breach": a client preempted between the
  // two while we wrote would fail. Dated this much (and a coarse tick)
  // early, it takes a preemption longer than that; the cost is this
  // times max_drift of extra width (0.3 us at 15 ppm).
  static constexpr int64_t kBackdateNs = 20'000'000;

  // Creates the directory (0755) when missing, then the segment (0644), or
  // reuses a valid one in place (clients keep their mapping across a
  // restart). Errc::unavailable: another vmclockd holds it, or this user
  // cannot write it (ClockBound's daemon made it); Errc::io otherwise.
  static Result<std::unique_ptr<ClockBoundPublisher>> open(const std::string& path, int64_t mono_ns);

  Kind kind() const override { return Kind::clockbound; }
  void publish(const bound::Record& r) override;
  void tick(int64_t mono_ns) override;
  int64_t next_due() const override;
  const std::string& path() const override { return path_; }
  std::string state() const override;
  bool refused() const { return state_ == State::refused; }
  // The directory open() created, for the privilege hand-over; empty if it existed.
  const std::string& made_directory() const { return made_dir_; }

 private:
  enum class State { probation, publishing, refused, stopped };
  ClockBoundPublisher(std::string path, Fd fd, Mapping map, State st, int64_t mono_ns);
  void write(int64_t mono_ns);
  // False (and refused) when someone else changed the generation.
  bool still_ours();
  void refuse(uint16_t found);
  uint16_t generation() const;

  std::string path_;
  std::string made_dir_;
  Fd fd_;
  Mapping map_;
  volatile clockbound::segment* seg_;
  State state_;
  int64_t probation_end_ns_ = 0;
  int64_t next_write_ns_ = 0;
  uint16_t ours_ = 0;  // the generation this publisher last left
  int64_t coarse_tick_ns_ = 0;
  bool have_record_ = false;
  bound::Record last_;
};

}  // namespace vmc
