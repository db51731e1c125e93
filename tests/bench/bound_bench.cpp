// SPDX-License-Identifier: Apache-2.0
// Cost of vmclock_now() against one clock_gettime(CLOCK_REALTIME) in the
// same run (tests/bench/run turns the medians into ratios; the targets are
// <= 1.8x direct and <= 1.5x published, AWS ClockBound's client is about 4x).
//
// Three shapes of the library, each through its public C API on real files
// mapped the way an application maps them:
//  - direct: a page with time data (counter_id = this CPU's counter);
//  - published: no page, vmclockd's bound segment only;
//  - published_with_page: a disruption-only page (counter_id INVALID, as
//    EC2 and Firecracker publish it) plus the segment: every call also
//    checks the page's marker against the segment's.
// Every iteration checks the answer (status, source, a sane bound) and
// stops with SkipWithError otherwise: a broken setup must not produce a
// fast, meaningless figure.
//
// BM_profile_* are not figures: they rebuild parts of the direct hot path
// from the same core pieces to show where its time goes.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_page.h"
#include "bound_segment.h"
#include "seqlock.h"
#include "time_math.h"
#include "vmclock/vmclock.h"

namespace {

using namespace vmc;

double g_hz = 0;
double hz() {
  if (g_hz == 0) g_hz = bench::counter_hz();
  return g_hz;
}

// ------------------------------------------------------------ the files
// A temp dir with a page file and a segment file, both mapped MAP_SHARED
// read-write here; libvmclock maps them read-only, as it would the device
// and /run/vmclockd/bound.
struct Files {
  std::string dir, page_path, segment_path;
  volatile uint8_t* page = nullptr;
  bound::segment* segment = nullptr;
  PageWriter* writer = nullptr;
  uint32_t segment_seq = 0;
  bool ok = false;
  std::string error;

  Files() {
    char tmpl[] = "/tmp/vmc-bench-bound.XXXXXX";
    if (!mkdtemp(tmpl)) { error = "mkdtemp"; return; }
    dir = tmpl;
    page_path = dir + "/page";
    segment_path = dir + "/bound";
    void* p = map_file(page_path, abi::kPageBytes);
    void* s = map_file(segment_path, bound::kFileBytes);
    if (!p || !s) return;
    page = static_cast<volatile uint8_t*>(p);
    segment = static_cast<bound::segment*>(s);
    writer = new PageWriter(page, abi::kPageBytes);
    ok = true;
  }
  ~Files() {
    if (!dir.empty()) {
      unlink(page_path.c_str());
      unlink(segment_path.c_str());
      rmdir(dir.c_str());
    }
  }

  void* map_file(const std::string& path, size_t len) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(len)) != 0) {
      error = path + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      return nullptr;
    }
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) { error = path + ": mmap: " + std::strerror(errno); return nullptr; }
    return m;
  }

  // A page with time data, anchored now: what the direct mode reads.
  void publish_timed_page() { writer->publish(bench::calibrated_page(hz())); }

  // The disruption-only page EC2 and Firecracker publish: no counter, no
  // time, only the marker and the generation counter.
  void publish_disruption_only_page(uint64_t marker, uint64_t generation) {
    Page p;
    p.counter_id = abi::CounterId::invalid;
    p.clock_status = abi::ClockStatus::unknown;
    p.flags = abi::Flags{}.with(abi::Flag::vm_gen_counter_present);
    p.disruption_marker = marker;
    p.vm_generation_counter = generation;
    writer->publish(p);
  }

  // vmclockd's segment, written under its seqlock: synchronized as of now.
  void publish_segment(uint64_t marker, std::optional<uint64_t> generation) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bound::segment v{};
    v.magic = bound::kMagic;
    v.version = bound::kVersion;
    v.size = sizeof(bound::segment);
    v.status = static_cast<uint32_t>(bound::Status::synchronized);
    v.disruption_marker = marker;
    if (generation) {
      v.vm_generation = *generation;
      v.flags |= bound::kFlagGeneration;
    }
    v.as_of_ns = ts.tv_sec * kNsPerSec + ts.tv_nsec;
    v.bound_ns = 10'000;
    v.max_drift_ppb = 15'000;
    v.stale_after_ns = 1'000'000'000;
    v.void_after_ns = 300'000'000'000;
    auto* seqp = &segment->seq;
    segment_seq |= 1u;
    __atomic_store_n(seqp, segment_seq, __ATOMIC_RELAXED);
    std::atomic_thread_fence(std::memory_order_release);
    auto* dst = reinterpret_cast<uint64_t*>(segment);
    const auto* src = reinterpret_cast<const uint64_t*>(&v);
    for (size_t i = 0; i < sizeof v / 8; ++i) {
      if (i == offsetof(bound::segment, seq) / 8) {
        // Keep the odd seq in place; write the other half of the word.
        __atomic_store_n(reinterpret_cast<uint32_t*>(&dst[i]) + 1, v.status, __ATOMIC_RELAXED);
        continue;
      }
      __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
    }
    segment_seq += 1;
    __atomic_store_n(seqp, segment_seq, __ATOMIC_RELEASE);
  }
};

