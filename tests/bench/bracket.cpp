// SPDX-License-Identifier: Apache-2.0
// Bracket width (the two clock_gettime calls around the counter read)
// over N snapshots of a memory page, and of N/8 best-of-8 samples.
// Prints one JSON object: min, median, p99, p99.99, max in ns.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "bench_page.h"

using namespace vmc;

static std::string stats(std::vector<int64_t>& v) {
  std::sort(v.begin(), v.end());
  auto q = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))]; };
  return fmt::format(R"({{"n": {}, "min": {}, "median": {}, "p99": {}, "p99_99": {}, "max": {}}})", v.size(), v.front(),
                     q(0.5), q(0.99), q(0.9999), v.back());
}

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  bench::MemoryPage mp(bench::calibrated_page(bench::counter_hz()));
  std::vector<int64_t> one, best;
  one.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto s = take_snapshot(mp.src);
    if (!s) {
      fmt::print(stderr, "bench_bracket: {}\n", s.error().message);
      return 1;
    }
    one.push_back(s->bracket_ns());
  }
  for (size_t i = 0; i < n / 8; ++i) {
    auto o = best_sample(mp.src, 8);
    if (!o || !o->sample) {
      fmt::print(stderr, "bench_bracket: no sample\n");
      return 1;
    }
    best.push_back(o->sample->bracket_ns);
  }
  fmt::print("{{\"single\": {}, \"best_of_8\": {}}}\n", stats(one), stats(best));
  return 0;
}
