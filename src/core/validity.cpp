// SPDX-License-Identifier: Apache-2.0
// assess(): whether a page can give UTC samples, and the one table of
// reasons why not.
#include "validity.h"

#include <fmt/format.h>

#include <cstdlib>

#include "units.h"

namespace vmc {
namespace {

// The counter rates a page may calibrate: the counters it can name run at
// 1 MHz to 1 GHz (ARM's generic timer) or 1 to 6 GHz (TSCs), and three
// orders of magnitude either way still covers any such counter. Outside,
// the page's clock stands still (a tick rounds to nothing) or races.
constexpr uint64_t kMinCounterHz = 1'000;
constexpr uint64_t kMaxCounterHz = 1'000'000'000'000;

// One tick is counter_period_frac_sec / 2^(64 + shift) s, so the counter
// runs at 2^(64 + shift) / period Hz.
bool period_usable(const Page& p) {
  const uint64_t period = p.counter_period_frac_sec;
  // At shift 64 and beyond even the largest period gives more than 2^64 Hz.
  if (period == 0 || p.counter_period_shift >= 64) return false;
  // One second in the period's unit, 2^-(64 + shift) s.
  const u128 one_second = static_cast<u128>(1) << (64 + p.counter_period_shift);
  return static_cast<u128>(period) * kMinCounterHz <= one_second &&
         one_second <= static_cast<u128>(period) * kMaxCounterHz;
}

}  // namespace

Validity assess(const Page& p, abi::CounterId native) {
  using abi::ClockStatus;
  using abi::TimeType;
  Validity v;
  auto fail = [&](Unusable r) { v.reason = r; return v; };
  if (p.counter_id == abi::CounterId::invalid) return fail(Unusable::no_counter);
  if (p.counter_id != native) return fail(Unusable::foreign_counter);
  switch (p.clock_status) {
    case ClockStatus::synchronized:
    case ClockStatus::freerunning: break;
    case ClockStatus::unknown: return fail(Unusable::status_unknown);
    case ClockStatus::initializing: return fail(Unusable::status_initializing);
    case ClockStatus::unreliable: return fail(Unusable::status_unreliable);
    default: return fail(Unusable::status_invalid);
  }
  switch (p.time_type) {
    case TimeType::utc: break;
    case TimeType::tai:
      if (!p.flags.has(abi::Flag::tai_offset_valid)) return fail(Unusable::tai_without_offset);
      if (p.tai_offset_sec == 0) return fail(Unusable::tai_offset_zero);
      // TAI - UTC is always positive (37 s since 2017), so the sign tells
      // the convention apart.
      if (p.tai_offset_sec > 0) {
        v.tai_convention = TaiConvention::tai_minus_utc;
        v.utc_minus_page_sec = -p.tai_offset_sec;
      } else {
        v.tai_convention = TaiConvention::utc_minus_tai;
        v.utc_minus_page_sec = p.tai_offset_sec;
      }
      break;
    case TimeType::monotonic: return fail(Unusable::time_monotonic);
    case TimeType::invalid_smeared: return fail(Unusable::time_smeared);
    case TimeType::invalid_maybe_smeared: return fail(Unusable::time_maybe_smeared);
    default: return fail(Unusable::time_type_invalid);
  }
  // The smearing hint never refuses a page: the page's time is never
  // smeared, the hint only says what the guest may offer its own users.
  if (!period_usable(p)) return fail(Unusable::no_period);
  return v;
}

std::string_view name(Unusable r) {
  switch (r) {
    case Unusable::none: return "none";
    case Unusable::no_counter: return "disruption-only";
    case Unusable::foreign_counter: return "foreign-counter";
    case Unusable::status_unknown: return "status-unknown";
    case Unusable::status_initializing: return "status-initializing";
    case Unusable::status_unreliable: return "status-unreliable";
    case Unusable::status_invalid: return "status-invalid";
    case Unusable::time_monotonic: return "time-monotonic";
    case Unusable::time_smeared: return "time-smeared";
    case Unusable::time_maybe_smeared: return "time-maybe-smeared";
    case Unusable::time_type_invalid: return "time-type-invalid";
    case Unusable::tai_without_offset: return "tai-without-offset";
    case Unusable::tai_offset_zero: return "tai-offset-zero";
    case Unusable::no_period: return "no-period";
  }
  return "unknown";
}

const char* sentence(Unusable r) {
  switch (r) {
    case Unusable::none: return "usable";
    case Unusable::no_counter:
      return "disruption-only, no time data (counter_id is invalid): only the disruption marker is usable";
    case Unusable::foreign_counter: return "counter_id names a counter this CPU cannot read";
    case Unusable::status_unknown: return "clock_status is unknown: the host does not vouch for its time";
    case Unusable::status_initializing: return "clock_status is initializing: the host is not synchronized yet";
    case Unusable::status_unreliable: return "clock_status is unreliable";
    case Unusable::status_invalid: return "clock_status is not a defined value";
    case Unusable::time_monotonic: return "time_type is monotonic: not UTC, not fed as UTC";
    case Unusable::time_smeared: return "time_type is invalid_smeared";
    case Unusable::time_maybe_smeared: return "time_type is invalid_maybe_smeared";
    case Unusable::time_type_invalid: return "time_type is not a defined value";
    case Unusable::tai_without_offset: return "time_type is tai but tai_offset_valid is not set";
    case Unusable::tai_offset_zero: return "time_type is tai but tai_offset_sec is 0 (TAI - UTC is never 0)";
    case Unusable::no_period:
      return "counter_period_frac_sec and counter_period_shift give no usable counter rate: the page's clock cannot "
             "advance";
  }
  return "unknown";
}

std::string describe(Unusable r, const Page& p) {
  switch (r) {
    case Unusable::foreign_counter:
      return fmt::format("{} (counter_id {} ({}), this CPU reads {})", sentence(r), static_cast<int>(p.counter_id),
                         abi::name(p.counter_id), abi::name(kNativeCounter));
    case Unusable::status_invalid: return fmt::format("{} ({})", sentence(r), static_cast<int>(p.clock_status));
    case Unusable::time_type_invalid: return fmt::format("{} ({})", sentence(r), static_cast<int>(p.time_type));
    case Unusable::no_period:
      return fmt::format("{} (counter_period_frac_sec {}, counter_period_shift {}; accepted: {} Hz to {} Hz)",
                         sentence(r), p.counter_period_frac_sec, static_cast<int>(p.counter_period_shift),
                         kMinCounterHz, kMaxCounterHz);
    default: return sentence(r);
  }
}

std::string_view name(TaiConvention c) {
  switch (c) {
    case TaiConvention::not_applicable: return "n/a";
    case TaiConvention::tai_minus_utc: return "tai-minus-utc";
    case TaiConvention::utc_minus_tai: return "utc-minus-tai";
  }
  return "unknown";
}

}  // namespace vmc
