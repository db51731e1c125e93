// SPDX-License-Identifier: Apache-2.0
#pragma once
// Cross-timestamps with the page's calibration decoded once per seq_count,
// as libvmclock's now() does. While seq_count is the one the cache was
// built from, a sample is: load seq_count, clock_gettime, counter read,
// clock_gettime, load seq_count, and integer arithmetic that gives the
// same Sample as sample_from(take_snapshot()) bit for bit (reference to
// the 2^-64 s, maxerror and esterror to the ns). A new seq_count, a new
// mapping or a source that copies with pread() takes the full path
// (take_snapshot: copy, decode, assess) and rebuilds the cache.
#include <cstdint>
#include <optional>
#include <string>

#include "bus_guard.h"
#include "counter.h"
#include "page.h"
#include "page_source.h"
#include "cross_timestamp.h"
#include "seqlock.h"
#include "units.h"
#include "validity.h"

namespace vmc {

class Sampler {
 public:
  explicit Sampler(PageSource& src, SeqlockLimits lim = {}, abi::CounterId native = kNativeCounter)
      : src_(src), lim_(lim), native_(native) {}

  // One cross-timestamp. An error is what take_snapshot() would return (a
  // page error); otherwise true with `out` set to what sample_from() gives
  // for the same readings, or false with why_not() saying why (`out` is
  // then unspecified).
  Result<bool, PageError> sample(Sample& out) {
    Reading r;
    if (!read_fast(r)) {
      if (auto s = read_slow(r); !s) return s.error();
    }
    return compute(r, out);
  }

  // best_sample() over the cache: the narrowest bracket of `attempts`, a
  // disruption between attempts restarting the choice; the outcome is
  // sample_from() of the winner, so identical in every field; errors as
  // best_sample()'s.
  Result<SampleOutcome, PageError> best(unsigned attempts);

  // The calibration the last sample used (valid after a successful one).
  const Page& page() const { return cal_.page; }
  const Validity& validity() const { return cal_.validity; }
  // Why the last sample() returned false.
  const std::string& why_not() const { return why_not_; }
  // Full copies and decodes so far (a new seq_count, mapping, or pread).
  uint64_t slow_reads() const { return slow_reads_; }
  // Samples computed with time_at() (outside the cached arithmetic's range,
  // or refused) rather than with the cached constants.
  uint64_t exact_fallbacks() const { return fallbacks_; }

  // How long a read may wait for the host to finish an update: the daemon
  // shortens it while the page is stuck mid-update.
  void set_limits(SeqlockLimits lim) { lim_ = lim; }

  // Drops the cache: the next sample copies and decodes the page.
  void invalidate() { cal_.seq = 1; }
  // The source's refresh(), then invalidate(): a file replaced by rename
  // may be mapped at the same address with the same seq_count, which the
  // cache alone could not tell apart.
  Status refresh() {
    invalidate();
    return src_.refresh();
  }

 private:
  struct Reading {
    uint64_t counter = 0;
    SysTime before{}, after{};
    uint32_t retries = 0;
  };

  // What the cache holds for one (mapping, seq_count).
  struct Calibration {
    uint32_t seq = 1;  // odd: nothing cached
    const volatile uint8_t* base = nullptr;
    size_t len = 0;
    // PageSource::mapping_is_stable(); a mapping that is not is asked for
    // its view on every sample and read under the guard.
    bool stable = false;
    Page page;
    Validity validity;
    // The fast arithmetic, for 0 <= counter - counter_value < fast_end;
    // install() admits a range only where every step below is exact in
    // 64-bit words (0: never fast). Time and bounds grow with the delta,
    // so the checks at the end of the range hold for all of it.
    uint64_t fast_end = 0;
    uint64_t counter_value = 0;
    uint64_t time_lo = 0;  // time_frac_sec
    int64_t time_hi = 0;   // time_sec + utc_minus_page_sec, below 2^33: seconds * 1e9 fits int64
    uint64_t period = 0, max_rate = 0, est_rate = 0;
    uint64_t round_up = 0;  // 2^shift - 1
    uint8_t shift = 0;      // < 64
    enum class Est : uint8_t { none, at_counter_value, growing } est = Est::none;
    uint64_t max_ns = 0, est_ns = 0;
    Leap leap = Leap::none;
  };

