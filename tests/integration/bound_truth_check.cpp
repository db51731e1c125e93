// SPDX-License-Identifier: Apache-2.0
// Calls vmclock_now() in a tight loop for a while and checks every answer
// that claims a bound against the simulator's ground truth (sim_truth.h)
// from the latest line vmclock-sim printed (--json) for the answer's
// disruption marker. The answer must contain the truth of an instant of
// the call: with rt0/rt1 read just before/after it, earliest <= truth(rt1)
// and latest >= truth(rt0). With --fixed-truth the instants are the
// frozen line's at counters read just before/after: CLOCK_REALTIME is
// what a steering chronyd moves, so it cannot stand for the truth.
// Prints one JSON summary line; exit 1 on a miss.
// --pause-us sleeps between calls, to check for long without taking a core.
//   bound_truth_check --sim-log F --page P --segment S --seconds N [--published-only] [--pause-us U]
#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "counter.h"
#include "sim_truth.h"
#include "vmclock/vmclock.h"

namespace {

int64_t realtime_ns() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}
int64_t ns(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

}  // namespace

using vmc::test::SimLog;
using vmc::test::Truth;

int main(int argc, char** argv) {
  std::string sim_log, page, segment;
  double seconds = 10;
  uint32_t flags = 0;
  long pause_us = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "bound_truth_check: %s needs a value\n", a.c_str()); std::exit(64); }
      return argv[++i];
    };
    if (a == "--sim-log") sim_log = next();
    else if (a == "--page") page = next();
    else if (a == "--segment") segment = next();
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--published-only") flags |= VMCLOCK_OPEN_PUBLISHED_ONLY;
    else if (a == "--pause-us") pause_us = std::atol(next().c_str());
    else { std::fprintf(stderr, "bound_truth_check: unknown option %s\n", a.c_str()); return 64; }
  }
  vmclock_options o{};
  o.size = sizeof o;
  o.page_path = page.c_str();
  o.segment_path = segment.c_str();
  o.flags = flags;
  vmclock_t* c = nullptr;
  if (int rc = vmclock_open(&c, &o); rc != 0) {
    std::fprintf(stderr, "bound_truth_check: %s\n", vmclock_open_error());
    return 66;
  }
  SimLog log(sim_log);
  log.poll();
  const bool fixed_truth = log.line().has_value();
  std::map<std::string, uint64_t> by_status, by_source;
  uint64_t calls = 0, checked = 0, misses = 0, marker_changes = 0, marker_changes_disrupted = 0;
  long double worst_margin = 1e30L;  // smallest distance from the truth to an edge, ns
  uint64_t widest = 0, narrowest = UINT64_MAX;
  // Answers wider than 10 ms: an honest bound widens by however long the
  // caller was preempted inside the call, so on a busy machine the widest
  // one says more about the scheduler than about the bound.
  constexpr uint64_t kWideNs = 10'000'000;
  uint64_t wide = 0;
  std::optional<uint64_t> last_marker;
  nlohmann::json first_miss;
  const int64_t end = realtime_ns() + static_cast<int64_t>(seconds * 1e9);
  for (int64_t rt0 = realtime_ns(); rt0 < end; rt0 = realtime_ns()) {
    vmclock_bound b;
    const uint64_t c0 = vmc::read_counter();
    vmclock_now(c, &b, sizeof b);
    const uint64_t c1 = vmc::read_counter();
    const int64_t rt1 = realtime_ns();
    ++calls;
    if (pause_us > 0) {
      timespec d{pause_us / 1'000'000, pause_us % 1'000'000 * 1000};
      nanosleep(&d, nullptr);
    }
    ++by_status[vmclock_status_name(b.status)];
    ++by_source[vmclock_source_name(b.source)];
    if (b.source == VMCLOCK_SOURCE_PAGE || b.status == VMCLOCK_DISRUPTED) {
      // The page's marker as this call saw it.
      if (last_marker && *last_marker != b.disruption_marker) {
        ++marker_changes;
        if (b.status == VMCLOCK_DISRUPTED) ++marker_changes_disrupted;
      }
      last_marker = b.disruption_marker;
    }
    if (b.status != VMCLOCK_SYNCHRONIZED && b.status != VMCLOCK_FREERUNNING) continue;
    const Truth* t = log.find(b.disruption_marker);
    for (int wait = 0; !t && wait < 1000; ++wait) {  // the simulator prints just after it writes
      timespec d{0, 1'000'000};
      nanosleep(&d, nullptr);
      log.poll();
      t = log.find(b.disruption_marker);
    }
    if (!t) {
      std::fprintf(stderr, "bound_truth_check: no truth for marker %llu in %s\n",
                   static_cast<unsigned long long>(b.disruption_marker), sim_log.c_str());
      return 65;
    }
    ++checked;
    widest = std::max(widest, b.bound_ns);
    if (b.bound_ns >= kWideNs) ++wide;
    narrowest = std::min(narrowest, b.bound_ns);
    // 2 ns: the simulator prints its offset rounded to the nanosecond.
    const auto& line = log.line();
    const long double lo = t->at(line ? line->rt_at(c0) : rt0) - 2, hi = t->at(line ? line->rt_at(c1) : rt1) + 2;
    const long double margin = std::min(hi - static_cast<long double>(ns(b.earliest)),
                                         static_cast<long double>(ns(b.latest)) - lo);
    worst_margin = std::min(worst_margin, margin);
    if (margin < 0) {
      if (misses++ == 0)
        first_miss = {{"earliest_ns", ns(b.earliest)}, {"latest_ns", ns(b.latest)}, {"realtime_ns", ns(b.realtime)},
                      {"truth_lo_ns", static_cast<double>(lo)}, {"truth_hi_ns", static_cast<double>(hi)},
                      {"status", vmclock_status_name(b.status)}, {"source", vmclock_source_name(b.source)},
                      {"marker", b.disruption_marker}};
    }
  }
  vmclock_close(c);
  nlohmann::json out{{"calls", calls},
                     {"truth", fixed_truth ? "fixed line" : "CLOCK_REALTIME"},
                     {"checked", checked},
                     {"misses", misses},
                     {"by_status", by_status},
                     {"by_source", by_source},
                     {"marker_changes", marker_changes},
                     {"marker_changes_answered_disrupted", marker_changes_disrupted},
                     {"worst_margin_ns", checked ? static_cast<double>(worst_margin) : 0.0},
                     {"narrowest_bound_ns", checked ? narrowest : 0},
                     {"widest_bound_ns", widest},
                     {"wider_than_10ms", wide},
                     {"first_miss", first_miss}};
  std::printf("%s\n", out.dump().c_str());
  return misses ? 1 : 0;
}
