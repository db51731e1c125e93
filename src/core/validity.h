// SPDX-License-Identifier: Apache-2.0
#pragma once
// Whether a page can give UTC samples, and if not, why: the one place
// that decides it, used by vmclockctl, the daemon and the ptp4l mapping.
#include <string>
#include <string_view>

#include "abi.h"
#include "counter.h"
#include "page.h"

namespace vmc {

enum class Unusable {
  none,
  no_counter,          // counter_id INVALID: a disruption-only device
  foreign_counter,     // calibrated against a counter this CPU cannot read
  status_unknown,
  status_initializing,
  status_unreliable,
  status_invalid,      // a value the ABI does not define
  time_monotonic,
  time_smeared,
  time_maybe_smeared,
  time_type_invalid,   // a value the ABI does not define
  tai_without_offset,
  tai_offset_zero,     // neither convention can mean TAI - UTC = 0
  no_period,           // a zero or absurd counter period: the page's clock cannot advance
};

// How this host filled tai_offset_sec: the header's words (TAI - UTC, +37)
// or the kernel driver's arithmetic (UTC - TAI, -37).
enum class TaiConvention { not_applicable, tai_minus_utc, utc_minus_tai };

struct Validity {
  Unusable reason = Unusable::none;
  TaiConvention tai_convention = TaiConvention::not_applicable;
  int utc_minus_page_sec = 0;  // add to the page's time to get UTC
  bool ok() const { return reason == Unusable::none; }
  bool disruption_only() const { return reason == Unusable::no_counter; }
};

Validity assess(const Page& p, abi::CounterId native = kNativeCounter);

// Stable identifiers (for JSON and status files) and sentences for people:
// sentence() is the one table of why a page cannot give time (a static,
// NUL-terminated string: libvmclock returns it as is); describe() adds the
// page's values where they are part of the reason.
std::string_view name(Unusable r);
const char* sentence(Unusable r);
std::string describe(Unusable r, const Page& p);
std::string_view name(TaiConvention c);

}  // namespace vmc
