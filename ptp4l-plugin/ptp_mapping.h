// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the grandmaster announces, from what vmclock knows. Pure functions and
// a small state machine: no I/O. The table is in ptp4l-plugin/README.md;
// tests/unit/ptp_mapping_test.cpp checks every row.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "abi.h"
#include "ptp_wire.h"

namespace vmc::ptp {

// The daemon's view of the clock at one update.
struct ClockView {
  bool have_page = false;
  abi::ClockStatus status = abi::ClockStatus::unknown;
  bool samples_ok = false;  // the daemon vouches for its samples
  std::optional<uint64_t> maxerror_ns;
  std::optional<uint64_t> esterror_ns;
  std::optional<int> tai_minus_utc;
  abi::LeapIndicator leap = abi::LeapIndicator::none;
  bool disrupted = false;  // disruption seen and not yet recovered
};

namespace clock_class {
inline constexpr uint8_t locked = 6;              // synchronized to a primary reference
inline constexpr uint8_t holdover = 7;            // holdover, within specification
inline constexpr uint8_t degraded = 187;          // degradation alternative B of class 7
inline constexpr uint8_t no_time = 248;           // default: nothing known
}  // namespace clock_class

inline constexpr uint8_t kAccuracyUnknown = 0xFE;
inline constexpr uint16_t kVarianceUnknown = 0xFFFF;

namespace time_source {
inline constexpr uint8_t atomic_clock = 0x10;
inline constexpr uint8_t gnss = 0x20;
inline constexpr uint8_t ptp = 0x40;
inline constexpr uint8_t ntp = 0x50;
inline constexpr uint8_t hand_set = 0x60;
inline constexpr uint8_t other = 0x90;
inline constexpr uint8_t internal_oscillator = 0xA0;
}  // namespace time_source

struct MappingOptions {
  // SYNCHRONIZED with maxerror at most this is class 6.
  uint64_t locked_maxerror_ns = 1'000'000;
  // Otherwise, with a maxerror at most this, class 7 (holdover in spec);
  // above it or unknown, class 187.
  uint64_t holdover_maxerror_ns = 10'000'000;
  // currentUtcOffset when the page gives no TAI - UTC (UTC_OFF_VALID clear).
  int16_t default_utc_offset = 37;
  uint8_t time_source = time_source::other;
  // Set PTP_TIMESCALE: only for a hardware-timestamping grandmaster whose
  // PHC phc2sys keeps in TAI. The software grandmaster serves
  // CLOCK_REALTIME, which is UTC: leave it false.
  bool ptp_timescale = false;
};

// Why map_clock chose its class, for logs and the status file.
enum class Grade { no_time, disrupted, degraded, holdover, locked };
std::string_view name(Grade g);

struct Mapped {
  GrandmasterSettings settings;
  Grade grade = Grade::no_time;
};

// The settings that describe `v` right now, without hysteresis.
Mapped map_clock(const ClockView& v, const MappingOptions& o);

// IEEE 1588 clockAccuracy: the smallest bucket (25 ns .. 10 s) that is
// >= maxerror; 0x31 beyond 10 s.
uint8_t accuracy_for_maxerror(uint64_t maxerror_ns);
// Upper bound in ns of an accuracy code, nullopt for 0x31, 0xFE and others.
std::optional<uint64_t> accuracy_bound_ns(uint8_t accuracy);

// IEEE 1588 offsetScaledLogVariance for a standard deviation of esterror:
// 256 * log2(variance in s^2) + 0x8000, rounded up to a multiple of 256
// (a factor 2 in variance) so that noise in esterror does not change it
// at every update; clamped to 0 .. 0xFFFE. esterror 0 counts as 1 ns, the
// page's resolution.
uint16_t scaled_log_variance(uint64_t esterror_ns);

// clockClass order, best first: 6, 7, 187, 248, then anything else.
constexpr int class_rank(uint8_t c) {
  return c == clock_class::locked ? 0 : c == clock_class::holdover ? 1 : c == clock_class::degraded ? 2
         : c == clock_class::no_time ? 3 : 4;
}

// Keeps the announced quality from flapping: each of clockClass,
// clockAccuracy and offsetScaledLogVariance gets worse at once, but gets
// better only after every update for `hold_updates` updates and
// `hold_time` has been better than what is announced; it then improves to
// the worst value seen during that run. The other fields (UTC offset, leap
// and time source) pass straight through; TIME/FREQ_TRACEABLE are kept only
// while the announced class is the one the flags were computed for.
class Hysteresis {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Options {
    uint32_t hold_updates = 3;
    std::chrono::milliseconds hold_time{10'000};
  };
  Hysteresis() = default;
  explicit Hysteresis(Options o) : opts_(o) {}

  // The first call starts from class 248 (what ptp4l announces by itself),
  // so even the first good state must hold before it is announced.
  GrandmasterSettings update(const GrandmasterSettings& candidate, TimePoint now);
  const GrandmasterSettings& current() const { return published_; }

 private:
  struct Dim {
    int value = 0;            // published, in "smaller is better" order
    bool pending = false;
    int worst = 0;            // worst better-than-published value in the run
    uint32_t count = 0;
    TimePoint since{};
  };
  int step(Dim& d, int candidate, TimePoint now) const;

  Options opts_{};
  GrandmasterSettings published_{};
  Dim class_{class_rank(clock_class::no_time) << 8 | clock_class::no_time};
  Dim accuracy_{kAccuracyUnknown};
  Dim variance_{kVarianceUnknown};
};

}  // namespace vmc::ptp
