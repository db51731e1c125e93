// SPDX-License-Identifier: Apache-2.0
#pragma once
// The ptp4l feed's options in their working types, with the bounds of each
// (`bounds`, the one place they are written: validate() checks them here
// and vmclockd's option table checks a file's values against the same
// constants). Defaults that the mapping or the hysteresis own are taken
// from MappingOptions and Hysteresis::Options, not repeated.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "ptp_mapping.h"
#include "result.h"

namespace vmc::ptp {

struct Ptp4lOptions {
  bool enabled = false;                         // a [ptp4l] section turns it on
  std::string uds_address = "/var/run/ptp4l";   // ptp4l's uds_address
  std::string client_address;                   // "" = abstract socket chosen by the kernel
  uint8_t domain_number = 0;                    // ptp4l's domainNumber
  uint8_t time_source = MappingOptions{}.time_source;  // number 0..255 or a name, see parse_time_source
  uint64_t locked_maxerror_ns = MappingOptions{}.locked_maxerror_ns;      // class 6 limit
  uint64_t holdover_maxerror_ns = MappingOptions{}.holdover_maxerror_ns;  // class 7 limit
  int16_t default_utc_offset = MappingOptions{}.default_utc_offset;       // sent with UTC_OFF_VALID clear
  bool ptp_timescale = MappingOptions{}.ptp_timescale;  // true only for the hardware-timestamping variant
  uint32_t upgrade_hold_updates = Hysteresis::Options{}.hold_updates;
  std::chrono::milliseconds upgrade_hold = Hysteresis::Options{}.hold_time;
  std::chrono::milliseconds check_interval{5'000};  // periodic GET
  std::chrono::milliseconds retry_interval{2'000};  // ptp4l absent or failing
  std::chrono::milliseconds reply_timeout{20};      // per request
  bool operator==(const Ptp4lOptions&) const = default;
};

// An inclusive range of a key's values (in the file's unit: ms, ns).
struct Range {
  int64_t min, max;
  constexpr bool contains(int64_t v) const { return v >= min && v <= max; }
};

namespace bounds {
inline constexpr Range domain_number{0, std::numeric_limits<uint8_t>::max()};
inline constexpr Range locked_maxerror_ns{1, 10'000'000'000};  // 10 s
// And at least locked_maxerror_ns: validate() checks that.
inline constexpr Range holdover_maxerror_ns{1, 1'000'000'000'000};  // 1000 s
inline constexpr Range default_utc_offset{0, 1000};
inline constexpr Range upgrade_hold_updates{1, 1000};
inline constexpr Range upgrade_hold_ms{0, 3'600'000};
inline constexpr Range check_interval_ms{1'000, 3'600'000};
inline constexpr Range retry_interval_ms{100, 3'600'000};
inline constexpr Range reply_timeout_ms{1, 200};
// sockaddr_un's sun_path less its terminating NUL.
inline constexpr size_t socket_path_bytes = 107;
}  // namespace bounds

// "atomic_clock", "gnss", "ptp", "ntp", "hand_set", "other",
// "internal_oscillator" (case-insensitive), or a number 0..255, decimal or
// 0x-hex. The error names `key` and the value and lists the names.
Result<uint8_t> parse_time_source(std::string_view value, std::string_view key = "ptp4l.time_source");
// Why a value is none: the sentence of parse_time_source()'s error, for a
// caller that names the key itself.
std::string time_source_expected();
// The name for a time source code, "" if it has none.
std::string_view time_source_name(uint8_t code);

// Checks every bound above; the error names the key (as "ptp4l.<key>").
Status validate(const Ptp4lOptions& o);

MappingOptions mapping_options(const Ptp4lOptions& o);
Hysteresis::Options hysteresis_options(const Ptp4lOptions& o);

}  // namespace vmc::ptp
