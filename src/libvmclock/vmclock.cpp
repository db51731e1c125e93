// SPDX-License-Identifier: Apache-2.0
// libvmclock: the C API of vmclock.h over the core's page decoding, time
// math and validity, plus the segment vmclockd publishes.
//
// now() is the hot path: while the page's seq_count is the one the cached
// calibration was decoded from, a call is one clock_gettime, two loads of
// seq_count around a counter read, and 128-bit arithmetic. The segment
// likewise: while its seq reads the one its record was decoded from, a
// call loads seq and grows the cached record. A new seq_count takes the
// slow path once (copy, decode, assess), still without allocating or
// entering the kernel.
#include "vmclock/vmclock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>

#include "abi.h"
#include "bound_math.h"
#include "bound_segment.h"
#include "bus_guard.h"
#include "file_kind.h"
#include "counter.h"
#include "fd.h"
#include "page.h"
#include "seqlock.h"
#include "time_math.h"
#include "validity.h"

namespace {

using namespace vmc;

thread_local char g_open_error[600];

// A host or daemon rewriting faster than 64 reads is treated as busy: no
// clock read, so no system call, on the way to saying so.
constexpr SeqlockLimits kRetries{63, SeqlockLimits::kUntimed};  // two reasons of up to 256 bytes each

int fail_open(int err, const char* fmt_, const char* path, const char* why) {
  std::snprintf(g_open_error, sizeof g_open_error, fmt_, path, why);
  return -err;
}

// Plain integers: compared and copied on every call.
struct Marker {
  uint64_t disruption = 0;
  uint64_t generation = 0;
  bool has_generation = false;
  bool operator==(const Marker&) const = default;
};

// The page's calibration as of one seq_count, decoded once.
struct Calibration {
  uint32_t seq = 1;  // odd: nothing cached yet
  Page page;
  Validity validity;
  Marker marker;
  bool header_ok = false;  // decoded: the marker is the page's
  bool bounded = false;    // UTC with a maximum error: a direct bound is possible
  std::optional<FastBound> fast;
  int32_t status = VMCLOCK_UNKNOWN;
  const char* why = "page not read yet";
};

// The segment's record as of one seq, decoded once. The daemon moves seq
// on every write, across its restarts too (bound_publisher.cpp), so while
// seq reads the same the record is the same: a call loads seq alone, as
// the page's fast path does. Applications share a handle between threads
// (the truncation test does): the cache is itself under a seqlock, and
// one thread at a time refills it; the others answer from their own copy.
class SegmentCache {
 public:
  // False (read the segment) unless `seq` is the cached one.
  bool get(uint32_t seq, bound::Record& r) const {
    const uint32_t g = gen_.load(std::memory_order_acquire);
    if ((g & 1u) || (seq & 1u) || seq_ != seq) return false;
    r = record_;
    std::atomic_thread_fence(std::memory_order_acquire);
    return gen_.load(std::memory_order_relaxed) == g;
  }
  // `r` as decoded from a consistent copy at `seq` with a good header.
  void put(uint32_t seq, const bound::Record& r) {
    if (busy_.exchange(true, std::memory_order_acquire)) return;
    const uint32_t g = gen_.load(std::memory_order_relaxed);
    gen_.store(g + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    seq_ = seq;
    record_ = r;
    gen_.store(g + 2, std::memory_order_release);
    busy_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<uint32_t> gen_{0};  // odd while put() rewrites the fields below
  std::atomic<bool> busy_{false};
  uint32_t seq_ = 1;  // odd: nothing cached
  bound::Record record_;
};

int32_t page_status(abi::ClockStatus s) {
  switch (s) {
    case abi::ClockStatus::synchronized: return VMCLOCK_SYNCHRONIZED;
    case abi::ClockStatus::freerunning: return VMCLOCK_FREERUNNING;
    default: return VMCLOCK_UNKNOWN;
  }
}

}  // namespace

struct vmclock_handle {
  Fd page_fd, segment_fd;
  Mapping page_map, segment_map;
  const volatile uint8_t* page = nullptr;
  size_t page_len = 0;
  const volatile bound::segment* segment = nullptr;
  // A page file (not the device) can be truncated under its mapping: its
  // reads are guarded (bus_guard.h), as the segment's always are.
  bool page_guarded = false;
  Calibration cal;
  SegmentCache seg_cache;
  Marker last_marker;  // as of the previous answer
  bool have_last_marker = false;
  const char* why = "";
  char why_buf[160] = {};
  bool published_only = false;

