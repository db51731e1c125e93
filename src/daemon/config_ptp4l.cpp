#include "config_ptp4l.h"

#include <chrono>

namespace vmc {

ptp::Ptp4lOptions ptp4l_options(const Config& c) {
  ptp::Ptp4lOptions o;
  o.enabled = c.ptp4l;
  o.uds_address = c.ptp4l_uds_address;
  o.domain_number = static_cast<uint8_t>(c.ptp4l_domain_number);
  if (auto ts = ptp::parse_time_source(c.ptp4l_time_source)) o.time_source = *ts;
  o.locked_maxerror_ns = static_cast<uint64_t>(c.ptp4l_locked_maxerror_ns);
  o.holdover_maxerror_ns = static_cast<uint64_t>(c.ptp4l_holdover_maxerror_ns);
  o.default_utc_offset = static_cast<int16_t>(c.ptp4l_default_utc_offset);
  o.ptp_timescale = c.ptp4l_ptp_timescale;
  o.upgrade_hold_updates = static_cast<uint32_t>(c.ptp4l_upgrade_hold_updates);
  o.upgrade_hold = std::chrono::milliseconds(c.ptp4l_upgrade_hold_ms);
  o.check_interval = std::chrono::milliseconds(c.ptp4l_check_interval_ms);
  o.retry_interval = std::chrono::milliseconds(c.ptp4l_retry_interval_ms);
  o.reply_timeout = std::chrono::milliseconds(c.ptp4l_reply_timeout_ms);
  // Abstract sockets live in the network namespace: under PrivateNetwork
  // ptp4l's replies would never arrive. A path works everywhere.
  o.client_address = c.ptp4l_client_address.empty() ? c.client_dir + "/vmclockd-pmc.sock" : c.ptp4l_client_address;
  return o;
}

}  // namespace vmc
