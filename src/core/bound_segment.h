// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bound vmclockd publishes for libvmclock: a small read-only segment
// (/run/vmclockd/bound) under a seqlock. One writer (the daemon), any
// number of readers mapping it read-only. Host byte order: it never leaves
// the machine; the magic tells a reader of the other order that it is not
// for it.
//
// The daemon rewrites it in place (same inode) for its whole life and
// across restarts, so a reader's mapping stays current without reopening.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace vmc::bound {

struct segment {
  uint32_t magic;            // kMagic
  uint16_t version;          // kVersion
  uint16_t size;             // sizeof(segment) as written
  uint32_t seq;              // odd while the writer is in the middle
  uint32_t status;           // vmclock_status (vmclock.h)
  uint64_t disruption_marker;
  uint64_t vm_generation;    // valid with kFlagGeneration
  int64_t as_of_ns;          // CLOCK_REALTIME at which bound_ns held
  uint64_t bound_ns;         // |CLOCK_REALTIME - UTC| <= bound_ns at as_of_ns
  uint32_t max_drift_ppb;    // the bound grows by this per second after as_of
  uint32_t flags;
  int64_t stale_after_ns;    // after as_of + this: FREERUNNING (the daemon went quiet)
  int64_t void_after_ns;     // after as_of + this: UNKNOWN
};
static_assert(offsetof(segment, seq) == 8);
static_assert(offsetof(segment, disruption_marker) == 16);
static_assert(offsetof(segment, as_of_ns) == 32);
static_assert(offsetof(segment, bound_ns) == 40);
static_assert(offsetof(segment, max_drift_ppb) == 48);
static_assert(offsetof(segment, stale_after_ns) == 56);
static_assert(offsetof(segment, void_after_ns) == 64);
static_assert(sizeof(segment) == 72);

inline constexpr uint32_t kMagic = 0x424b4356;  // "VCKB" in memory on little-endian hosts
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kFileBytes = 4096;

inline constexpr uint32_t kFlagGeneration = 1u << 0;  // vm_generation is meaningful
inline constexpr uint32_t kFlagFromChrony = 1u << 1;  // from chronyd's tracking, not from page samples
inline constexpr uint32_t kFlagStopped = 1u << 2;     // the daemon stopped cleanly: nothing will follow
inline constexpr uint32_t kFlagPageWatched = 1u << 3; // the daemon watches a page: its marker is live

// vmclock.h's enum vmclock_status, for C++ code that does not include it.
enum class Status : uint32_t { unknown = 0, synchronized = 1, freerunning = 2, disrupted = 3 };

// What the daemon writes (everything but the header and the seqlock).
struct Record {
  Status status = Status::unknown;
  uint64_t disruption_marker = 0;
  std::optional<uint64_t> vm_generation;
  int64_t as_of_ns = 0;
  uint64_t bound_ns = 0;
  uint32_t max_drift_ppb = 0;
  bool from_chrony = false;
  bool stopped = false;
  bool page_watched = false;  // ClockBound's clients then check the page's marker themselves
  int64_t stale_after_ns = 0;
  int64_t void_after_ns = 0;
  bool operator==(const Record&) const = default;
};

// One seqlock attempt on a mapped segment into `copy`; false while a write
// is in progress (the caller retries with seqlock_retry() or gives up);
// `seen` gets the seq it found. The header is not checked.
inline bool try_read(const volatile segment* s, segment& copy, uint32_t& seen) {
  auto* seqp = const_cast<const uint32_t*>(&s->seq);
  uint32_t a = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
  seen = a;
  if (a & 1u) return false;
  auto* src = reinterpret_cast<const volatile uint64_t*>(s);
  auto* dst = reinterpret_cast<uint64_t*>(&copy);
  for (size_t i = 0; i < sizeof(segment) / 8; ++i)
    dst[i] = __atomic_load_n(const_cast<const uint64_t*>(&src[i]), __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_acquire);
  return __atomic_load_n(seqp, __ATOMIC_RELAXED) == a;
}

