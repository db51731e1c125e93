// SPDX-License-Identifier: Apache-2.0
#include "abi.h"

namespace vmc::abi {

std::string_view name(CounterId v) {
  switch (v) {
    case CounterId::arm_vcnt: return "arm_vcnt";
    case CounterId::x86_tsc: return "x86_tsc";
    case CounterId::invalid: return "invalid";
  }
  return "";
}
std::string_view name(TimeType v) {
  switch (v) {
    case TimeType::utc: return "utc";
    case TimeType::tai: return "tai";
    case TimeType::monotonic: return "monotonic";
    case TimeType::invalid_smeared: return "invalid_smeared";
    case TimeType::invalid_maybe_smeared: return "invalid_maybe_smeared";
  }
  return "";
}
std::string_view name(ClockStatus v) {
  switch (v) {
    case ClockStatus::unknown: return "unknown";
    case ClockStatus::initializing: return "initializing";
    case ClockStatus::synchronized: return "synchronized";
    case ClockStatus::freerunning: return "freerunning";
    case ClockStatus::unreliable: return "unreliable";
  }
  return "";
}
std::string_view name(SmearingHint v) {
  switch (v) {
    case SmearingHint::strict: return "strict";
    case SmearingHint::noon_linear: return "noon_linear";
    case SmearingHint::utc_sls: return "utc_sls";
  }
  return "";
}
std::string_view name(LeapIndicator v) {
  switch (v) {
    case LeapIndicator::none: return "none";
    case LeapIndicator::pre_pos: return "pre_pos";
    case LeapIndicator::pre_neg: return "pre_neg";
    case LeapIndicator::pos: return "pos";
    case LeapIndicator::post_pos: return "post_pos";
    case LeapIndicator::post_neg: return "post_neg";
  }
  return "";
}
std::string_view name(Flag v) {
  switch (v) {
    case Flag::tai_offset_valid: return "tai_offset_valid";
    case Flag::disruption_soon: return "disruption_soon";
    case Flag::disruption_imminent: return "disruption_imminent";
    case Flag::period_esterror_valid: return "period_esterror_valid";
    case Flag::period_maxerror_valid: return "period_maxerror_valid";
    case Flag::time_esterror_valid: return "time_esterror_valid";
    case Flag::time_maxerror_valid: return "time_maxerror_valid";
    case Flag::time_monotonic: return "time_monotonic";
    case Flag::vm_gen_counter_present: return "vm_gen_counter_present";
    case Flag::notification_present: return "notification_present";
  }
  return "";
}

}  // namespace vmc::abi
