// SPDX-License-Identifier: Apache-2.0
#pragma once
// The simulator's arithmetic, free of clocks and files so that tests can
// drive it: counter calibration against CLOCK_REALTIME, the ground truth
// (realtime + offset + drift) and the page that describes it.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "abi.h"
#include "page.h"
#include "result.h"
#include "units.h"

namespace vmc::sim {

// One (CLOCK_REALTIME, counter) pair: the counter read between two
// clock_gettime calls; the realtime is the bracket's midpoint, uncertain
// by half the width.
struct CalPair {
  int64_t rt_ns = 0;
  uint64_t counter = 0;
  int64_t width_ns = 0;
};

// Best (narrowest) of `attempts` brackets read now. Reads the real clock.
CalPair take_pair(unsigned attempts);

// Seconds of CLOCK_REALTIME per counter tick, from the first narrow pair
// and the latest one: the error is about the bracket widths over the
// baseline, so it shrinks as the baseline grows. The baseline stops
// growing at `max_baseline_ns` so that the estimate follows CLOCK_REALTIME
// when NTP changes its frequency.
class Calibrator {
 public:
  struct Limits {
    int64_t max_baseline_ns = 64 * kNsPerSec;
    int64_t history_step_ns = kNsPerSec;  // one stored pair per second at most
    double restart_ppm = 1000;            // a realtime step voids the calibration
  };
  Calibrator() = default;
  explicit Calibrator(Limits lim) : lim_(lim) {}

  enum class Added { baseline, refined, too_wide, restarted };
  Added add(const CalPair& p);
  bool ready() const { return !hist_.empty() && latest_.counter != hist_.front().counter && period_s_ > 0; }
  // Seconds per tick; 0 until ready().
  long double period_s() const { return period_s_; }
  int64_t baseline_ns() const { return hist_.empty() ? 0 : latest_.rt_ns - hist_.front().rt_ns; }
  // Realtime of counter `c` on the calibration line through the latest pair.
  int64_t predict_rt_ns(uint64_t c) const;
  // Width above which a pair is not trusted as a time reference.
  int64_t accept_width_ns() const { return 2 * min_width_ + 100; }
  const CalPair& latest() const { return latest_; }
  unsigned restarts() const { return restarts_; }

 private:
  void recompute();
  Limits lim_{};
  std::deque<CalPair> hist_;  // first element: baseline start
  CalPair latest_{};
  long double period_s_ = 0;
  int64_t min_width_ = INT64_MAX / 4;
  unsigned restarts_ = 0;
};

// The instant the truth is a function of, with --fixed-truth: the
// calibration line at the end of calibration, extended for ever, so that
// a chronyd steering CLOCK_REALTIME (or anyone stepping it) cannot move
// the truth it is measured against. Without it the truth follows
// CLOCK_REALTIME, which is right while chronyd runs with -x.
class FrozenLine {
 public:
  // Errc::software when the calibration is not ready.
  static Result<FrozenLine> freeze(const Calibrator& cal);
  FrozenLine(const CalPair& anchor, long double period_s) : anchor_(anchor), period_s_(period_s) {}
  // The line's realtime at counter `c`, ns.
  int64_t rt_ns_at(uint64_t c) const;
  const CalPair& anchor() const { return anchor_; }
  long double period_s() const { return period_s_; }

 private:
  CalPair anchor_;
  long double period_s_;
};

// A period as the page stores it: frac / 2^(64+shift) seconds, the shift
// chosen so that frac has its top bit set (64 significant bits).
struct FixedPeriod {
  uint64_t frac = 0;
  uint8_t shift = 0;
  long double seconds() const;
};
Result<FixedPeriod> to_fixed_period(long double seconds);
// A rate in parts per billion of the period, in the period's unit.
uint64_t ppb_to_rate(double ppb, const FixedPeriod& period);

// Time in units of 2^-64 s since an epoch, signed, exact for the page.
using Fix64 = i128;
Fix64 fix64_from_ns(int64_t ns);
long double fix64_to_ns(Fix64 t);

// The ground truth: page time = realtime + type_shift + offset(realtime),
// offset(rt) = offset_ns + drift_ppm * 1e-6 * (rt - ref_rt_ns).
struct Truth {
  int64_t ref_rt_ns = 0;
  int64_t offset_ns = 0;
  double drift_ppm = 0;
  int64_t type_shift_ns = 0;  // TAI - UTC for TAI, CLOCK_MONOTONIC - CLOCK_REALTIME for monotonic

  // Offset at `rt_ns` including the drift, as 2^-64 s.
  Fix64 offset_at(int64_t rt_ns) const;
  int64_t offset_ns_at(int64_t rt_ns) const;
  Fix64 page_time_at(int64_t rt_ns) const { return fix64_from_ns(rt_ns + type_shift_ns) + offset_at(rt_ns); }
  // Re-bases at `rt_ns` so that the offset keeps its value there.
  void rebase(int64_t rt_ns);
  void step(int64_t rt_ns, int64_t offset_step_ns, double drift_step_ppm);
};

// What the simulated host publishes, apart from the calibration.
struct HostState {
  bool disruption_only = false;
  uint32_t size = abi::kSizeWithGeneration;
  bool generation_present = true;
  bool notification_present = false;
  abi::CounterId counter_id = abi::CounterId::invalid;
  abi::TimeType time_type = abi::TimeType::utc;
  abi::ClockStatus status = abi::ClockStatus::synchronized;
  abi::SmearingHint smearing = abi::SmearingHint::strict;
  abi::LeapIndicator leap = abi::LeapIndicator::none;
  std::optional<int16_t> tai_offset;  // raw, as stored; sets TAI_OFFSET_VALID
  std::optional<uint64_t> maxerror_ns;
  std::optional<uint64_t> esterror_ns;
  std::optional<double> period_maxerror_ppb;
  std::optional<double> period_esterror_ppb;
  bool disruption_soon = false;
  bool disruption_imminent = false;
  uint64_t marker = 0;
  uint64_t generation = 0;
};

// TAI - UTC used to generate TAI time: |tai_offset| when given (either
// sign convention means the same), else the 37 s in force since 2017.
int64_t tai_minus_utc_s(const HostState& h);

// A page with only the host's state: the disruption-only shape, or the
// header for a page whose calibration build_page() fills in.
Page header_page(const HostState& h);

// The page anchored at `anchor_counter` read at realtime `anchor_rt_ns`:
// time there is the truth, and the period is the calibrated one times
// (1 + drift). Errc::data when the truth is before the epoch.
Result<Page> build_page(const HostState& h, const Truth& truth, long double rt_period_s, uint64_t anchor_counter,
                        int64_t anchor_rt_ns);

// Names on the command line and in scenarios: the ABI's names, with '-'
// or '_' between words.
std::optional<abi::CounterId> parse_counter_id(std::string_view s, abi::CounterId native);
std::optional<abi::TimeType> parse_time_type(std::string_view s);
std::optional<abi::ClockStatus> parse_status(std::string_view s);
std::optional<abi::LeapIndicator> parse_leap(std::string_view s);
std::optional<abi::SmearingHint> parse_smearing(std::string_view s);

inline constexpr double kMaxDriftPpm = 100'000;  // 10 %: beyond any real host
inline constexpr int64_t kMaxOffsetNs = 10LL * 366 * 86400 * kNsPerSec;
inline constexpr double kMaxPpb = 100'000'000;

}  // namespace vmc::sim
