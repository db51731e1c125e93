// SPDX-License-Identifier: Apache-2.0
// Torn-read stress: a writer thread republishes the page as fast as it can
// through PageWriter, with every 8-byte word of the structure derived from
// one counter i; a reader takes snapshots with seqlock_read() + decode()
// and checks that every word agrees with the same i. A single torn copy
// escaping the seqlock is a failure.
//
// The writer publishes back to back in bursts of kBurst, then spins for
// about a microsecond without giving up its CPU. Without that breather the
// page is odd or changing almost all the time while both threads run: the
// reader then succeeds only while the writer is descheduled, so on an idle
// machine the run could take minutes, and the successful reads would mostly
// not overlap a writer at all.
//
//   torn_read memory N   N snapshots of a MemoryPageSource page
//   torn_read file N     N snapshots of a page file: the writer maps it
//                        read-write, the reader through open_file_source()
//                        (two MAP_SHARED mappings of one file)
//
// Bounded by count (N) and by time (kWallLimitSec), whichever comes first:
// a shared machine decides how many snapshots fit in the time, so the run
// is judged on what it saw (no torn, undecodable or older snapshot, and
// enough reads that overlapped a publish to have proved something), not on
// whether all N were taken.
//
// Prints the counts (snapshots, retries, inconsistent, ...). Exit 0 only if
// nothing was inconsistent and the writer really ran concurrently.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "page.h"
#include "page_source.h"
#include "page_writer.h"
#include "seqlock.h"

using namespace vmc;

