// SPDX-License-Identifier: Apache-2.0
#include "ptp_mapping.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace vmc::ptp {
namespace {

// IEEE 1588-2008 Table 6 (kept in 1588-2019): the upper bound of each
// clockAccuracy code from 0x20 (25 ns) to 0x30 (10 s). The 2019 codes below
// 25 ns are left out: ptp4l 3.1.1 and 2008-era slaves treat them as reserved.
constexpr std::array<uint64_t, 17> kAccuracyBounds = {
    25, 100, 250, 1'000, 2'500, 10'000, 25'000, 100'000, 250'000,
    1'000'000, 2'500'000, 10'000'000, 25'000'000, 100'000'000, 250'000'000,
    1'000'000'000, 10'000'000'000ULL};
constexpr uint8_t kAccuracyFirst = 0x20;
constexpr uint8_t kAccuracyBeyond = 0x31;  // > 10 s

}  // namespace

uint8_t accuracy_for_maxerror(uint64_t maxerror_ns) {
  for (size_t i = 0; i < kAccuracyBounds.size(); ++i)
    if (maxerror_ns <= kAccuracyBounds[i]) return static_cast<uint8_t>(kAccuracyFirst + i);
  return kAccuracyBeyond;
}

std::optional<uint64_t> accuracy_bound_ns(uint8_t accuracy) {
  if (accuracy < kAccuracyFirst || accuracy >= kAccuracyBeyond) return std::nullopt;
  return kAccuracyBounds[accuracy - kAccuracyFirst];
}

uint16_t scaled_log_variance(uint64_t esterror_ns) {
  double sigma_s = static_cast<double>(std::max<uint64_t>(esterror_ns, 1)) * 1e-9;
  // 256 * ceil(log2(sigma^2)) + 0x8000: rounding the log up reports the
  // variance as never better than the estimate.
  double log2_var = std::ceil(2.0 * std::log2(sigma_s) - 1e-9);
  double scaled = 256.0 * log2_var + 0x8000;
  return static_cast<uint16_t>(std::clamp(scaled, 0.0, static_cast<double>(kVarianceUnknown - 1)));
}

std::string_view name(Grade g) {
  switch (g) {
    case Grade::no_time: return "no_time";
    case Grade::disrupted: return "disrupted";
    case Grade::degraded: return "degraded";
    case Grade::holdover: return "holdover";
    case Grade::locked: return "locked";
  }
  return "";
}

Mapped map_clock(const ClockView& v, const MappingOptions& o) {
  Mapped m;
  GrandmasterSettings& s = m.settings;
  s.time_source = o.time_source;
  if (o.ptp_timescale) s.time_flags |= time_flag::ptp_timescale;

  // The UTC offset and a scheduled leap are facts about UTC, not about this
  // clock's phase: announce them whenever the page states them.
  s.current_utc_offset = o.default_utc_offset;
  if (v.have_page && v.tai_minus_utc && *v.tai_minus_utc > 0 && *v.tai_minus_utc <= INT16_MAX) {
    s.current_utc_offset = static_cast<int16_t>(*v.tai_minus_utc);
    s.time_flags |= time_flag::utc_off_valid;
  }
  if (v.have_page) {
    switch (v.leap) {
      // POS is the inserted second itself: the minute still has 61 seconds.
      case abi::LeapIndicator::pre_pos:
      case abi::LeapIndicator::pos: s.time_flags |= time_flag::leap_61; break;
      case abi::LeapIndicator::pre_neg: s.time_flags |= time_flag::leap_59; break;
      default: break;  // NONE, POST_*: the leap is over, ptp4l would not clear it itself
    }
  }

  bool has_time = v.have_page && v.samples_ok &&
                  (v.status == abi::ClockStatus::synchronized || v.status == abi::ClockStatus::freerunning);
  if (!has_time) {
    m.grade = Grade::no_time;
    s.quality = {clock_class::no_time, kAccuracyUnknown, kVarianceUnknown};
    return m;
  }
  if (v.disrupted) {
    // The error bounds on the page predate the disruption: none of them holds.
    m.grade = Grade::disrupted;
    s.quality = {clock_class::degraded, kAccuracyUnknown, kVarianceUnknown};
    return m;
  }
  s.quality.clock_accuracy = v.maxerror_ns ? accuracy_for_maxerror(*v.maxerror_ns) : kAccuracyUnknown;
  s.quality.offset_scaled_log_variance = v.esterror_ns ? scaled_log_variance(*v.esterror_ns) : kVarianceUnknown;
  if (v.status == abi::ClockStatus::synchronized && v.maxerror_ns && *v.maxerror_ns <= o.locked_maxerror_ns) {
    m.grade = Grade::locked;
    s.quality.clock_class = clock_class::locked;
    s.time_flags |= time_flag::time_traceable | time_flag::freq_traceable;
  } else if (v.maxerror_ns && *v.maxerror_ns <= o.holdover_maxerror_ns) {
    m.grade = Grade::holdover;
    s.quality.clock_class = clock_class::holdover;
  } else {
    m.grade = Grade::degraded;
    s.quality.clock_class = clock_class::degraded;
  }
  return m;
}

int Hysteresis::step(Dim& d, int candidate, TimePoint now) const {
  if (candidate >= d.value) {  // worse or the same: at once
    d.value = candidate;
    d.pending = false;
    return d.value;
  }
  if (!d.pending) {
    d.pending = true;
    d.worst = candidate;
    d.count = 0;
    d.since = now;
  }
  d.worst = std::max(d.worst, candidate);
  ++d.count;
  if (d.count >= opts_.hold_updates && now - d.since >= opts_.hold_time) {
    d.value = d.worst;
    d.pending = false;
  }
  return d.value;
}

GrandmasterSettings Hysteresis::update(const GrandmasterSettings& candidate, TimePoint now) {
  // The class is ordered by rank; its value rides in the low byte.
  int cls = step(class_, class_rank(candidate.quality.clock_class) << 8 | candidate.quality.clock_class, now);
  int acc = step(accuracy_, candidate.quality.clock_accuracy, now);
  int var = step(variance_, candidate.quality.offset_scaled_log_variance, now);

  published_ = candidate;
  published_.quality = {static_cast<uint8_t>(cls & 0xff), static_cast<uint8_t>(acc), static_cast<uint16_t>(var)};
  if (published_.quality.clock_class != candidate.quality.clock_class)
    published_.time_flags &= static_cast<uint8_t>(~(time_flag::time_traceable | time_flag::freq_traceable));
  return published_;
}

}  // namespace vmc::ptp
