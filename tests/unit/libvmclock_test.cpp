// SPDX-License-Identifier: Apache-2.0
// libvmclock through its C API (include/vmclock/vmclock.h) on page and
// segment files: the bound from the page against the page's own time, the
// DISRUPTED answer on the very next call after a marker change, the
// published bound's growth, staleness and void, bad or missing files, and
// no allocation in vmclock_now().
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "bound_segment.h"
#include "clock.h"
#include "real_counter.h"
#include "vmclock/vmclock.h"
#include "vmclock/vmclock.hpp"

using namespace vmc;
using namespace vmc::testing;

// Counts operator new, to show that vmclock_now() does not allocate. The
// replacements pair malloc with free, which GCC cannot see across them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<uint64_t> g_news{0};
void* operator new(size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

// A 4096-byte file mapped shared and writable: the test plays the host
// (the page) or the daemon (the segment) through it.
struct SharedFile {
  std::string path;
  volatile uint8_t* base = nullptr;
  explicit SharedFile(const std::string& name, size_t len = 4096) {
    char dir[] = "/tmp/vmc-libtest.XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    path = std::string(dir) + "/" + name;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, static_cast<off_t>(len)) == 0);
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(p != MAP_FAILED);
    base = static_cast<volatile uint8_t*>(p);
  }
  ~SharedFile() {
    munmap(const_cast<uint8_t*>(base), 4096);
    std::string dir = path.substr(0, path.rfind('/'));
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
};

// The daemon's side of the segment, as bound_publisher.cpp writes it.
struct Segment : SharedFile {
  Segment() : SharedFile("bound") {}
  void write(const bound::Record& r, uint32_t magic = bound::kMagic, uint16_t version = bound::kVersion) {
    auto* s = reinterpret_cast<volatile bound::segment*>(base);
    uint32_t seq = s->seq + 1;
    s->seq = seq;  // odd
    std::atomic_thread_fence(std::memory_order_release);
    s->magic = magic;
    s->version = version;
    s->size = sizeof(bound::segment);
    s->status = static_cast<uint32_t>(r.status);
    s->disruption_marker = r.disruption_marker;
    s->vm_generation = r.vm_generation.value_or(0);
    s->as_of_ns = r.as_of_ns;
    s->bound_ns = r.bound_ns;
    s->max_drift_ppb = r.max_drift_ppb;
    s->flags = (r.vm_generation ? bound::kFlagGeneration : 0) | (r.stopped ? bound::kFlagStopped : 0);
    s->stale_after_ns = r.stale_after_ns;
    s->void_after_ns = r.void_after_ns;
    std::atomic_thread_fence(std::memory_order_release);
    s->seq = seq + 1;
  }
};

bound::Record record(int64_t as_of, uint64_t bound_ns, uint64_t marker = 7) {
  bound::Record r;
  r.status = bound::Status::synchronized;
  r.disruption_marker = marker;
  r.as_of_ns = as_of;
  r.bound_ns = bound_ns;
  r.max_drift_ppb = 15'000;
  r.stale_after_ns = 2'000'000'000;
  r.void_after_ns = 300'000'000'000;
  return r;
}

vmclock_t* open_or_fail(const std::string& page, const std::string& segment, uint32_t flags = 0) {
  vmclock_options o{};
  o.size = sizeof o;
  o.page_path = page.c_str();
  o.segment_path = segment.c_str();
  o.flags = flags;
  vmclock_t* c = nullptr;
  int rc = vmclock_open(&c, &o);
  INFO(vmclock_open_error());
  REQUIRE(rc == 0);
  return c;
}

vmclock_bound now(vmclock_t* c) {
  vmclock_bound b;
  REQUIRE(vmclock_now(c, &b, sizeof b) == 0);
  return b;
}

int64_t ns(const timespec& t) { return t.tv_sec * kNsPerSec + t.tv_nsec; }

// The bound holds the gap between two clock reads, which a preemption on a
// busy machine stretches without limit; the tightest of many calls is what
// shows that nothing else is added.
uint64_t tightest_bound(vmclock_t* c, int calls = 100) {
  uint64_t least = UINT64_MAX;
  for (int i = 0; i < calls; ++i) least = std::min(least, now(c).bound_ns);
  return least;
}

}  // namespace

TEST_CASE("direct: the page's bound, centred on CLOCK_REALTIME, holding the page's offset") {
  SharedFile page("page");
  PageWriter w(page.base, 4096);
  publish_calibrated(w, 37'500, abi::TimeType::utc, 0);
  vmclock_t* c = open_or_fail(page.path, "");
  for (int i = 0; i < 1000; ++i) {
    auto b = now(c);
    REQUIRE(b.status == VMCLOCK_SYNCHRONIZED);
    CHECK(b.source == VMCLOCK_SOURCE_PAGE);
    CHECK(b.disruption_marker == 7);
    CHECK(ns(b.latest) - ns(b.realtime) == static_cast<int64_t>(b.bound_ns));
    CHECK(ns(b.realtime) - ns(b.earliest) == static_cast<int64_t>(b.bound_ns));
    // |offset| + maxerror (1000 ns), plus the calibration's error and the
    // gap between the two clock reads: never below.
    CHECK(b.bound_ns >= 37'500 + 1000 - 200);
  }
  CHECK(tightest_bound(c) < 37'500 + 1000 + 50'000);
  // TAI with an offset: UTC comes out (the page is 37 s + 37.5 us ahead in TAI).
  publish_calibrated(w, 37 * kNsPerSec + 37'500, abi::TimeType::tai, 37);
  auto b = now(c);
  CHECK(b.status == VMCLOCK_SYNCHRONIZED);
  CHECK(tightest_bound(c) < 37'500 + 1000 + 50'000);
  // FREERUNNING passes through.
  publish_calibrated(w, 37'500, abi::TimeType::utc, 0, [](Page& p) { p.clock_status = abi::ClockStatus::freerunning; });
  CHECK(now(c).status == VMCLOCK_FREERUNNING);
  vmclock_close(c);
}

TEST_CASE("direct: a page that cannot vouch for the time gives no bound, and says why") {
  SharedFile page("page");
  PageWriter w(page.base, 4096);
  struct Case {
    const char* what;
    std::function<void(Page&)> tweak;
    const char* why;
  } cases[] = {
      {"unreliable", [](Page& p) { p.clock_status = abi::ClockStatus::unreliable; }, "unreliable"},
      {"unknown", [](Page& p) { p.clock_status = abi::ClockStatus::unknown; }, "unknown"},
      {"monotonic", [](Page& p) { p.time_type = abi::TimeType::monotonic; }, "monotonic"},
      {"tai without offset", [](Page& p) { p.time_type = abi::TimeType::tai; }, "tai_offset_valid"},
      {"no counter", [](Page& p) { p.counter_id = abi::CounterId::invalid; }, "disruption-only"},
      {"no maxerror", [](Page& p) { p.flags = abi::Flags{}; }, "maximum error"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.what);
    publish_calibrated(w, 0, abi::TimeType::utc, 0, k.tweak);
    vmclock_t* c = open_or_fail(page.path, "");
    auto b = now(c);
    CHECK(b.status == VMCLOCK_UNKNOWN);
    CHECK(b.bound_ns == 0);
    CHECK(ns(b.earliest) == 0);
    CHECK(ns(b.latest) == 0);
    CHECK(std::string(vmclock_why(c)).find(k.why) != std::string::npos);
    vmclock_close(c);
  }
}

TEST_CASE("a marker change makes the very next call DISRUPTED, in both modes") {
  SharedFile page("page");
  Segment seg;
  PageWriter w(page.base, 4096);
  publish_calibrated(w, 10'000, abi::TimeType::utc, 0);
  seg.write(record(realtime_now().ns, 20'000));
  vmclock_t* direct = open_or_fail(page.path, seg.path);
  vmclock_t* published = open_or_fail(page.path, seg.path, VMCLOCK_OPEN_PUBLISHED_ONLY);
  CHECK(now(direct).status == VMCLOCK_SYNCHRONIZED);
  auto p0 = now(published);
  CHECK(p0.status == VMCLOCK_SYNCHRONIZED);
  CHECK(p0.source == VMCLOCK_SOURCE_DAEMON);

  publish_calibrated(w, 110'000, abi::TimeType::utc, 0, [](Page& p) { p.disruption_marker = 8; });
  auto d = now(direct);
  CHECK(d.status == VMCLOCK_DISRUPTED);
  CHECK(d.disruption_marker == 8);
  CHECK(d.bound_ns == 0);
  CHECK(ns(d.latest) == 0);
  // Direct: the new page is good at once.
  auto d2 = now(direct);
  CHECK(d2.status == VMCLOCK_SYNCHRONIZED);
  CHECK(d2.bound_ns >= 110'000);
  // Published: DISRUPTED until the daemon has a bound under marker 8.
  for (int i = 0; i < 100; ++i) CHECK(now(published).status == VMCLOCK_DISRUPTED);
  seg.write(record(realtime_now().ns, 111'000, 8));
  CHECK(now(published).status == VMCLOCK_SYNCHRONIZED);

  // The generation counter alone counts too.
  publish_calibrated(w, 110'000, abi::TimeType::utc, 0, [](Page& p) {
    p.disruption_marker = 8;
    p.vm_generation_counter = 5;
    p.flags = p.flags.with(Flag::vm_gen_counter_present);
  });
  CHECK(now(direct).status == VMCLOCK_DISRUPTED);
  CHECK(now(direct).status == VMCLOCK_SYNCHRONIZED);
  vmclock_close(direct);
  vmclock_close(published);

  // A change between vmclock_open() and the first call.
  vmclock_t* c = open_or_fail(page.path, "");
  publish_calibrated(w, 0, abi::TimeType::utc, 0, [](Page& p) { p.disruption_marker = 9; });
  CHECK(now(c).status == VMCLOCK_DISRUPTED);
  vmclock_close(c);
}

TEST_CASE("published: grown by the drift since as_of, FREERUNNING when stale, UNKNOWN past void") {
  Segment seg;
  vmclock_t* c = open_or_fail("", seg.path);
  const int64_t t = realtime_now().ns;
  seg.write(record(t - 1'000'000'000, 20'000));  // 1 s old: +15 us at 15 ppm
  auto b = now(c);
  CHECK(b.status == VMCLOCK_SYNCHRONIZED);
  CHECK(b.source == VMCLOCK_SOURCE_DAEMON);
  const int64_t age = ns(b.realtime) - (t - 1'000'000'000);
  CHECK(b.bound_ns == 20'000 + static_cast<uint64_t>((age * 15'000 + 999'999'999) / 1'000'000'000));

  seg.write(record(t - 5'000'000'000, 20'000));  // older than stale_after (2 s)
  CHECK(now(c).status == VMCLOCK_FREERUNNING);
  seg.write(record(t - 400 * kNsPerSec, 20'000));  // older than void_after (300 s)
  b = now(c);
  CHECK(b.status == VMCLOCK_UNKNOWN);
  CHECK(b.bound_ns == 0);
  CHECK(std::string(vmclock_why(c)).find("void") != std::string::npos);
  seg.write(record(t + 10 * kNsPerSec, 20'000));  // the clock went back 10 s
  CHECK(now(c).status == VMCLOCK_UNKNOWN);
  CHECK(std::string(vmclock_why(c)).find("stepped back") != std::string::npos);

  auto r = record(t, 20'000);
  r.stopped = true;
  r.status = bound::Status::unknown;
  seg.write(r);
  CHECK(now(c).status == VMCLOCK_UNKNOWN);
  CHECK(std::string(vmclock_why(c)) == "daemon stopped");
  r = record(t, 0);
  r.status = bound::Status::disrupted;
  seg.write(r);
  CHECK(now(c).status == VMCLOCK_DISRUPTED);
  r.status = bound::Status::unknown;
  seg.write(r);
  CHECK(now(c).status == VMCLOCK_UNKNOWN);
  // A segment of another version is not read at all.
  seg.write(record(t, 20'000), bound::kMagic, 2);
  CHECK(now(c).status == VMCLOCK_UNKNOWN);
  CHECK(std::string(vmclock_why(c)).find("version") != std::string::npos);
  seg.write(record(t, 20'000), 0x12345678);
  CHECK(now(c).status == VMCLOCK_UNKNOWN);
  vmclock_close(c);
}

TEST_CASE("open: a 64 KiB page file with size 65536 (arm64 with 64 KiB pages) gives bounds") {
  SharedFile page("page", abi::kMaxPageBytes);
  PageWriter w(page.base, 4096);
  publish_calibrated(w, 37'500, abi::TimeType::utc, 0, [](Page& p) { p.size = 65536; });
  vmclock_t* c = open_or_fail(page.path, "");
  auto b = now(c);
  CHECK(b.status == VMCLOCK_SYNCHRONIZED);
  CHECK(b.source == VMCLOCK_SOURCE_PAGE);
  CHECK(tightest_bound(c) < 37'500 + 1000 + 50'000);
  vmclock_close(c);

  // A size beyond the file: refused at open, naming the bytes there are.
  SharedFile small("small", 8192);
  PageWriter ws(small.base, 4096);
  publish_calibrated(ws, 0, abi::TimeType::utc, 0, [](Page& p) { p.size = 65536; });
  vmclock_options o{};
  o.size = sizeof o;
  o.page_path = small.path.c_str();
  o.segment_path = "";
  vmclock_t* bad = nullptr;
  CHECK(vmclock_open(&bad, &o) == -EPROTO);
  CHECK(std::string(vmclock_open_error()).find("field size is 65536, larger than the 8192 bytes available") !=
        std::string::npos);
}

TEST_CASE("open: missing, short and foreign files are named errors") {
  vmclock_options o{};
  o.size = sizeof o;
  o.page_path = "/nonexistent/page";
  o.segment_path = "/nonexistent/bound";
  vmclock_t* c = nullptr;
  CHECK(vmclock_open(&c, &o) == -ENOENT);
  CHECK(c == nullptr);
  std::string e = vmclock_open_error();
  CHECK(e.find("/nonexistent/page") != std::string::npos);
  CHECK(e.find("/nonexistent/bound") != std::string::npos);

  SharedFile junk("junk");  // 4096 zero bytes: no vmclock magic
  o.page_path = junk.path.c_str();
  o.segment_path = "";
  CHECK(vmclock_open(&c, &o) == -EPROTO);
  CHECK(std::string(vmclock_open_error()).find(junk.path) != std::string::npos);

  SharedFile tiny("tiny", 10);
  o.page_path = "";
  o.segment_path = tiny.path.c_str();
  CHECK(vmclock_open(&c, &o) == -EPROTO);
  CHECK(std::string(vmclock_open_error()).find("too short") != std::string::npos);

  // With a good page, a bad segment does not stop the page's answers.
  SharedFile page("page");
  PageWriter w(page.base, 4096);
  publish_calibrated(w, 0, abi::TimeType::utc, 0);
  o.page_path = page.path.c_str();
  REQUIRE(vmclock_open(&c, &o) == 0);
  CHECK(now(c).source == VMCLOCK_SOURCE_PAGE);
  vmclock_close(c);

  CHECK(vmclock_open(nullptr, &o) == -EINVAL);
  o.size = 4;
  CHECK(vmclock_open(&c, &o) == -EINVAL);
  o.size = sizeof o;
  o.flags = 0x80;
  CHECK(vmclock_open(&c, &o) == -EINVAL);
  vmclock_bound b;
  CHECK(vmclock_now(nullptr, &b, sizeof b) == -EINVAL);

  // The C++ wrapper throws open_error with the message.
  CHECK_THROWS_AS(vmclock::clock("/nonexistent/page", ""), vmclock::open_error);
}

TEST_CASE("vmclock_now() does not allocate, on the fast path or after a page change") {
  SharedFile page("page");
  Segment seg;
  PageWriter w(page.base, 4096);
  publish_calibrated(w, 5'000, abi::TimeType::utc, 0);
  seg.write(record(realtime_now().ns, 20'000));
  vmclock_t* direct = open_or_fail(page.path, seg.path);
  vmclock_t* published = open_or_fail(page.path, seg.path, VMCLOCK_OPEN_PUBLISHED_ONLY);
  vmclock_bound b;
  const uint64_t before = g_news.load();
  for (int i = 0; i < 10'000; ++i) {
    if (i == 5'000) publish_calibrated(w, 5'000, abi::TimeType::utc, 0, [](Page& p) { p.disruption_marker = 8; });
    vmclock_now(direct, &b, sizeof b);
    vmclock_now(published, &b, sizeof b);
  }
  CHECK(g_news.load() == before);
  // The counter counts: a std::string would have shown.
  { std::string s(100, 'x'); (void)s; }
  CHECK(g_news.load() > before);
  vmclock_close(direct);
  vmclock_close(published);
}

namespace {

// The file's 4096 bytes as they are now, to write back after a truncation.
std::string image(const SharedFile& f) {
  std::string b(4096, '\0');
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>(f.base[i]);
  return b;
}

// A file's content put back at its path by writing a new file and renaming
// it over (the writer's way), or in place after a truncation.
void put_back(const std::string& path, const std::string& bytes, bool by_rename) {
  const std::string target = by_rename ? path + ".new" : path;
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0 || ::pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) std::_Exit(10);
  ::close(fd);
  if (by_rename && ::rename(target.c_str(), path.c_str()) != 0) std::_Exit(11);
}

}  // namespace

TEST_CASE("page and segment truncated and replaced under four threads: no signal, every answer a status") {
  SharedFile page("page");
  PageWriter w(page.base, 4096);
  publish_calibrated(w, 37'500, abi::TimeType::utc, 0);
  Segment seg;
  seg.write(record(realtime_now().ns, 50'000));
  const std::string page_bytes = image(page), seg_bytes = image(seg);
  // In a child: a SIGBUS that reached it kills it, which the parent sees.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Two threads on a handle that reads the page first, two on one that
    // reads only the segment.
    vmclock_t* c = open_or_fail(page.path, seg.path);
    vmclock_t* published = open_or_fail(page.path, seg.path, VMCLOCK_OPEN_PUBLISHED_ONLY);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> answers{0}, bad{0}, from_page{0}, from_segment{0};
    auto reader = [&](vmclock_t* h) {
      while (!stop.load(std::memory_order_relaxed)) {
        vmclock_bound b;
        if (vmclock_now(h, &b, sizeof b) != 0) ++bad;
        const bool valid = b.status == VMCLOCK_SYNCHRONIZED || b.status == VMCLOCK_FREERUNNING ||
                           b.status == VMCLOCK_DISRUPTED || b.status == VMCLOCK_UNKNOWN;
        if (!valid) ++bad;
        if (b.source == VMCLOCK_SOURCE_PAGE) ++from_page;
        if (b.source == VMCLOCK_SOURCE_DAEMON) ++from_segment;
        ++answers;
      }
    };
    std::thread t[4] = {std::thread(reader, c), std::thread(reader, c), std::thread(reader, published),
                        std::thread(reader, published)};
    // Every reader answering from its source before the storm: once a
    // segment truncated to 0 is replaced by a rename, a handle's mapping
    // keeps the empty old file, so the segment's answers come from before
    // that (the 9th round), and threads not yet scheduled by then (ctest
    // runs this beside another test) would have none to show.
    for (int i = 0; i < 5000 && (from_page.load() < 2000 || from_segment.load() < 2000); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (int i = 0; i < 300; ++i) {
      const std::string& path = i % 2 ? seg.path : page.path;
      const std::string& bytes = i % 2 ? seg_bytes : page_bytes;
      if (::truncate(path.c_str(), i % 3 == 0 ? 0 : 50) != 0) std::_Exit(12);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      put_back(path, bytes, /*by_rename=*/i % 5 == 4);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    stop = true;
    for (auto& th : t) th.join();
    std::fprintf(stderr, "truncation storm: %llu answers (%llu from the page, %llu from the segment), %llu bad\n",
                 static_cast<unsigned long long>(answers.load()), static_cast<unsigned long long>(from_page.load()),
                 static_cast<unsigned long long>(from_segment.load()), static_cast<unsigned long long>(bad.load()));
    vmclock_close(c);
    vmclock_close(published);
    std::_Exit(bad.load() == 0 && from_page.load() > 1000 && from_segment.load() > 1000 ? 0 : 3);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  INFO("child: " << (WIFSIGNALED(st) ? "killed by signal " + std::to_string(WTERMSIG(st))
                                     : "exit " + std::to_string(WEXITSTATUS(st))));
  CHECK_FALSE(WIFSIGNALED(st));
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("vmclock_why on a segment file that is no vmclockd segment says so") {
  SharedFile junk("junk-segment");
  for (size_t i = 0; i < 4096; ++i) junk.base[i] = 0xff;  // its "seq" reads odd for ever
  vmclock_t* c = open_or_fail("", junk.path);
  auto b = now(c);
  CHECK(b.status == VMCLOCK_UNKNOWN);
  CHECK(std::string(vmclock_why(c)) == "segment is not a vmclockd segment (magic 0xffffffff)");
  vmclock_close(c);
}