  // Refreshes `cal` from a full consistent copy; the counter is read in
  // the same window. False when the seqlock did not settle (busy host).
  bool refresh(uint64_t& counter) {
    RawCopy raw;
    raw.len = page_len < raw.bytes.size() ? page_len : raw.bytes.size();
    const SeqlockTries t = seqlock_retry(
        [&](uint32_t& seen) { return seqlock_copy_once(page, raw, [&] { counter = read_counter(); }, seen); },
        kRetries);
    if (t.failure == SeqlockFailure::none) {
      decode_into(raw);
      return true;
    }
    cal = Calibration{};
    cal.why = t.failure == SeqlockFailure::stuck_odd ? "page seq_count stays odd (the host is mid-update)"
                                                     : "page seq_count keeps changing";
    return false;
  }

  void decode_into(const RawCopy& raw) {
    cal = Calibration{};
    cal.seq = raw.seq;
    // decode() only fails on the header; checking it here first keeps
    // the error (and its allocation) off this path.
    if (!header_ok(load_header(raw.bytes.data()), page_len)) {
      cal.why = "page header changed: not a vmclock page any more";
      return;
    }
    auto p = decode(std::span<const uint8_t>(raw.bytes.data(), raw.len), page_len);
    if (!p) { cal.why = "page does not decode"; return; }
    cal.header_ok = true;
    cal.page = *p;
    cal.marker = Marker{p->disruption_marker, p->vm_generation_counter.value_or(0),
                        p->vm_generation_counter.has_value()};
    cal.validity = assess(*p);
    cal.status = page_status(p->clock_status);
    if (!cal.validity.ok()) { cal.why = sentence(cal.validity.reason); return; }
    if (!p->flags.has(abi::Flag::time_maxerror_valid)) { cal.why = "page has no valid maximum error"; return; }
    cal.bounded = true;
    cal.fast = FastBound::from(*p, cal.validity.utc_minus_page_sec);
    cal.why = "";
  }

  int now(vmclock_bound& out) {
    out = vmclock_bound{};
    timespec rt_ts;
    clock_gettime(CLOCK_REALTIME, &rt_ts);
    // Two 8-byte loads, as clock_gettime stored them: a 16-byte copy of the
    // struct would wait on a failed store-to-load forward (~15 % of a call).
    int64_t sec = rt_ts.tv_sec, nsec = rt_ts.tv_nsec;
    asm("" : "+r"(sec), "+r"(nsec));
    out.realtime.tv_sec = sec;
    out.realtime.tv_nsec = nsec;
    const int64_t rt = sec * kNsPerSec + nsec;
    why = "";

    const Marker* pm = nullptr;
    uint64_t counter = 0;
    bool fresh = false;
    if (page) {
      // Fast path: seq_count unchanged since the calibration was decoded.
      // The counter is read only when the page can use it, and without
      // rdtscp's wait (read_counter_unordered): the bound covers the page's
      // time at whatever instant the reading took, and it is taken between
      // two loads of seq_count in program order, which is what a pause of
      // the guest respects. Without the counter nothing is read in the
      // window: the cached marker is the page's while seq_count has not
      // moved. The loads are guarded_load()s, free unless they fault (the
      // device cannot; a page file can be truncated).
      const bool page_answers = cal.bounded && !published_only;
      auto load = [](const volatile uint32_t* p, uint32_t& v) { return guarded_load(p, v); };
      const Window w = page_answers
                           ? seqlock_window_loaded(page, cal.seq, load, [&] { counter = read_counter_unordered(); })
                           : seqlock_still_loaded(page, cal.seq, load);
      if (w == Window::fresh) [[likely]] {
        fresh = true;
      } else if (w == Window::faulted) {
        cal.why = "page file shrank under its mapping (truncated?)";
      } else {
        auto read = [&] { fresh = refresh(counter); };
        if (!page_guarded) {
          read();
        } else if (!guarded_read(read)) {
          fresh = false;
          cal.why = "page file shrank under its mapping (truncated?)";
        }
      }
      if (fresh && cal.header_ok) pm = &cal.marker;
      if (fresh && cal.bounded && !published_only) {
        if (answer_from_page(out, counter, rt)) return finish(out, pm);
      } else if (!fresh) {
        why = cal.why;
      }
    }
    if (segment && answer_from_segment(out, rt, pm)) return finish(out, pm);
    if (!*why) why = page ? cal.why : "no page and no segment";
    return finish(out, pm);
  }

  [[gnu::always_inline]] bool answer_from_page(vmclock_bound& out, uint64_t counter, int64_t rt) {
    if (cal.fast) [[likely]] {
      if (auto b = cal.fast->at(counter, rt)) [[likely]] {
        out.bound_ns = *b;
        out.status = cal.status;
        out.source = VMCLOCK_SOURCE_PAGE;
        out.disruption_marker = cal.marker.disruption;
        return true;
      }
    }
    return answer_from_page_exactly(out, counter, rt);
  }

