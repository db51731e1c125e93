// SPDX-License-Identifier: Apache-2.0
#pragma once
// Cross-timestamps: the page's time at a counter reading, with the system
// time (CLOCK_REALTIME) of the same instant. The counter is read inside
// the seqlock window and bracketed by two clock_gettime calls; the system
// time is the bracket's midpoint and half its width adds to the error.
#include <cstdint>
#include <optional>
#include <string>

#include "clock.h"
#include "page.h"
#include "page_source.h"
#include "seqlock.h"
#include "units.h"
#include "validity.h"

namespace vmc {

struct Snapshot {
  Page page;
  uint64_t counter = 0;
  SysTime before{}, after{};
  uint32_t retries = 0;
  int64_t bracket_ns() const { return after.ns - before.ns; }
};

// Leap announcement in the terms chrony uses (0 none, 1 insert, 2 delete).
enum class Leap : int { none = 0, insert = 1, remove = 2 };
Leap leap_of(abi::LeapIndicator li);

struct Sample {
  uint64_t counter = 0;
  Time64 reference{};       // UTC
  SysTime system{};         // midpoint of the bracket
  Nanoseconds offset{};     // reference - system
  uint64_t maxerror_ns = 0; // page bound at the counter + half the bracket
  std::optional<uint64_t> esterror_ns;
  int64_t bracket_ns = 0;
  Leap leap = Leap::none;
  uint64_t disruption_marker = 0;
  std::optional<uint64_t> vm_generation_counter;
  uint32_t seq = 0;
};

// Why a snapshot gave no sample: Errc::unavailable with the validity
// reason, Errc::data for arithmetic that would overflow.
struct SampleOutcome {
  Snapshot snapshot;
  Validity validity;
  std::optional<Sample> sample;
  std::string why_not;  // set when !sample
};

// One consistent snapshot with a bracketed counter reading. The error's
// `seqlock` says whether the seqlock gave up, and how.
Result<Snapshot, PageError> take_snapshot(PageSource& src, SeqlockLimits lim = {});

// seq_count alone: the cheap check for "has the page changed".
Result<uint32_t> peek_seq(PageSource& src);

// Sample from a snapshot already taken (pure: tests feed it by hand).
SampleOutcome sample_from(const Snapshot& s, abi::CounterId native = kNativeCounter);

// sample_from()'s arithmetic for a page already assessed as usable (`v` is
// assess(page)): the sample, or nullopt with `why_not` set. Exact (time_at);
// the Sampler (sampler.h) falls back to it outside its fast range.
std::optional<Sample> sample_at(const Page& page, const Validity& v, uint64_t counter, SysTime before,
                                SysTime after, std::string& why_not);

// Best of `attempts` snapshots by narrowest bracket. A page error (bad
// header, stuck seqlock: PageError::seqlock) is an error; a page without
// usable time is a SampleOutcome without a sample.
Result<SampleOutcome, PageError> best_sample(PageSource& src, unsigned attempts, SeqlockLimits lim = {});

}  // namespace vmc