  // seq_count unchanged, same mapping: the bracket in the seqlock window
  // without the copy. False: take the slow path.
  bool read_fast(Reading& r) {
    if ((cal_.seq & 1u) != 0) return false;
    if (!cal_.stable) return read_fast_guarded(r);
    return window(cal_.base, cal_.seq, r);
  }

  static bool window(const volatile uint8_t* b, uint32_t seq, Reading& r) {
    return seqlock_window(b, seq, [&] {
      r.before = realtime_now();
      r.counter = read_counter();
      r.after = realtime_now();
    });
  }

  bool read_fast_guarded(Reading& r);
  Result<Ok, PageError> read_slow(Reading& r);
  void install(const Page& p, const volatile uint8_t* base, size_t len, bool stable);

  // error_growth_ns() where its result is below 1 s: ceil of d * rate /
  // 2^shift in 2^-64 s (which then fits 64 bits), then ceil to ns.
  static uint64_t growth_ns(uint64_t d, uint64_t rate, uint8_t shift, uint64_t round_up) {
    const uint64_t q = static_cast<uint64_t>((static_cast<u128>(d) * rate + round_up) >> (shift & 63));
    const u128 ns = static_cast<u128>(q) * 1'000'000'000u;
    return static_cast<uint64_t>(ns >> 64) + (static_cast<uint64_t>(ns) != 0 ? 1 : 0);
  }

  bool compute(const Reading& r, Sample& out) {
    const Calibration& c = cal_;
    const uint64_t d = r.counter - c.counter_value;  // negative deltas wrap past fast_end
    const int64_t bracket = r.after.ns - r.before.ns;
    if (d < c.fast_end && bracket >= 0) {
      // time_at() for a non-negative delta (the step floored), in UTC.
      const u128 step = (static_cast<u128>(d) * c.period) >> (c.shift & 63);  // shift < 64
      const u128 lo = static_cast<u128>(c.time_lo) + static_cast<uint64_t>(step);
      const int64_t sec = c.time_hi + static_cast<int64_t>(step >> 64) + static_cast<int64_t>(lo >> 64);
      const uint64_t frac = static_cast<uint64_t>(lo);
      // diff_ns(): the page time in ns rounded to nearest (half up), an
      // integer minus another; no wrap for sec < 2^33.
      const u128 frac_ns = static_cast<u128>(frac) * 1'000'000'000u;
      const int64_t ref_ns = sec * kNsPerSec + static_cast<int64_t>(frac_ns >> 64) +
                             static_cast<int64_t>(static_cast<uint64_t>(frac_ns) >> 63);
      const int64_t system = r.before.ns + bracket / 2;
      int64_t offset;
      if (!__builtin_sub_overflow(ref_ns, system, &offset)) {
        const uint64_t half = static_cast<uint64_t>((bracket + 1) / 2);
        out.counter = r.counter;
        out.reference = Time64{Seconds{sec}, Frac64{frac}};
        out.system = SysTime{system};
        out.offset = Nanoseconds{offset};
        out.bracket_ns = bracket;
        out.maxerror_ns = c.max_ns + growth_ns(d, c.max_rate, c.shift, c.round_up) + half;
        if (c.est == Calibration::Est::growing)
          out.esterror_ns = c.est_ns + growth_ns(d, c.est_rate, c.shift, c.round_up) + half;
        else if (c.est == Calibration::Est::at_counter_value && d == 0)
          out.esterror_ns = c.est_ns + half;
        else
          out.esterror_ns.reset();
        out.leap = c.leap;
        out.disruption_marker = c.page.disruption_marker;
        out.vm_generation_counter = c.page.vm_generation_counter;
        out.seq = c.seq;
        return true;
      }
    }
    return compute_slow(r, out);
  }

  bool compute_slow(const Reading& r, Sample& out);

  PageSource& src_;
  SeqlockLimits lim_;
  abi::CounterId native_;
  Calibration cal_;
  std::string why_not_;
  uint64_t slow_reads_ = 0;
  uint64_t fallbacks_ = 0;
};

}  // namespace vmc