  // Far from counter_value (a page the host stopped updating): exactly.
  // Out of line: now()'s fast path stays without its frame.
  [[gnu::noinline, gnu::cold]] bool answer_from_page_exactly(vmclock_bound& out, uint64_t counter, int64_t rt) {
    auto t = time_at(cal.page, counter);
    if (!t || !t->maxerror_ns) { why = "page time at this counter overflows"; return false; }
    Time64 utc = t->time;
    utc.sec.count += cal.validity.utc_minus_page_sec;
    auto off = diff_ns(utc, SysTime{rt});
    if (!off) { why = "page time is centuries from the system clock"; return false; }
    uint64_t mag = off->count < 0 ? 0 - static_cast<uint64_t>(off->count) : static_cast<uint64_t>(off->count);
    // +1: diff_ns rounds to the nearest nanosecond.
    uint64_t b = mag + *t->maxerror_ns + 1;
    if (b > static_cast<uint64_t>(INT64_MAX) / 2) { why = "page bound too large"; return false; }
    out.bound_ns = b;
    out.status = cal.status;
    out.source = VMCLOCK_SOURCE_PAGE;
    out.disruption_marker = cal.marker.disruption;
    return true;
  }

  bool answer_from_segment(vmclock_bound& out, int64_t rt, const Marker* pm) {
    uint32_t seq;
    if (!guarded_load(&segment->seq, seq)) [[unlikely]] {
      why = "segment file shrank under its mapping (truncated?)";
      return false;
    }
    bound::Record r;
    if (!seg_cache.get(seq, r)) [[unlikely]] {
      if (!read_segment(r)) return false;
    }
    return answer_from_record(out, r, rt, pm);
  }

  // A consistent copy of the segment, its header checked, into `r` (and
  // the cache); false with `why` set when there is none.
  [[gnu::noinline]] bool read_segment(bound::Record& r) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // try_read() fills every field before it is read
    bound::segment seg;
    SeqlockTries t{};
    uint32_t magic = 0;
    if (!guarded_read([&] {
          t = seqlock_retry([&](uint32_t& seen) { return bound::try_read(segment, seg, seen); }, kRetries);
          magic = segment->magic;
        })) {
      why = "segment file shrank under its mapping (truncated?)";
      return false;
    }
    if (t.failure != SeqlockFailure::none) {
      if (magic != bound::kMagic) {
        // Never a vmclockd segment: its "seq_count" is whatever the file holds.
        std::snprintf(why_buf, sizeof why_buf, "segment is not a vmclockd segment (magic %#x)", magic);
        why = why_buf;
      } else {
        why = "segment is being rewritten without pause";
      }
      return false;
    }
    const bound::segment* s = &seg;
    if (s->magic != bound::kMagic || s->version != bound::kVersion || s->size < sizeof(bound::segment)) {
      std::snprintf(why_buf, sizeof why_buf, "segment is not a version %u vmclockd segment (magic %#x, version %u)",
                    bound::kVersion, s->magic, s->version);
      why = why_buf;
      return false;
    }
    r = bound::to_record(*s);
    seg_cache.put(s->seq, r);
    return true;
#pragma GCC diagnostic pop
  }

  bool answer_from_record(vmclock_bound& out, const bound::Record& r, int64_t rt, const Marker* pm) {
    out.source = VMCLOCK_SOURCE_DAEMON;
    out.disruption_marker = r.disruption_marker;
    if (pm && !(Marker{r.disruption_marker, r.vm_generation.value_or(0), r.vm_generation.has_value()} == *pm)) {
      // The device moved on: whatever the daemon computed is void.
      out.status = VMCLOCK_DISRUPTED;
      out.disruption_marker = pm->disruption;
      why = "page disruption marker differs from the daemon's: not handled yet";
      return true;
    }
    bound::Grown g = bound::grow(r, rt);
    using W = bound::Grown::Why;
    switch (g.why) {
      case W::none: break;
      case W::not_synchronized:
        out.status = static_cast<int32_t>(g.status);
        why = g.status == bound::Status::disrupted ? "daemon reports a disruption it is still handling"
                                                   : "daemon has no bound (its source is not synchronised)";
        return true;
      case W::stopped: why = "daemon stopped"; return false;
      case W::void_:
        std::snprintf(why_buf, sizeof why_buf, "segment void: written %lld s ago",
                      static_cast<long long>((rt - r.as_of_ns) / kNsPerSec));
        why = why_buf;
        return false;
      case W::stepped_back: why = "system clock is before the segment's time: stepped back"; return false;
      case W::overflow: why = "segment bound overflows"; return false;
    }
    out.bound_ns = g.bound_ns;
    out.status = static_cast<int32_t>(g.status);
    return true;
  }

