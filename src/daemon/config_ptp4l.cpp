// SPDX-License-Identifier: Apache-2.0
// Ptp4lSection (file form) to ptp::Ptp4lOptions (working types).
#include "config_ptp4l.h"

#include <chrono>

namespace vmc {

std::optional<ptp::Ptp4lOptions> ptp4l_options(const Config& cfg) {
  if (!cfg.ptp4l) return std::nullopt;
  const Ptp4lSection& s = *cfg.ptp4l;
  ptp::Ptp4lOptions o;
  o.enabled = true;
  o.uds_address = s.uds_address;
  // The option table has checked the integers against ptp::bounds, which
  // fit these types, and the time source's spelling.
  o.domain_number = static_cast<uint8_t>(s.domain_number);
  if (auto ts = ptp::parse_time_source(s.time_source)) o.time_source = *ts;
  o.locked_maxerror_ns = static_cast<uint64_t>(s.locked_maxerror_ns);
  o.holdover_maxerror_ns = static_cast<uint64_t>(s.holdover_maxerror_ns);
  o.default_utc_offset = static_cast<int16_t>(s.default_utc_offset);
  o.ptp_timescale = s.ptp_timescale;
  o.upgrade_hold_updates = static_cast<uint32_t>(s.upgrade_hold_updates);
  o.upgrade_hold = std::chrono::milliseconds(s.upgrade_hold_ms);
  o.check_interval = std::chrono::milliseconds(s.check_interval_ms);
  o.retry_interval = std::chrono::milliseconds(s.retry_interval_ms);
  o.reply_timeout = std::chrono::milliseconds(s.reply_timeout_ms);
  // Abstract sockets live in the network namespace: under PrivateNetwork
  // ptp4l's replies would never arrive. A path works everywhere.
  o.client_address = s.client_address.empty() ? cfg.chrony.client_dir + "/vmclockd-pmc.sock" : s.client_address;
  return o;
}

}  // namespace vmc
