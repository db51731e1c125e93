#pragma once
// The [ptp4l] section of vmclockd.toml: every key once, with its default and
// bounds. The daemon parses the TOML; this module owns the meaning.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "ptp_mapping.h"
#include "result.h"

namespace vmc::ptp {

struct Ptp4lOptions {
  bool enabled = false;                         // a [ptp4l] section turns it on
  std::string uds_address = "/var/run/ptp4l";   // ptp4l's uds_address
  std::string client_address;                   // "" = abstract socket chosen by the kernel
  uint8_t domain_number = 0;                    // 0..255: ptp4l's domainNumber
  uint8_t time_source = time_source::other;     // number 0..255 or a name, see parse_time_source
  uint64_t locked_maxerror_ns = 1'000'000;      // class 6 limit; 1 ns .. 10 s
  uint64_t holdover_maxerror_ns = 10'000'000;   // class 7 limit; >= locked_maxerror_ns, <= 1000 s
  int16_t default_utc_offset = 37;              // 0..1000: sent with UTC_OFF_VALID clear
  bool ptp_timescale = false;                   // true only for the hardware-timestamping variant
  uint32_t upgrade_hold_updates = 3;            // 1..1000
  std::chrono::milliseconds upgrade_hold{10'000};       // 0..1 h
  std::chrono::milliseconds check_interval{5'000};      // 1 s..1 h: periodic GET
  std::chrono::milliseconds retry_interval{2'000};      // 100 ms..1 h: ptp4l absent or failing
  std::chrono::milliseconds reply_timeout{20};          // 1..200 ms per request
  bool operator==(const Ptp4lOptions&) const = default;
};

inline constexpr uint64_t kMaxLockedMaxerrorNs = 10'000'000'000ULL;
inline constexpr uint64_t kMaxHoldoverMaxerrorNs = 1'000'000'000'000ULL;

// "atomic_clock", "gnss", "ptp", "ntp", "hand_set", "other",
// "internal_oscillator" (case-insensitive), or a number 0..255, decimal or
// 0x-hex. The error names `key` and the value and lists the names.
Result<uint8_t> parse_time_source(std::string_view value, std::string_view key = "ptp4l.time_source");
// The name for a time source code, "" if it has none.
std::string_view time_source_name(uint8_t code);

// Checks every bound above; the error names the key (as "ptp4l.<key>").
Status validate(const Ptp4lOptions& o);

MappingOptions mapping_options(const Ptp4lOptions& o);
Hysteresis::Options hysteresis_options(const Ptp4lOptions& o);

}  // namespace vmc::ptp