  int finish(vmclock_bound& out, const Marker* pm) {
    // The very first answer after the page's marker moved is DISRUPTED,
    // whatever the source: applications learn of it even when a fresh
    // direct bound is already available on the next call.
    if (pm && !(have_last_marker && last_marker == *pm)) {
      if (have_last_marker) {
        out.status = VMCLOCK_DISRUPTED;
        out.disruption_marker = pm->disruption;
        why = "page disruption marker changed since the previous call";
      }
      last_marker = *pm;
      have_last_marker = true;
    }
    if (out.status == VMCLOCK_SYNCHRONIZED || out.status == VMCLOCK_FREERUNNING) {
      // At most one division (of a bound of a second or more), then
      // carries: realtime's own words are already split.
      const auto b = static_cast<int64_t>(out.bound_ns);
      int64_t bs = 0, bn = b;
      if (b >= kNsPerSec) [[unlikely]] {
        bs = b / kNsPerSec;
        bn = b % kNsPerSec;
      }
      int64_t es = out.realtime.tv_sec - bs, en = out.realtime.tv_nsec - bn;
      if (en < 0) { en += kNsPerSec; --es; }
      int64_t ls = out.realtime.tv_sec + bs, ln = out.realtime.tv_nsec + bn;
      if (ln >= kNsPerSec) { ln -= kNsPerSec; ++ls; }
      out.earliest.tv_sec = es;
      out.earliest.tv_nsec = en;
      out.latest.tv_sec = ls;
      out.latest.tv_nsec = ln;
    } else {
      out.bound_ns = 0;
      if (out.status != VMCLOCK_DISRUPTED) out.status = VMCLOCK_UNKNOWN;
    }
    return 0;
  }
};

namespace {

// 0, or a negative errno with g_open_error set.
int map_page(vmclock_handle& c, const char* path) {
  // O_NONBLOCK: a FIFO at the path must not hold the application in open().
  c.page_fd.reset(retry_eintr([&] { return ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); }));
  if (!c.page_fd) return fail_open(errno, "%s: cannot open: %s", path, std::strerror(errno));
  struct stat st;
  if (fstat(c.page_fd.get(), &st) != 0) return fail_open(errno, "%s: %s", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return fail_open(ENODEV, "%s: is %s: the page must be the vmclock device or a regular file", path,
                     file_kind(st.st_mode));
  if (S_ISREG(st.st_mode) && st.st_size < static_cast<off_t>(abi::kMinSize))
    return fail_open(EPROTO, "%s: %s", path, "too short for a vmclock page");
  // The device maps exactly one of the kernel's pages (64 KiB on some
  // arm64 kernels); a page file as much of itself as a page can hold.
  const long sys_page = ::sysconf(_SC_PAGESIZE);
  const size_t map_len = S_ISREG(st.st_mode) ? std::min(static_cast<size_t>(st.st_size), abi::kMaxPageBytes)
                         : sys_page > 0      ? static_cast<size_t>(sys_page)
                                             : abi::kPageBytes;
  void* p = ::mmap(nullptr, map_len, PROT_READ, MAP_SHARED, c.page_fd.get(), 0);
  // Without a mapping every read would be a pread(): not for now().
  if (p == MAP_FAILED) return fail_open(errno, "%s: cannot map: %s", path, std::strerror(errno));
  c.page_map = Mapping(p, map_len);
  c.page = static_cast<const volatile uint8_t*>(p);
  c.page_guarded = S_ISREG(st.st_mode);
  c.page_len = std::min(map_len, abi::kMaxPageBytes);
  uint8_t head[kHeaderBytes];
  if (!guarded_read([&] {
        for (size_t i = 0; i < kHeaderBytes; ++i) head[i] = c.page[i];
      }))
    return fail_open(EIO, "%s: %s", path, "shrank under its mapping while being read");
  auto hdr = check_header(load_header(head), c.page_len);
  if (!hdr) return fail_open(EPROTO, "%s: %s", path, hdr.error().message.c_str());
  uint64_t counter;
  bool fresh = false;
  if (!guarded_read([&] { fresh = c.refresh(counter); }))
    return fail_open(EIO, "%s: %s", path, "shrank under its mapping while being read");
  if (fresh && c.cal.header_ok) {
    c.last_marker = c.cal.marker;
    c.have_last_marker = true;
  }
  return 0;
}

int map_segment(vmclock_handle& c, const char* path) {
  c.segment_fd.reset(retry_eintr([&] { return ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); }));
  if (!c.segment_fd) return fail_open(errno, "%s: cannot open: %s", path, std::strerror(errno));
  struct stat st;
  if (fstat(c.segment_fd.get(), &st) != 0) return fail_open(errno, "%s: %s", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(sizeof(bound::segment)))
    return fail_open(EPROTO, "%s: %s", path, "not a vmclockd bound segment (too short)");
  void* p = ::mmap(nullptr, bound::kFileBytes, PROT_READ, MAP_SHARED, c.segment_fd.get(), 0);
  if (p == MAP_FAILED) return fail_open(errno, "%s: cannot map: %s", path, std::strerror(errno));
  c.segment_map = Mapping(p, bound::kFileBytes);
  c.segment = static_cast<const volatile bound::segment*>(p);
  install_bus_guard();  // now()'s guarded_load()s need it (map_page's guarded_read installs it)
  return 0;
}

}  // namespace