namespace {

constexpr double kWallLimitSec = 20.0;  // ctest's TIMEOUT is far above this
// Below this many snapshots a run says too little, however busy the machine.
constexpr uint64_t kMinSnapshots = 10'000;
constexpr uint64_t kBurst = 64;

// Every word of the structure is a function of i (magic/size/version and
// flags stay fixed so that decode() accepts the page and reports the
// generation counter).
Page page_for(uint64_t i) {
  Page p;
  p.size = abi::kSizeWithGeneration;
  p.counter_id = abi::CounterId::x86_tsc;
  p.time_type = abi::TimeType::utc;
  p.disruption_marker = i;
  p.flags = abi::Flags{}.with(abi::Flag::vm_gen_counter_present);
  p.clock_status = abi::ClockStatus::synchronized;
  p.tai_offset_sec = static_cast<int16_t>(static_cast<uint16_t>(i));
  p.counter_period_shift = static_cast<uint8_t>(i >> 16);
  p.counter_value = i;
  p.counter_period_frac_sec = i * 3;
  p.counter_period_esterror_rate_frac_sec = ~i;
  p.counter_period_maxerror_rate_frac_sec = i + 1;
  p.time_sec = i;
  p.time_frac_sec = ~i;
  p.time_esterror_nanosec = i << 1;
  p.time_maxerror_nanosec = i ^ 0x5a5a5a5a5a5a5a5aULL;
  p.vm_generation_counter = i;
  return p;
}

bool consistent(const Page& p) {
  const uint64_t i = p.time_sec;
  return p.counter_value == i && p.disruption_marker == i && p.time_frac_sec == ~i &&
         static_cast<uint16_t>(p.tai_offset_sec) == static_cast<uint16_t>(i) &&
         p.counter_period_shift == static_cast<uint8_t>(i >> 16) && p.counter_period_frac_sec == i * 3 &&
         p.counter_period_esterror_rate_frac_sec == ~i && p.counter_period_maxerror_rate_frac_sec == i + 1 &&
         p.time_esterror_nanosec == (i << 1) && p.time_maxerror_nanosec == (i ^ 0x5a5a5a5a5a5a5a5aULL) &&
         p.vm_generation_counter == i && p.counter_id == abi::CounterId::x86_tsc &&
         p.clock_status == abi::ClockStatus::synchronized;
}

struct Counts {
  uint64_t snapshots = 0;
  uint64_t retries = 0;
  uint64_t max_retries = 0;
  uint64_t inconsistent = 0;
  uint64_t decode_errors = 0;
  uint64_t seqlock_errors = 0;
  uint64_t regressions = 0;  // i lower than in an earlier snapshot
  uint64_t distinct = 0;     // snapshots whose i differs from the previous one
  uint64_t writes = 0;
  uint64_t unguarded_torn = 0;  // sanity check of the checker (informational)
  double seconds = 0;
};

Counts run(volatile uint8_t* wbase, size_t wlen, const volatile uint8_t* rbase, size_t rlen, uint64_t n) {
  Counts c;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::thread writer([&] {
    PageWriter w(wbase, wlen);
    uint64_t i = 1;
    for (; !stop.load(std::memory_order_relaxed); ++i) {
      w.publish(page_for(i));
      if (i % kBurst == 0) {
        published.store(i, std::memory_order_relaxed);
        for (int k = 0; k < 32; ++k) spin_wait_hint();
      }
    }
    published.store(i - 1, std::memory_order_relaxed);
  });
  while (published.load(std::memory_order_relaxed) == 0) std::this_thread::yield();

  // A read that cannot find a quiet window gives up after 10 ms instead of
  // the kernel's 100 ms: the property under test (no torn copy escapes) does
  // not depend on the limit, and a loaded machine spends less time spinning.
  SeqlockLimits lim;
  lim.time_limit_ns = 10'000'000;
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t last_i = 0;
  for (uint64_t k = 0; c.snapshots < n; ++k) {
    if ((k & 0xffff) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > kWallLimitSec) {
      std::fprintf(stderr, "wall-clock limit of %.0f s reached: judging the %llu snapshots taken\n", kWallLimitSec,
                   static_cast<unsigned long long>(c.snapshots));
      break;
    }
    auto r = seqlock_read(rbase, rlen, [] {}, lim);
    if (!r) {
      ++c.seqlock_errors;
      continue;
    }
    ++c.snapshots;
    c.retries += r->retries;
    if (r->retries > c.max_retries) c.max_retries = r->retries;
    auto p = decode(std::span<const uint8_t>(r->bytes.data(), r->len));
    if (!p) {
      if (c.decode_errors++ < 5) std::fprintf(stderr, "decode error: %s\n", p.error().message.c_str());
      continue;
    }
    if (!consistent(*p)) {
      if (c.inconsistent++ < 5)
        std::fprintf(stderr, "TORN: time_sec %llu counter_value %llu marker %llu ~frac %llu seq %u\n",
                     static_cast<unsigned long long>(p->time_sec), static_cast<unsigned long long>(p->counter_value),
                     static_cast<unsigned long long>(p->disruption_marker),
                     static_cast<unsigned long long>(~p->time_frac_sec), r->seq);
      continue;
    }
    if (p->time_sec < last_i) ++c.regressions;
    if (p->time_sec != last_i) ++c.distinct;
    last_i = p->time_sec;
  }
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Sanity check of the checker: the same copies without the seqlock's
  // check must (usually) tear while the writer runs. Informational only.
  for (int k = 0; k < 200'000; ++k) {
    alignas(8) uint8_t raw[sizeof(abi::vmclock_abi)];
    const size_t len = rlen < sizeof raw ? rlen : sizeof raw;
    auto* src = reinterpret_cast<const uint64_t*>(const_cast<const uint8_t*>(rbase));
    auto* dst = reinterpret_cast<uint64_t*>(raw);
    for (size_t w = 0; w < len / 8; ++w) dst[w] = __atomic_load_n(&src[w], __ATOMIC_RELAXED);
    auto p = decode(std::span<const uint8_t>(raw, len));
    if (p && !consistent(*p)) ++c.unguarded_torn;
  }

  stop.store(true);
  writer.join();
  c.writes = published.load();
  return c;
}

int report(const char* what, const Counts& c, uint64_t n) {
  std::printf(
      "%s: snapshots %llu, retries %llu (max %llu in one read), inconsistent %llu, decode errors %llu, "
      "reads given up %llu, regressions %llu, distinct values %llu, writes %llu, %.2f s (%.0f ns/snapshot); "
      "unguarded copies torn: %llu of 200000\n",
      what, static_cast<unsigned long long>(c.snapshots), static_cast<unsigned long long>(c.retries),
      static_cast<unsigned long long>(c.max_retries), static_cast<unsigned long long>(c.inconsistent),
      static_cast<unsigned long long>(c.decode_errors), static_cast<unsigned long long>(c.seqlock_errors),
      static_cast<unsigned long long>(c.regressions), static_cast<unsigned long long>(c.distinct),
      static_cast<unsigned long long>(c.writes), c.seconds, c.seconds * 1e9 / static_cast<double>(c.snapshots + 1),
      static_cast<unsigned long long>(c.unguarded_torn));
  bool ok = true;
  auto fail = [&](const char* why) {
    std::printf("FAIL: %s\n", why);
    ok = false;
  };
  if (c.inconsistent != 0) fail("torn snapshots escaped the seqlock");
  if (c.decode_errors != 0) fail("snapshots that did not decode");
  if (c.regressions != 0) fail("a snapshot older than an earlier one");
  if (c.snapshots < (n < kMinSnapshots ? n : kMinSnapshots)) fail("too few snapshots to judge");
  // Each retry is a read that overlapped a publish: without them the
  // writer never ran during a read and the test proved nothing.
  if (c.retries < 1000) fail("hardly any read overlapped a publish: the test proved nothing");
  if (c.seqlock_errors > c.snapshots / 100) fail("more than 1% of reads gave up");
  std::fflush(stdout);
  return ok ? 0 : 1;
}

int run_memory(uint64_t n) {
  MemoryPageSource src;
  auto v = src.view();
  Counts c = run(src.writable(), src.size(), v->data(), v->size(), n);
  return report("memory page", c, n);
}

int run_file(uint64_t n) {
  char dir[] = "/tmp/vmc-torn-read-XXXXXX";
  if (!::mkdtemp(dir)) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string path = std::string(dir) + "/page";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ::ftruncate(fd, 4096) != 0) {
    std::perror(path.c_str());
    return 2;
  }
  void* m = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    std::perror("mmap");
    return 2;
  }
  // The reader's own mapping, as the daemon opens it. Open it after a first
  // valid publish so that the file looks like a page.
  PageWriter first(static_cast<volatile uint8_t*>(m), 4096);
  first.publish(page_for(0));
  int rc;
  {
    auto src = open_file_source(path);
    if (!src) {
      std::fprintf(stderr, "%s\n", src.error().message.c_str());
      return 2;
    }
    auto v = (*src)->view();
    if (!v || v->data() == static_cast<const volatile uint8_t*>(m)) {
      std::fprintf(stderr, "expected a second, distinct mapping\n");
      return 2;
    }
    Counts c = run(static_cast<volatile uint8_t*>(m), 4096, v->data(), v->size(), n);
    rc = report("file page (two shared mappings)", c, n);
  }
  ::munmap(m, 4096);
  ::close(fd);
  ::unlink(path.c_str());
  ::rmdir(dir);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s memory|file SNAPSHOTS\n", argv[0]);
    return 64;
  }
  const std::string mode = argv[1];
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  if (mode == "memory") return run_memory(n);
  if (mode == "file") return run_file(n);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 64;
}
