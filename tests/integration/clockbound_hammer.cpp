// SPDX-License-Identifier: Apache-2.0
// Rewrites a ClockBound segment through vmclockd's ClockBoundPublisher as
// fast as it can, for clockbound_client's torn-read check: every record's
// fields come from one counter k (marker k, bound k*1000 ns, drift k%1000
// ppb, Synchronized/FreeRunning and the disruption flag by k's parity), so
// a copy that mixes two records breaks the pattern.
//   clockbound_hammer --segment S --seconds T
// Prints {"writes":N} when done.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "clock.h"
#include "clockbound_publisher.h"

int main(int argc, char** argv) {
  std::string segment;
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--segment")) segment = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else { std::fprintf(stderr, "clockbound_hammer: unknown option %s\n", argv[i]); return 64; }
  }
  if (segment.empty()) { std::fprintf(stderr, "clockbound_hammer: --segment is required\n"); return 64; }
  auto pub = vmc::ClockBoundPublisher::open(segment, vmc::mono_now_ns());
  if (!pub) { std::fprintf(stderr, "clockbound_hammer: %s\n", pub.error().message.c_str()); return 66; }
  if ((*pub)->state() != "publishing") {
    std::fprintf(stderr, "clockbound_hammer: %s: give it a fresh path\n", segment.c_str());
    return 66;
  }
  const int64_t end = vmc::mono_now_ns() + static_cast<int64_t>(seconds * 1e9);
  uint64_t k = 1;
  for (; (k & 1023) || vmc::mono_now_ns() < end; ++k) {
    vmc::bound::Record r;
    r.status = k % 2 ? vmc::bound::Status::freerunning : vmc::bound::Status::synchronized;
    r.disruption_marker = k;
    r.as_of_ns = vmc::realtime_now().ns;
    r.bound_ns = k * 1000;
    r.max_drift_ppb = static_cast<uint32_t>(k % 1000);
    r.page_watched = (k & 1) != 0;
    r.stale_after_ns = 3'600'000'000'000;
    r.void_after_ns = 3'600'000'000'000;
    (*pub)->publish(r);
    if ((*pub)->refused()) { std::fprintf(stderr, "clockbound_hammer: refused\n"); return 1; }
  }
  std::printf("{\"writes\":%llu}\n", static_cast<unsigned long long>(k - 1));
  return 0;
}