extern "C" {

int vmclock_open(vmclock_t** out, const struct vmclock_options* options) {
  g_open_error[0] = 0;
  if (!out) return fail_open(EINVAL, "%s%s", "vmclock_open: ", "clock is NULL");
  *out = nullptr;
  const char* page_path = VMCLOCK_DEFAULT_PAGE;
  const char* segment_path = VMCLOCK_DEFAULT_SEGMENT;
  if (options) {
    if (options->size < offsetof(vmclock_options, segment_path) + sizeof(const char*))
      return fail_open(EINVAL, "%s%s", "vmclock_open: ", "options->size is too small");
    if (options->page_path) page_path = options->page_path;
    if (options->segment_path) segment_path = options->segment_path;
  }
  uint32_t flags = 0;
  if (options && options->size >= offsetof(vmclock_options, flags) + sizeof(uint32_t)) flags = options->flags;
  if (flags & ~VMCLOCK_OPEN_PUBLISHED_ONLY) return fail_open(EINVAL, "%s%s", "vmclock_open: ", "unknown flags");
  auto* c = new (std::nothrow) vmclock_handle;
  if (!c) return fail_open(ENOMEM, "%s%s", "vmclock_open: ", "out of memory");
  c->published_only = (flags & VMCLOCK_OPEN_PUBLISHED_ONLY) != 0;
  char page_err[256] = "", seg_err[256] = "";
  int page_rc = -ENOENT, seg_rc = -ENOENT;
  if (*page_path) {
    page_rc = map_page(*c, page_path);
    if (page_rc) {
      std::snprintf(page_err, sizeof page_err, "%.250s", g_open_error);
      c->page_map.reset(); c->page_fd.reset(); c->page = nullptr;
    }
  }
  if (*segment_path) {
    seg_rc = map_segment(*c, segment_path);
    if (seg_rc) {
      std::snprintf(seg_err, sizeof seg_err, "%.250s", g_open_error);
      c->segment_map.reset(); c->segment_fd.reset(); c->segment = nullptr;
    }
  }
  if (page_rc && seg_rc) {
    std::snprintf(g_open_error, sizeof g_open_error, "%.280s; %.280s", *page_err ? page_err : "no page",
                  *seg_err ? seg_err : "no segment");
    delete c;
    // The more telling error: a file that exists but is wrong, else absence.
    return page_rc != -ENOENT ? page_rc : seg_rc;
  }
  *out = c;
  return 0;
}

int vmclock_now(vmclock_t* clock, struct vmclock_bound* bound, uint32_t size) {
  if (!clock || !bound || size < sizeof(struct vmclock_bound)) return -EINVAL;
  return clock->now(*bound);
}

void vmclock_close(vmclock_t* clock) { delete clock; }

const char* vmclock_status_name(int32_t status) {
  switch (status) {
    case VMCLOCK_SYNCHRONIZED: return "synchronized";
    case VMCLOCK_FREERUNNING: return "freerunning";
    case VMCLOCK_DISRUPTED: return "disrupted";
    default: return "unknown";
  }
}

const char* vmclock_source_name(int32_t source) {
  switch (source) {
    case VMCLOCK_SOURCE_PAGE: return "page";
    case VMCLOCK_SOURCE_DAEMON: return "daemon";
    default: return "none";
  }
}

const char* vmclock_open_error(void) { return g_open_error; }

const char* vmclock_why(const vmclock_t* clock) { return clock ? clock->why : "clock is NULL"; }

}  // extern "C"
