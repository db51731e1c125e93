// vmc-chrony-cmd: sends one command to chronyd the way vmclockd does, for
// tests and for checking a deployment (`chronyc` needs chronyd's own
// socket directory; this binds in any directory given).
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <string>

#include "chrony_cmd.h"

int main(int argc, char** argv) {
  vmc::chrony::CmdOptions o;
  std::string what;
  int good = 4, total = 8;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--socket" && has) o.socket_path = argv[++i];
    else if (a == "--dir" && has) o.client_dir = argv[++i];
    else if (a == "--tries" && has) o.tries = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (a == "--interval-ms" && has) o.retry_interval = std::chrono::milliseconds(std::atoi(argv[++i]));
    else if (what.empty() && (a == "null" || a == "reset" || a == "makestep")) what = a;
    else if (what.empty() && a == "burst" && has && std::sscanf(argv[i + 1], "%d/%d", &good, &total) == 2) {
      what = a;
      ++i;
    } else {
      std::fputs("usage: vmc-chrony-cmd [--socket PATH] [--dir DIR] [--tries N] [--interval-ms MS]\n"
                 "         (null | reset | burst GOOD/TOTAL | makestep)\n", stderr);
      return 64;
    }
  }
  if (what.empty()) return 64;
  auto c = vmc::chrony::CmdClient::open(o);
  if (!c) {
    fmt::print(stderr, "vmc-chrony-cmd: {}\n", c.error().message);
    return static_cast<int>(c.error().code);
  }
  namespace cmd = vmc::chrony::cmd;
  cmd::Request r;
  r.command = what == "null" ? cmd::Command::null : what == "reset" ? cmd::Command::reset_sources
            : what == "makestep" ? cmd::Command::make_step : cmd::Command::burst;
  r.burst_good = good;
  r.burst_total = total;
  auto out = (*c)->request(r);
  if (!out) {
    fmt::print(stderr, "vmc-chrony-cmd: {}\n", out.error().message);
    return static_cast<int>(out.error().code);
  }
  uint16_t st = out->reply.status;
  fmt::print("{} {} {} {}\n", cmd::command_name(uint16_t(r.command)), st, cmd::status_name(st), out->tries);
  return st == 0 ? 0 : static_cast<int>(vmc::Errc::unavailable);
}
