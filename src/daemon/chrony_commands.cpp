// SPDX-License-Identifier: Apache-2.0
#include "chrony_commands.h"

#include "logging.h"

namespace vmc {

chrony::CmdOptions chrony_cmd_options(const ChronySection& c) {
  chrony::CmdOptions o;
  o.socket_path = c.command_socket;
  o.client_dir = c.client_dir;
  o.tries = 2;
  o.log = [](std::string_view line) { log::prefixed(line); };
  return o;
}

Result<ChronyCommands::BurstOutcome> CmdClientCommands::burst(std::string& refused_status) {
  auto b = client_->burst_status();
  if (!b) return b.error();
  using chrony::cmd::StatusCode;
  if (*b == static_cast<uint16_t>(StatusCode::success)) return BurstOutcome::done;
  // chronyd has no NTP source to burst, only refclocks.
  if (*b == static_cast<uint16_t>(StatusCode::no_such_source)) return BurstOutcome::no_ntp_source;
  refused_status = std::string(chrony::cmd::status_name(*b));
  return BurstOutcome::refused;
}

}  // namespace vmc
