// SPDX-License-Identifier: Apache-2.0
// vmc-sink-feed: publishes synthetic samples (system time now, reference =
// now + offset) through the SHM or SOCK sink, for tests and for tuning the
// refclock options against a real chronyd. Optionally steps the offset and
// frequency part-way and sends RESET_SOURCES, as the daemon does after a
// disruption. Runs for a bounded time.
#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <optional>
#include <string>

#include "chrony_cmd.h"
#include "clock.h"
#include "sink.h"

namespace {

void usage() {
  std::fputs(
      "usage: vmc-sink-feed (--shm UNIT | --sock PATH) --seconds S [--rate HZ] [--offset-us X]\n"
      "         [--maxerror-ns N] [--step-at S --step-us X --step-ppm Y]\n"
      "         [--reset-socket PATH --reset-dir DIR [--burst]] [--verbose]\n",
      stderr);
}

bool parse_double(const char* s, double lo, double hi, double& out) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (!end || *end || !std::isfinite(v) || v < lo || v > hi) return false;
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<int> shm_unit;
  std::string sock_path, reset_socket, reset_dir;
  double seconds = -1, rate = 4, offset_us = 0, maxerror_ns = 100, step_at = -1, step_us = 0, step_ppm = 0;
  bool burst = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) { usage(); std::exit(64); }
      return argv[++i];
    };
    auto num = [&](double lo, double hi, double& out) {
      const char* v = val();
      if (!parse_double(v, lo, hi, out)) {
        fmt::print(stderr, "vmc-sink-feed: {} {}: want a number in [{}, {}]\n", a, v, lo, hi);
        std::exit(64);
      }
    };
    double d = 0;
    if (a == "--shm") { num(0, 1e6, d); shm_unit = static_cast<int>(d); }
    else if (a == "--sock") sock_path = val();
    else if (a == "--seconds") num(0, 3600, seconds);
    else if (a == "--rate") num(0.1, 100, rate);
    else if (a == "--offset-us") num(-1e6, 1e6, offset_us);
    else if (a == "--maxerror-ns") num(0, 1e12, maxerror_ns);
    else if (a == "--step-at") num(0, 3600, step_at);
    else if (a == "--step-us") num(-1e6, 1e6, step_us);
    else if (a == "--step-ppm") num(-500, 500, step_ppm);
    else if (a == "--reset-socket") reset_socket = val();
    else if (a == "--reset-dir") reset_dir = val();
    else if (a == "--burst") burst = true;
    else if (a == "--verbose") verbose = true;
    else { usage(); return 64; }
  }
  if (seconds < 0 || shm_unit.has_value() == !sock_path.empty()) { usage(); return 64; }

  vmc::LogFn log = [](std::string_view l) { fmt::print(stderr, "vmc-sink-feed: {}\n", l); };
  auto sink = shm_unit ? vmc::chrony::make_shm_sink(*shm_unit, {.create = true, .perm = 0600, .log = log})
                       : vmc::chrony::make_sock_sink(sock_path, {.log = log});
  if (!sink) {
    fmt::print(stderr, "vmc-sink-feed: {}\n", sink.error().message);
    return static_cast<int>(sink.error().code);
  }
  std::unique_ptr<vmc::chrony::CmdClient> cmd;
  if (!reset_socket.empty()) {
    auto c = vmc::chrony::CmdClient::open({.socket_path = reset_socket,
                                           .client_dir = reset_dir.empty() ? "/tmp" : reset_dir, .log = log});
    if (!c) {
      fmt::print(stderr, "vmc-sink-feed: {}\n", c.error().message);
      return static_cast<int>(c.error().code);
    }
    cmd = std::move(*c);
  }

  const int64_t period = static_cast<int64_t>(1e9 / rate);
  const int64_t start = vmc::mono_now_ns();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  const int64_t step_ns = step_at >= 0 ? start + static_cast<int64_t>(step_at * 1e9) : INT64_MAX;
  bool stepped = false;
  uint64_t n = 0, errors = 0;
  std::string last_err;
  for (int64_t next = start; next < end; next += period) {
    timespec ts{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {}
    int64_t now = vmc::mono_now_ns();
    double off_ns = offset_us * 1e3;
    if (now >= step_ns) {
      off_ns += step_us * 1e3 + step_ppm * 1e-6 * static_cast<double>(now - step_ns);
      if (!stepped) {
        stepped = true;
        (*sink)->withdraw();
        fmt::print("step {:.6f}\n", static_cast<double>(vmc::realtime_now().ns) * 1e-9);
        std::fflush(stdout);
        if (cmd) {
          auto st = cmd->reset_sources();
          if (st && burst) st = cmd->burst(4, 8);
          fmt::print(stderr, "vmc-sink-feed: reset: {}\n", st ? "ok" : st.error().message);
        }
      }
    }
    vmc::Sample s;
    s.system = vmc::realtime_now();
    s.offset = vmc::Nanoseconds{static_cast<int64_t>(std::llround(off_ns))};
    int64_t ref = s.system.ns + s.offset.count;
    s.reference = vmc::Time64{vmc::Seconds{ref / vmc::kNsPerSec},
                              vmc::Frac64::from_ns(static_cast<uint32_t>(ref % vmc::kNsPerSec))};
    s.maxerror_ns = static_cast<uint64_t>(maxerror_ns);
    auto st = (*sink)->publish(s);
    ++n;
    if (!st) {
      ++errors;
      if (verbose && st.error().message != last_err) fmt::print(stderr, "vmc-sink-feed: {}\n", st.error().message);
      last_err = st.error().message;
    }
  }
  auto h = (*sink)->health();
  fmt::print(stderr, "vmc-sink-feed: {} samples, {} published, {} failed ({})\n", n, h.published, h.failed, h.state);
  return 0;
}
