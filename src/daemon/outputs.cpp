// SPDX-License-Identifier: Apache-2.0
#include "outputs.h"

#include "chrony_commands.h"
#include "config_ptp4l.h"
#include "log_sink.h"
#include "logging.h"

namespace vmc {
namespace {

LogFn daemon_log() {
  return [](std::string_view line) { log::prefixed(line); };
}

Result<std::vector<std::unique_ptr<chrony::SampleSink>>> build_sinks(const ChronySection& c) {
  std::vector<std::unique_ptr<chrony::SampleSink>> sinks;
  if (c.shm_unit >= 0) {
    chrony::ShmOptions o;
    o.log = daemon_log();
    auto s = chrony::make_shm_sink(static_cast<int>(c.shm_unit), o);
    if (!s) return s.error();
    sinks.push_back(std::move(*s));
  }
  if (!c.sock.empty()) {
    chrony::SockOptions o;
    o.log = daemon_log();
    auto s = chrony::make_sock_sink(c.sock, o);
    if (!s) return s.error();
    sinks.push_back(std::move(*s));
  }
  return sinks;
}

Result<std::unique_ptr<ChronyCommands>> build_commands(const ChronySection& c) {
  if (!c.reset_on_disruption || c.command_socket.empty()) return std::unique_ptr<ChronyCommands>();
  auto cl = chrony::CmdClient::open(chrony_cmd_options(c));
  if (!cl) return cl.error();
  return std::unique_ptr<ChronyCommands>(std::make_unique<CmdClientCommands>(std::move(*cl)));
}

Result<std::unique_ptr<Ptp4lFeed>> build_ptp(const Config& cfg) {
  if (!cfg.ptp4l) return std::unique_ptr<Ptp4lFeed>();
  return Ptp4lFeed::create(cfg);
}

}  // namespace

void Outputs::withdraw() const {
  for (const auto& s : sinks) s->withdraw();
}

Result<Outputs> build_outputs(const Config& neu, const Config* old, Outputs& current) {
  const bool chrony_changed = !old || old->chrony != neu.chrony;
  const bool ptp_changed = !old || ptp4l_options(*old) != ptp4l_options(neu);
  Outputs next;
  if (chrony_changed) {
    auto s = build_sinks(neu.chrony);
    if (!s) return s.error();
    next.sinks = std::move(*s);
    auto c = build_commands(neu.chrony);
    if (!c) return c.error();
    next.commands = std::move(*c);
  }
  if (ptp_changed) {
    auto p = build_ptp(neu);
    if (!p) return p.error();
    next.ptp = std::move(*p);
  }
  // Everything was built: from here on nothing can fail.
  if (chrony_changed) {
    current.withdraw();
  } else {
    next.sinks = std::move(current.sinks);
    next.commands = std::move(current.commands);
  }
  if (!ptp_changed) next.ptp = std::move(current.ptp);
  return next;
}

}  // namespace vmc