Files& files() {
  static Files f;
  return f;
}

// ------------------------------------------------------------ baseline
void BM_clock_gettime(benchmark::State& st) {
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_clock_gettime);

// ------------------------------------------------------------ vmclock_now()
struct Expect {
  int32_t source;
  uint64_t min_bound_ns, max_bound_ns;
  bool allow_freerunning;  // the segment goes stale 1 s after as_of
};

// Opens the files as configured, then calls vmclock_now() in the loop and
// checks every answer.
void run_now(benchmark::State& st, const char* page_path, const char* segment_path, const Expect& want) {
  vmclock_options opts{};
  opts.size = sizeof opts;
  opts.page_path = page_path;
  opts.segment_path = segment_path;
  vmclock_t* c = nullptr;
  if (int rc = vmclock_open(&c, &opts); rc != 0) {
    st.SkipWithError((std::string("vmclock_open: ") + vmclock_open_error()).c_str());
    return;
  }
  vmclock_bound b{};
  uint64_t freerunning = 0;
  std::string err;
  for (auto _ : st) {
    int rc = vmclock_now(c, &b, sizeof b);
    benchmark::DoNotOptimize(b);
    const bool status_ok = b.status == VMCLOCK_SYNCHRONIZED || (want.allow_freerunning && b.status == VMCLOCK_FREERUNNING);
    if (rc != 0 || !status_ok || b.source != want.source || b.bound_ns < want.min_bound_ns ||
        b.bound_ns > want.max_bound_ns) [[unlikely]] {
      char buf[320];
      std::snprintf(buf, sizeof buf, "vmclock_now: rc %d, status %s, source %s (want %s), bound %llu ns: %s", rc,
                    vmclock_status_name(b.status), vmclock_source_name(b.source), vmclock_source_name(want.source),
                    static_cast<unsigned long long>(b.bound_ns), vmclock_why(c));
      err = buf;
      break;
    }
    freerunning += b.status == VMCLOCK_FREERUNNING;
  }
  vmclock_close(c);
  if (!err.empty()) { st.SkipWithError(err.c_str()); return; }
  st.counters["freerunning"] = benchmark::Counter(static_cast<double>(freerunning), benchmark::Counter::kAvgIterations);
}

