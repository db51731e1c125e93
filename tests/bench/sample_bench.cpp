// SPDX-License-Identifier: Apache-2.0
// Cost of cross-timestamps, against one clock_gettime(CLOCK_REALTIME) in
// the same run (tests/bench/run turns the medians into ratios).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "bench_page.h"
#include "page_json.h"
#include "sampler.h"

namespace {

using namespace vmc;

double g_hz = 0;
double hz() {
  if (g_hz == 0) g_hz = bench::counter_hz();
  return g_hz;
}

void BM_clock_gettime_realtime(benchmark::State& st) {
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_clock_gettime_realtime);

void BM_read_counter(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(read_counter());
}
BENCHMARK(BM_read_counter);

// The floor of any cross-timestamp: the bracket alone (clock_gettime,
// counter read, clock_gettime), nothing read from the page.
void BM_sample_floor(benchmark::State& st) {
  for (auto _ : st) {
    SysTime before = realtime_now();
    uint64_t c = read_counter();
    SysTime after = realtime_now();
    benchmark::DoNotOptimize(before);
    benchmark::DoNotOptimize(c);
    benchmark::DoNotOptimize(after);
  }
}
BENCHMARK(BM_sample_floor);

// One cross-timestamp through the Sampler (src/core/sampler.h), the page
// unchanged between samples: seq_count, the bracket, seq_count, and the
// exact arithmetic on the calibration cached for that seq_count. This is
// the figure tests/bench/run reports as "one sample".
void BM_sample_one(benchmark::State& st) {
  bench::MemoryPage mp(bench::calibrated_page(hz()));
  Sampler sampler(mp.src);
  Sample s;
  for (auto _ : st) {
    auto r = sampler.sample(s);
    if (!r || !*r) { st.SkipWithError(r ? sampler.why_not().c_str() : r.error().message.c_str()); break; }
    benchmark::DoNotOptimize(s.offset);
    benchmark::DoNotOptimize(s.maxerror_ns);
  }
  st.counters["slow_reads"] = static_cast<double>(sampler.slow_reads());
}
BENCHMARK(BM_sample_one);

// One cross-timestamp the uncached way: seqlock copy with the bracketed
// counter read, then decode, validity, exact time and the sample.
void BM_sample_one_snapshot(benchmark::State& st) {
  bench::MemoryPage mp(bench::calibrated_page(hz()));
  for (auto _ : st) {
    auto s = take_snapshot(mp.src);
    if (!s) { st.SkipWithError(s.error().message.c_str()); break; }
    auto o = sample_from(*s);
    if (!o.sample) { st.SkipWithError(o.why_not.c_str()); break; }
    benchmark::DoNotOptimize(o.sample->offset);
  }
}
BENCHMARK(BM_sample_one_snapshot);

// The Sampler when every sample finds a new seq_count (a host updating
// faster than we sample): the full path plus rebuilding the cache.
void BM_sample_one_new_seq(benchmark::State& st) {
  bench::MemoryPage mp(bench::calibrated_page(hz()));
  Sampler sampler(mp.src);
  Sample s;
  for (auto _ : st) {
    sampler.invalidate();
    auto r = sampler.sample(s);
    if (!r || !*r) { st.SkipWithError(r ? sampler.why_not().c_str() : r.error().message.c_str()); break; }
    benchmark::DoNotOptimize(s.offset);
  }
}
BENCHMARK(BM_sample_one_new_seq);

// What the daemon does per sample: the narrowest of 8.
void BM_sample_best_of_8(benchmark::State& st) {
  bench::MemoryPage mp(bench::calibrated_page(hz()));
  for (auto _ : st) {
    auto o = best_sample(mp.src, 8);
    if (!o || !o->sample) { st.SkipWithError("no sample"); break; }
    benchmark::DoNotOptimize(o->sample->offset);
  }
}
BENCHMARK(BM_sample_best_of_8);

// The same through the Sampler's best(): one copy for the first attempt
// at most, then bracket-only readings.
void BM_sample_best_of_8_cached(benchmark::State& st) {
  bench::MemoryPage mp(bench::calibrated_page(hz()));
  Sampler sampler(mp.src);
  for (auto _ : st) {
    auto o = sampler.best(8);
    if (!o || !o->sample) { st.SkipWithError("no sample"); break; }
    benchmark::DoNotOptimize(o->sample->offset);
  }
}
BENCHMARK(BM_sample_best_of_8_cached);

// `vmclockctl --page FILE now` without the process start: open the page
// file, best of 8, format the answer.
void BM_now_path(benchmark::State& st) {
  char path[] = "/tmp/vmc-bench-page.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, 4096) != 0) { st.SkipWithError("mkstemp"); return; }
  {
    alignas(8) uint8_t buf[4096] = {};
    PageWriter w(buf, sizeof buf);
    w.publish(bench::calibrated_page(hz()));
    if (pwrite(fd, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) { st.SkipWithError("pwrite"); return; }
  }
  close(fd);
  for (auto _ : st) {
    auto src = open_page_source(path);
    if (!src) { st.SkipWithError(src.error().message.c_str()); break; }
    auto o = best_sample(**src, 8);
    if (!o || !o->sample) { st.SkipWithError("no sample"); break; }
    const Sample& s = *o->sample;
    std::string out = fmt::format("reference {}\nsystem    {}\noffset    {:+} ns (reference - system)\nmaxerror  {} ns "
                                  "(bracket {} ns)\n",
                                  format_utc(s.reference), format_utc(s.system), s.offset.count, s.maxerror_ns,
                                  s.bracket_ns);
    benchmark::DoNotOptimize(out.data());
  }
  unlink(path);
}
BENCHMARK(BM_now_path);

}  // namespace

BENCHMARK_MAIN();
