// SPDX-License-Identifier: Apache-2.0
// Commit-wait, as Spanner-style databases do it: a commit timestamp is
// only announced once true time is certainly past it, i.e. once the
// earliest possible time exceeds it. With vmclock bounds of a few
// microseconds, the wait is a few microseconds.
//   commit_wait [PAGE [SEGMENT]]
#include <chrono>
#include <cstdio>
#include <thread>

#include <vmclock/vmclock.hpp>

int main(int argc, char** argv) try {
  vmclock::clock clk(argc > 1 ? argv[1] : nullptr, argc > 2 ? argv[2] : nullptr);
  auto b = clk.now();
  if (!b.valid()) {
    std::fprintf(stderr, "no bound (%.*s): %.*s\n", static_cast<int>(vmclock::name(b.status).size()),
                 vmclock::name(b.status).data(), static_cast<int>(clk.why().size()), clk.why().data());
    return 69;
  }
  const auto commit_ts = b.latest;  // no clock anywhere can yet read more than this
  int polls = 0;
  auto start = std::chrono::steady_clock::now();
  for (; polls < 1'000'000; ++polls) {
    auto n = clk.now();
    if (n.valid() && n.earliest > commit_ts) break;
    if (n.status == vmclock::status::disrupted || n.status == vmclock::status::unknown) {
      std::fprintf(stderr, "clock %.*s while waiting: abort the commit\n",
                   static_cast<int>(vmclock::name(n.status).size()), vmclock::name(n.status).data());
      return 75;
    }
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
  auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
  std::printf("commit at %lld ns (+- %lld ns), waited %lld ns over %d reads\n",
              static_cast<long long>(commit_ts.time_since_epoch().count()),
              static_cast<long long>(b.half_width.count()), static_cast<long long>(waited.count()), polls + 1);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "commit_wait: %s\n", e.what());
  return 66;
}