inline std::optional<segment> try_read(const volatile segment* s) {
  segment copy;
  uint32_t seen;
  if (!try_read(s, copy, seen)) return std::nullopt;
  return copy;
}

inline Record to_record(const segment& s) {
  Record r;
  r.status = static_cast<Status>(s.status);
  r.disruption_marker = s.disruption_marker;
  if (s.flags & kFlagGeneration) r.vm_generation = s.vm_generation;
  r.as_of_ns = s.as_of_ns;
  r.bound_ns = s.bound_ns;
  r.max_drift_ppb = s.max_drift_ppb;
  r.from_chrony = (s.flags & kFlagFromChrony) != 0;
  r.stopped = (s.flags & kFlagStopped) != 0;
  r.page_watched = (s.flags & kFlagPageWatched) != 0;
  r.stale_after_ns = s.stale_after_ns;
  r.void_after_ns = s.void_after_ns;
  return r;
}

// The bound at `now_ns` from a record: grown by the drift rate since
// as_of (rounded up), FREERUNNING when stale, UNKNOWN past void, or when
// the system clock reads more than a second before as_of (it was stepped
// back: the bound no longer describes it).
struct Grown {
  Status status = Status::unknown;
  uint64_t bound_ns = 0;
  enum class Why { none, not_synchronized, stopped, void_, stepped_back, overflow } why = Why::none;
};

inline Grown grow(const Record& r, int64_t now_ns) {
  Grown g;
  if (r.stopped) { g.why = Grown::Why::stopped; return g; }
  if (r.status != Status::synchronized && r.status != Status::freerunning) {
    g.status = r.status == Status::disrupted ? Status::disrupted : Status::unknown;
    g.why = Grown::Why::not_synchronized;
    return g;
  }
  // libvmclock's now() runs this on every call: 64-bit steps, and 128 bits
  // only where 64 would overflow (a 128-bit division is a library call).
  int64_t elapsed;
  if (__builtin_sub_overflow(now_ns, r.as_of_ns, &elapsed)) [[unlikely]] {
    // Centuries apart: past any void_after_ns, or far before as_of.
    g.why = now_ns > r.as_of_ns ? Grown::Why::void_ : Grown::Why::stepped_back;
    return g;
  }
  if (elapsed < -1'000'000'000) { g.why = Grown::Why::stepped_back; return g; }
  if (elapsed < 0) elapsed = 0;  // the daemon wrote it between our clock read and our segment read
  if (elapsed > r.void_after_ns) { g.why = Grown::Why::void_; return g; }
  // ns * ppb / 1e9, rounded up: in one 64-bit product while it fits (two
  // weeks at 15 ppm), else whole seconds times ppb (exact) plus the rest.
  const auto e = static_cast<uint64_t>(elapsed);
  uint64_t growth;
  if (uint64_t p; !__builtin_mul_overflow(e, uint64_t{r.max_drift_ppb}, &p) && p <= UINT64_MAX - 999'999'999)
      [[likely]] {
    growth = (p + 999'999'999) / 1'000'000'000;
  } else {
    __extension__ using u128 = unsigned __int128;
    const u128 big = static_cast<u128>(e / 1'000'000'000) * r.max_drift_ppb +
                     (e % 1'000'000'000 * r.max_drift_ppb + 999'999'999) / 1'000'000'000;
    if (big > INT64_MAX) { g.why = Grown::Why::overflow; return g; }
    growth = static_cast<uint64_t>(big);
  }
  uint64_t b;
  if (__builtin_add_overflow(r.bound_ns, growth, &b) || b > INT64_MAX) { g.why = Grown::Why::overflow; return g; }
  g.bound_ns = b;
  g.status = (r.status == Status::freerunning || elapsed > r.stale_after_ns) ? Status::freerunning
                                                                            : Status::synchronized;
  return g;
}

}  // namespace vmc::bound
