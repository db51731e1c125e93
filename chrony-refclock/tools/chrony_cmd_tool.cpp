// SPDX-License-Identifier: Apache-2.0
// vmc-chrony-cmd: sends one command to chronyd the way vmclockd does, for
// tests and for checking a deployment (`chronyc` needs chronyd's own
// socket directory; this binds in any directory given). `tracking` prints
// chronyd's view of the clock, for people or (--csv) in the exact format
// of `chronyc -c tracking`, so the two can be compared.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <string>

#include "chrony_cmd.h"

namespace {

namespace cmd = vmc::chrony::cmd;

// chronyc's name column: the refid's text for a refclock (no address),
// the address otherwise (chronyc -c never resolves names).
std::string ref_name(const cmd::Tracking& t) {
  return t.ip_addr.family == cmd::IpAddr::unspec ? cmd::refid_name(t.ref_id) : cmd::to_string(t.ip_addr);
}

void print_csv(const cmd::Tracking& t) {
  // client.c process_cmd_tracking in csv_mode: %R, %s, %u, %T as sec.nsec,
  // then the doubles with the precision of their human format and no sign.
  fmt::print("{:08X},{},{},{}.{:09},{:.9f},{:.9f},{:.9f},{:.3f},{:.3f},{:.3f},{:.9f},{:.9f},{:.1f},{}\n", t.ref_id,
             ref_name(t), t.stratum, t.ref_time_sec, t.ref_time_nsec, t.current_correction, t.last_offset,
             t.rms_offset, t.freq_ppm, t.resid_freq_ppm, t.skew_ppm, t.root_delay, t.root_dispersion,
             t.last_update_interval, cmd::leap_name(t.leap_status));
}

void print_human(const cmd::Tracking& t) {
  char date[64] = "?";
  time_t sec = static_cast<time_t>(t.ref_time_sec);
  struct tm tm;
  if (gmtime_r(&sec, &tm)) strftime(date, sizeof date, "%a %b %d %T %Y", &tm);
  // Signed values, with chronyc's reading of the sign spelled out.
  fmt::print("Reference ID    : {:08X} ({})\n", t.ref_id, ref_name(t));
  fmt::print("Address         : {}\n", cmd::to_string(t.ip_addr));
  fmt::print("Stratum         : {}\n", t.stratum);
  fmt::print("Ref time (UTC)  : {}.{:09} ({})\n", t.ref_time_sec, t.ref_time_nsec, date);
  fmt::print("System time     : {:+.9f} seconds ({} of NTP time)\n", t.current_correction,
             t.current_correction > 0 ? "slow" : "fast");
  fmt::print("Last offset     : {:+.9f} seconds\n", t.last_offset);
  fmt::print("RMS offset      : {:.9f} seconds\n", t.rms_offset);
  fmt::print("Frequency       : {:+.3f} ppm ({})\n", t.freq_ppm, t.freq_ppm > 0 ? "fast" : "slow");
  fmt::print("Residual freq   : {:+.3f} ppm\n", t.resid_freq_ppm);
  fmt::print("Skew            : {:.3f} ppm\n", t.skew_ppm);
  fmt::print("Root delay      : {:.9f} seconds\n", t.root_delay);
  fmt::print("Root dispersion : {:.9f} seconds\n", t.root_dispersion);
  fmt::print("Update interval : {:.1f} seconds\n", t.last_update_interval);
  fmt::print("Leap status     : {}\n", cmd::leap_name(t.leap_status));
}

}  // namespace

int main(int argc, char** argv) {
  vmc::chrony::CmdOptions o;
  std::string what;
  int good = 4, total = 8;
  bool csv = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--socket" && has) o.socket_path = argv[++i];
    else if (a == "--dir" && has) o.client_dir = argv[++i];
    else if (a == "--tries" && has) o.tries = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (a == "--interval-ms" && has) o.retry_interval = std::chrono::milliseconds(std::atoi(argv[++i]));
    else if (a == "--csv") csv = true;
    else if (what.empty() && (a == "null" || a == "reset" || a == "makestep" || a == "tracking")) what = a;
    else if (what.empty() && a == "burst" && has && std::sscanf(argv[i + 1], "%d/%d", &good, &total) == 2) {
      what = a;
      ++i;
    } else {
      std::fputs("usage: vmc-chrony-cmd [--socket PATH] [--dir DIR] [--tries N] [--interval-ms MS]\n"
                 "         (null | reset | burst GOOD/TOTAL | makestep | [--csv] tracking)\n", stderr);
      return 64;
    }
  }
  if (what.empty()) return 64;
  auto c = vmc::chrony::CmdClient::open(o);
  if (!c) {
    fmt::print(stderr, "vmc-chrony-cmd: {}\n", c.error().message);
    return static_cast<int>(c.error().code);
  }
  if (what == "tracking") {
    auto t = (*c)->tracking();
    if (!t) {
      fmt::print(stderr, "vmc-chrony-cmd: {}\n", t.error().message);
      return static_cast<int>(t.error().code);
    }
    if (csv) print_csv(*t);
    else print_human(*t);
    return 0;
  }
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