// The page read directly: one clock_gettime, seq_count, rdtsc, seq_count,
// the bound from the cached calibration. Offset 37.5 us + maxerror 1 us (+ growth).
void BM_vmclock_now_direct(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  f.publish_timed_page();
  run_now(st, f.page_path.c_str(), "", {VMCLOCK_SOURCE_PAGE, 1'000, 100'000'000, false});
}
BENCHMARK(BM_vmclock_now_direct);

// vmclockd's segment only: one clock_gettime, a load of the segment's seq
// (its record is cached by it), the growth since as_of.
void BM_vmclock_now_published(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  f.publish_segment(0, std::nullopt);
  run_now(st, "", f.segment_path.c_str(), {VMCLOCK_SOURCE_DAEMON, 10'000, 1'000'000, true});
}
BENCHMARK(BM_vmclock_now_published);

// EC2 / Firecracker: a disruption-only page and the segment, computed under
// the page's marker and generation; each call checks the page's marker.
void BM_vmclock_now_published_with_page(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  f.publish_disruption_only_page(7, 3);
  f.publish_segment(7, 3);
  run_now(st, f.page_path.c_str(), f.segment_path.c_str(), {VMCLOCK_SOURCE_DAEMON, 10'000, 1'000'000, true});
}
BENCHMARK(BM_vmclock_now_published_with_page);

// ------------------------------------------------------------ profile
// Parts of the direct hot path, rebuilt outside the library. Not figures.

void BM_profile_rdtscp(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(read_counter());
}
BENCHMARK(BM_profile_rdtscp);

// clock_gettime + the counter read: the floor of any direct design that
// reads the counter itself.
void BM_profile_gettime_rdtscp(benchmark::State& st) {
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t c = read_counter();
    benchmark::DoNotOptimize(ts);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_profile_gettime_rdtscp);

#if defined(__x86_64__)
// Same with lfence; rdtsc instead of rdtscp (what the vDSO itself uses).
void BM_profile_gettime_lfence_rdtsc(benchmark::State& st) {
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    _mm_lfence();
    uint64_t c = __rdtsc();
    benchmark::DoNotOptimize(ts);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_profile_gettime_lfence_rdtsc);

// Plain rdtsc, unordered: the cheapest counter read there is.
void BM_profile_gettime_rdtsc(benchmark::State& st) {
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t c = __rdtsc();
    benchmark::DoNotOptimize(ts);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_profile_gettime_rdtsc);
#endif

// + the seqlock loads around the counter read on the mapped page file.
void BM_profile_gettime_seq_rdtscp(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  f.publish_timed_page();
  const uint32_t want = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t s1 = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
    uint64_t c = read_counter();
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t s2 = detail::load_seq(f.page, __ATOMIC_RELAXED);
    if (s1 != want || s2 != s1) [[unlikely]] { st.SkipWithError("seq changed"); break; }
    benchmark::DoNotOptimize(ts);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_profile_gettime_seq_rdtscp);

// + the library's math as it is: time_at (Result<TimeAt>, maxerror and
// esterror), diff_ns, the bound, earliest/latest.
void BM_profile_gettime_seq_rdtscp_time_at(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  const Page page = bench::calibrated_page(hz());
  f.writer->publish(page);
  const uint32_t want = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t s1 = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
    uint64_t c = read_counter();
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t s2 = detail::load_seq(f.page, __ATOMIC_RELAXED);
    if (s1 != want || s2 != s1) [[unlikely]] { st.SkipWithError("seq changed"); break; }
    const int64_t rt = ts.tv_sec * kNsPerSec + ts.tv_nsec;
    auto t = time_at(page, c);
    if (!t || !t->maxerror_ns) [[unlikely]] { st.SkipWithError("time_at"); break; }
    auto off = diff_ns(t->time, SysTime{rt});
    if (!off) [[unlikely]] { st.SkipWithError("diff_ns"); break; }
    uint64_t mag = off->count < 0 ? 0 - static_cast<uint64_t>(off->count) : static_cast<uint64_t>(off->count);
    int64_t b = static_cast<int64_t>(mag + *t->maxerror_ns + 1);
    timespec e{(rt - b) / kNsPerSec, (rt - b) % kNsPerSec}, l{(rt + b) / kNsPerSec, (rt + b) % kNsPerSec};
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(l);
  }
}
BENCHMARK(BM_profile_gettime_seq_rdtscp_time_at);

// The same answer with the calibration pre-digested at refresh time: one
// 64x64->128 multiply for the time, one for the maxerror growth, no
// Result/optional, no esterror. Checked against time_at at the start.
struct Lean {
  __extension__ using u128 = unsigned __int128;
  u128 base;  // time_sec.time_frac_sec, 64.64
  uint64_t counter_value, period, rate, maxerror_ns;
  uint8_t shift;
  explicit Lean(const Page& p)
      : base(static_cast<u128>(p.time_sec) << 64 | p.time_frac_sec), counter_value(p.counter_value),
        period(p.counter_period_frac_sec), rate(p.counter_period_maxerror_rate_frac_sec),
        maxerror_ns(p.time_maxerror_nanosec), shift(p.counter_period_shift) {}
  // Bound around rt (ns) at counter c; assumes shift < 64 and a sane delta
  // (the real thing would fall back to time_at outside that range).
  uint64_t bound(uint64_t c, int64_t rt) const {
    const int64_t d = static_cast<int64_t>(c - counter_value);
    const uint64_t ad = d < 0 ? 0 - static_cast<uint64_t>(d) : static_cast<uint64_t>(d);
    const u128 step = (static_cast<u128>(ad) * period) >> shift;
    const u128 t = d < 0 ? base - step : base + step;
    const int64_t sec = static_cast<int64_t>(t >> 64);
    const uint64_t frac_ns = static_cast<uint64_t>(
        (static_cast<u128>(static_cast<uint64_t>(t)) * 1'000'000'000u + (static_cast<u128>(1) << 63)) >> 64);
    const int64_t off = (sec * kNsPerSec + static_cast<int64_t>(frac_ns)) - rt;
    const u128 g = ((static_cast<u128>(ad) * rate) + ((static_cast<u128>(1) << shift) - 1)) >> shift;  // 64.64 s
    const uint64_t g_ns = static_cast<uint64_t>(g >> 64) * 1'000'000'000u +
                          static_cast<uint64_t>((static_cast<u128>(static_cast<uint64_t>(g)) * 1'000'000'000u +
                                                 ~static_cast<uint64_t>(0)) >> 64);
    const uint64_t mag = off < 0 ? 0 - static_cast<uint64_t>(off) : static_cast<uint64_t>(off);
    return mag + maxerror_ns + g_ns + 1;
  }
};

void BM_profile_gettime_seq_rdtscp_lean_math(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  const Page page = bench::calibrated_page(hz());
  f.writer->publish(page);
  const Lean lean(page);
  {
    // The lean math must give the library's answer (to the nanosecond).
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t rt = ts.tv_sec * kNsPerSec + ts.tv_nsec;
    const uint64_t c = read_counter();
    auto t = time_at(page, c);
    auto off = diff_ns(t->time, SysTime{rt});
    uint64_t mag = off->count < 0 ? 0 - static_cast<uint64_t>(off->count) : static_cast<uint64_t>(off->count);
    uint64_t ref = mag + *t->maxerror_ns + 1, got = lean.bound(c, rt);
    if (ref > got + 1 || got > ref + 1) {
      st.SkipWithError(("lean math differs: " + std::to_string(got) + " vs " + std::to_string(ref)).c_str());
      return;
    }
  }
  const uint32_t want = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t s1 = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
    uint64_t c = read_counter();
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t s2 = detail::load_seq(f.page, __ATOMIC_RELAXED);
    if (s1 != want || s2 != s1) [[unlikely]] { st.SkipWithError("seq changed"); break; }
    const int64_t rt = ts.tv_sec * kNsPerSec + ts.tv_nsec;
    const auto b = static_cast<int64_t>(lean.bound(c, rt));
    timespec e{(rt - b) / kNsPerSec, (rt - b) % kNsPerSec}, l{(rt + b) / kNsPerSec, (rt + b) % kNsPerSec};
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(l);
  }
}
BENCHMARK(BM_profile_gettime_seq_rdtscp_lean_math);

// The disruption-only page's part of published_with_page, as the library
// does it (the counter is read although the page carries no time) and
// without the counter read: clock_gettime + two seq loads (+ rdtscp) + the
// segment read and growth.
template <bool kReadCounter>
void profile_published_with_page(benchmark::State& st) {
  Files& f = files();
  if (!f.ok) { st.SkipWithError(f.error.c_str()); return; }
  f.publish_disruption_only_page(7, 3);
  f.publish_segment(7, 3);
  const uint32_t want = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
  timespec ts;
  for (auto _ : st) {
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t s1 = detail::load_seq(f.page, __ATOMIC_ACQUIRE);
    if constexpr (kReadCounter) benchmark::DoNotOptimize(read_counter());
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t s2 = detail::load_seq(f.page, __ATOMIC_RELAXED);
    if (s1 != want || s2 != s1) [[unlikely]] { st.SkipWithError("seq changed"); break; }
    auto s = bound::try_read(f.segment);
    if (!s || s->disruption_marker != 7 || s->vm_generation != 3) [[unlikely]] { st.SkipWithError("segment"); break; }
    auto g = bound::grow(bound::to_record(*s), ts.tv_sec * kNsPerSec + ts.tv_nsec);
    if (g.status == bound::Status::unknown) [[unlikely]] { st.SkipWithError("segment void"); break; }
    benchmark::DoNotOptimize(g);
  }
}
void BM_profile_published_with_page_counter(benchmark::State& st) { profile_published_with_page<true>(st); }
void BM_profile_published_with_page_no_counter(benchmark::State& st) { profile_published_with_page<false>(st); }
BENCHMARK(BM_profile_published_with_page_counter);
BENCHMARK(BM_profile_published_with_page_no_counter);

// The segment's growth alone: bound::grow (a signed 128-bit division,
// __divti3) against the same ceiling split into whole seconds and the
// rest, all in 64 bits (divisions by a constant: multiplies).
uint64_t grow_split(uint64_t elapsed_ns, uint32_t ppb) {
  const uint64_t sec = elapsed_ns / 1'000'000'000u, rem = elapsed_ns % 1'000'000'000u;
  return sec * ppb + (rem * ppb + 999'999'999u) / 1'000'000'000u;  // rem * ppb < 2^62
}

void BM_profile_grow_i128(benchmark::State& st) {
  bound::Record r;
  r.status = bound::Status::synchronized;
  r.as_of_ns = 1'700'000'000'000'000'000;
  r.bound_ns = 10'000;
  r.max_drift_ppb = 15'000;
  r.stale_after_ns = 1'000'000'000;
  r.void_after_ns = 300'000'000'000;
  int64_t now = r.as_of_ns + 123'456'789;
  for (auto _ : st) {
    benchmark::DoNotOptimize(now);
    auto g = bound::grow(r, now);
    benchmark::DoNotOptimize(g);
  }
}
BENCHMARK(BM_profile_grow_i128);

void BM_profile_grow_split64(benchmark::State& st) {
  const int64_t as_of = 1'700'000'000'000'000'000;
  int64_t now = as_of + 123'456'789;
  {
    bound::Record r;
    r.status = bound::Status::synchronized;
    r.as_of_ns = as_of;
    r.max_drift_ppb = 15'000;
    r.void_after_ns = 300'000'000'000;
    for (uint64_t e : {0ull, 1ull, 999'999'999ull, 1'000'000'000ull, 123'456'789'012ull, 300'000'000'000ull}) {
      if (bound::grow(r, as_of + static_cast<int64_t>(e)).bound_ns != grow_split(e, 15'000)) {
        st.SkipWithError("grow_split differs from bound::grow");
        return;
      }
    }
  }
  for (auto _ : st) {
    benchmark::DoNotOptimize(now);
    int64_t e = now - as_of;
    if (e < 0) e = 0;
    benchmark::DoNotOptimize(10'000 + grow_split(static_cast<uint64_t>(e), 15'000));
  }
}
BENCHMARK(BM_profile_grow_split64);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;  // files() removes its temp dir at exit
}
