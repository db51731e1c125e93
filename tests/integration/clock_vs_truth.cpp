// SPDX-License-Identifier: Apache-2.0
// How far CLOCK_REALTIME is from the truth of a --fixed-truth simulator:
// every --every-ms, the narrowest of 8 (CLOCK_REALTIME, counter,
// CLOCK_REALTIME) brackets, the counter turned into the truth with the
// simulator's own line and offsets (sim_truth.h), never through the page.
// One JSON line per sample on stdout:
//   {"mono_ns", "err_ns" (CLOCK_REALTIME - truth, + = the clock is ahead),
//    "bracket_ns", "truth_offset_ns"}
// Exit 3 at once when |err| passes --abort-beyond-ns (the test's guard
// rail for a clock that chronyd is steering), 65 without a line to read.
//   clock_vs_truth --sim-log F --seconds N [--every-ms M] [--abort-beyond-ns N]
#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "counter.h"
#include "sim_truth.h"

namespace {

int64_t clock_ns(clockid_t id) {
  timespec t;
  clock_gettime(id, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sim_log;
  double seconds = 10, every_ms = 50, abort_beyond_ns = 1e6;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "clock_vs_truth: %s needs a value\n", a.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--sim-log") sim_log = next();
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--every-ms") every_ms = std::atof(next().c_str());
    else if (a == "--abort-beyond-ns") abort_beyond_ns = std::atof(next().c_str());
    else {
      std::fprintf(stderr, "clock_vs_truth: unknown option %s\n", a.c_str());
      return 64;
    }
  }
  if (!(seconds > 0) || !(every_ms >= 1) || !(abort_beyond_ns > 0)) {
    std::fprintf(stderr, "clock_vs_truth: --seconds, --every-ms (>= 1) and --abort-beyond-ns must be positive\n");
    return 64;
  }
  vmc::test::SimLog log(sim_log);
  log.poll();
  if (!log.line()) {
    std::fprintf(stderr, "clock_vs_truth: %s has no line_anchor_counter: was vmclock-sim run with --fixed-truth?\n",
                 sim_log.c_str());
    return 65;
  }
  const vmc::test::Line line = *log.line();
  const auto period = static_cast<int64_t>(every_ms * 1e6);
  const int64_t start = clock_ns(CLOCK_MONOTONIC);
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  int64_t next_at = start;
  for (int64_t n = 0; n < 10'000'000 && next_at < end; ++n, next_at += period) {
    timespec d{static_cast<time_t>(next_at / 1'000'000'000), static_cast<long>(next_at % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, nullptr);
    int64_t best_w = INT64_MAX, mid = 0;
    uint64_t best_c = 0;
    for (int k = 0; k < 8; ++k) {
      const int64_t t0 = clock_ns(CLOCK_REALTIME);
      const uint64_t c = vmc::read_counter();
      const int64_t t1 = clock_ns(CLOCK_REALTIME);
      if (t1 - t0 >= 0 && t1 - t0 < best_w) {
        best_w = t1 - t0;
        mid = t0 + (t1 - t0) / 2;
        best_c = c;
      }
    }
    if (best_w == INT64_MAX) continue;  // every bracket straddled a step of the clock
    log.poll();
    const long double rt_line = line.rt_at(best_c);
    const vmc::test::Truth* t = log.at(rt_line);
    if (!t) continue;  // before the first truth line (cannot happen after ready)
    const long double err = static_cast<long double>(mid) - t->at(rt_line);
    std::printf("{\"mono_ns\": %lld, \"err_ns\": %.1Lf, \"bracket_ns\": %lld, \"truth_offset_ns\": %lld}\n",
                static_cast<long long>(clock_ns(CLOCK_MONOTONIC)), err, static_cast<long long>(best_w),
                static_cast<long long>(t->offset_ns));
    std::fflush(stdout);
    if (std::fabs(err) > abort_beyond_ns) {
      std::fprintf(stderr, "clock_vs_truth: CLOCK_REALTIME is %.0Lf ns from the truth, beyond %.0f ns: stopping\n",
                   err, abort_beyond_ns);
      return 3;
    }
  }
  return 0;
}
