// SPDX-License-Identifier: Apache-2.0
// Exactness of time_at() against two truths computed another way:
//  1. exact: schoolbook arithmetic on 32-bit limbs (no __int128, no shared
//     code with time_math.cpp): the result must match bit for bit, in units
//     of 2^-64 s, and out-of-range results must be refused, never wrapped;
//  2. long double: |page ns - truth ns| must stay under 1 ns (the page's
//     nanoseconds are floored) on realistic calibrations.
// Also the maximum error bound against its exact ceiling.
// Usage: bench_exactness [N [SEED]]; prints JSON, exit 1 on any mismatch.
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "time_math.h"

using namespace vmc;

namespace {

// Little-endian 32-bit limbs, 256 bits, two's complement.
using Big = std::array<uint32_t, 8>;

Big from_u64(uint64_t v, int limb = 0) {
  Big b{};
  b[limb] = static_cast<uint32_t>(v);
  b[limb + 1] = static_cast<uint32_t>(v >> 32);
  return b;
}
Big add(const Big& a, const Big& b) {
  Big r{};
  uint64_t carry = 0;
  for (int i = 0; i < 8; ++i) {
    uint64_t s = uint64_t{a[i]} + b[i] + carry;
    r[i] = static_cast<uint32_t>(s);
    carry = s >> 32;
  }
  return r;
}
Big neg(const Big& a) {
  Big r{};
  for (int i = 0; i < 8; ++i) r[i] = ~a[i];
  return add(r, from_u64(1));
}
Big sub(const Big& a, const Big& b) { return add(a, neg(b)); }
bool negative(const Big& a) { return a[7] >> 31; }
Big mul(const Big& a, const Big& b) {  // both non-negative, result mod 2^256
  Big r{};
  for (int i = 0; i < 8; ++i) {
    uint64_t carry = 0;
    for (int j = 0; i + j < 8; ++j) {
      uint64_t cur = uint64_t{a[i]} * b[j] + r[i + j] + carry;
      r[i + j] = static_cast<uint32_t>(cur);
      carry = cur >> 32;
    }
  }
  return r;
}
Big shr(const Big& a, unsigned s) {  // logical, a non-negative
  Big r{};
  unsigned limbs = s / 32, bits = s % 32;
  for (unsigned i = 0; i < 8; ++i) {
    unsigned k = i + limbs;
    if (k >= 8) break;
    uint64_t lo = a[k] >> bits;
    uint64_t hi = (bits && k + 1 < 8) ? uint64_t{a[k + 1]} << (32 - bits) : 0;
    r[i] = static_cast<uint32_t>(lo | hi);
  }
  return r;
}
int cmp(const Big& a, const Big& b) {  // signed compare
  bool na = negative(a), nb = negative(b);
  if (na != nb) return na ? -1 : 1;
  for (int i = 7; i >= 0; --i)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
Big pow2(unsigned s) {  // 2^s for s < 256
  Big r{};
  r[s / 32] = uint32_t{1} << (s % 32);
  return r;
}
uint64_t u64_at(const Big& a, int limb) { return uint64_t{a[limb]} | uint64_t{a[limb + 1]} << 32; }

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  double unit() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
};

}  // namespace

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  SplitMix rng{argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1};
  const Big two64 = from_u64(1, 2);
  const Big kMax = mul(from_u64(static_cast<uint64_t>(std::numeric_limits<int64_t>::max())), two64);  // (2^63-1) * 2^64
  uint64_t checked = 0, realistic = 0, refused_ok = 0, mismatches = 0, ld_checked = 0, err_checked = 0;
  uint64_t err_under = 0;
  long double max_ld_diff_ns = 0;
  int64_t max_err_diff = 0;
  for (uint64_t i = 0; i < n; ++i) {
    Page p;
    uint64_t counter;
    const bool real = (i & 1) == 0;
    if (real) {
      // A calibration a host could publish: 0.1 .. 5 GHz, any valid shift,
      // deltas up to 2^44 ticks (hours) either way.
      double hz = 1e8 + rng.unit() * 4.9e9;
      int max_shift = static_cast<int>(std::floor(std::log2(hz))) - 1;
      p.counter_period_shift = static_cast<uint8_t>(rng.below(static_cast<uint64_t>(std::min(max_shift, 40)) + 1));
      long double period = std::ldexp(1.0L, 64 + p.counter_period_shift) / static_cast<long double>(hz);
      p.counter_period_frac_sec = static_cast<uint64_t>(period) ^ rng.below(1024);
      p.counter_period_maxerror_rate_frac_sec = p.counter_period_frac_sec >> rng.below(40);
      p.time_sec = rng.below(uint64_t{1} << 34);
      p.time_frac_sec = rng.next();
      p.counter_value = rng.next();
      uint64_t mag = rng.below(uint64_t{1} << rng.below(45));
      counter = (rng.next() & 1) ? p.counter_value + mag : p.counter_value - mag;
      p.time_maxerror_nanosec = rng.below(1'000'000);
      p.flags = abi::Flags{}.with(abi::Flag::time_maxerror_valid).with(abi::Flag::period_maxerror_valid);
      ++realistic;
    } else {
      // Anything: every field random, including absurd shifts and times.
      p.counter_period_shift = static_cast<uint8_t>(rng.next());
      p.counter_period_frac_sec = rng.next() >> rng.below(64);
      p.time_sec = rng.next() >> rng.below(64);
      p.time_frac_sec = rng.next();
      p.counter_value = rng.next();
      counter = rng.next() >> rng.below(64);
    }
    auto r = time_at(p, counter);

    // Truth 1: exact integer arithmetic on limbs.
    const int64_t sdelta = static_cast<int64_t>(counter - p.counter_value);
    const uint64_t mag = sdelta < 0 ? uint64_t{0} - static_cast<uint64_t>(sdelta) : static_cast<uint64_t>(sdelta);
    // Backwards, the step is rounded up so that the time is floored.
    Big prod = mul(from_u64(mag), from_u64(p.counter_period_frac_sec));
    Big step = shr(prod, p.counter_period_shift);
    if (sdelta < 0 && cmp(prod, mul(step, pow2(p.counter_period_shift))) != 0) step = add(step, from_u64(1));
    Big base = add(mul(from_u64(p.time_sec), two64), from_u64(p.time_frac_sec));
    Big t = sdelta < 0 ? sub(base, step) : add(base, step);
    bool expect_ok = p.time_sec <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
                     (negative(t) ? cmp(neg(t), kMax) < 0 : cmp(t, add(kMax, sub(two64, from_u64(1)))) <= 0);
    ++checked;
    if (expect_ok != r.ok()) {
      if (++mismatches <= 10)
        fmt::print(stderr, "case {}: time_at {} but the truth is {} (time_sec {} frac {} counter_value {} period {} "
                           "shift {} counter {})\n",
                   i, r.ok() ? "answered" : "refused", expect_ok ? "in range" : "out of range", p.time_sec,
                   p.time_frac_sec, p.counter_value, p.counter_period_frac_sec, p.counter_period_shift, counter);
      continue;
    }
    if (!r.ok()) {
      ++refused_ok;
      continue;
    }
    // floor semantics: seconds = t >> 64 (arithmetic), fraction = low 64 bits.
    const uint64_t want_frac = u64_at(t, 0);
    const int64_t want_sec = static_cast<int64_t>(u64_at(t, 2));
    if (r->time.sec.count != want_sec || r->time.frac.raw != want_frac) {
      if (++mismatches <= 10)
        fmt::print(stderr, "case {}: time_at gives {} + {}/2^64 s, the truth is {} + {}/2^64 s\n", i,
                   r->time.sec.count, r->time.frac.raw, want_sec, want_frac);
      continue;
    }
    // ns floor of the fraction, by limbs.
    const uint64_t want_ns = u64_at(shr(mul(from_u64(want_frac), from_u64(1'000'000'000)), 64), 0);
    if (static_cast<uint64_t>(r->time.nsec_floor().count) != want_ns) {
      if (++mismatches <= 10)
        fmt::print(stderr, "case {}: nsec_floor {} vs {}\n", i, r->time.nsec_floor().count, want_ns);
    }
    if (!real) continue;

    // Truth 2: long double, relative to time_sec to keep its 64-bit mantissa.
    long double rel_s = std::ldexp(static_cast<long double>(p.time_frac_sec), -64) +
                        (sdelta < 0 ? -1.0L : 1.0L) * static_cast<long double>(mag) *
                            std::ldexp(static_cast<long double>(p.counter_period_frac_sec), -(64 + p.counter_period_shift));
    if (std::fabs(rel_s) < 1e5L) {
      long double truth_ns = rel_s * 1e9L;
      long double page_ns = static_cast<long double>(r->time.sec.count - static_cast<int64_t>(p.time_sec)) * 1e9L +
                            static_cast<long double>(r->time.nsec_floor().count);
      long double d = std::fabs(page_ns - truth_ns);
      if (d > max_ld_diff_ns) max_ld_diff_ns = d;
      ++ld_checked;
      if (d >= 1.0L + 1e-3L && ++mismatches <= 10)
        fmt::print(stderr, "case {}: page {} ns vs long double {} ns\n", i, static_cast<double>(page_ns),
                   static_cast<double>(truth_ns));
    }
    // maxerror: time_maxerror_nanosec + ceil(|delta| * rate / 2^(64+shift) s in ns), exactly.
    if (r->maxerror_ns) {
      Big prod = mul(mul(from_u64(mag), from_u64(p.counter_period_maxerror_rate_frac_sec)), from_u64(1'000'000'000));
      unsigned sh = 64u + p.counter_period_shift;
      Big q = shr(prod, sh);
      bool exact = true;
      {
        // prod has bits below `sh` set?  (prod - (q << sh)) != 0
        Big low = prod;
        for (unsigned bit = sh; bit < 256; ++bit) low[bit / 32] &= ~(uint32_t{1} << (bit % 32));
        for (auto w : low) if (w) exact = false;
      }
      uint64_t want_err = u64_at(q, 0) + (exact ? 0 : 1) + p.time_maxerror_nanosec;
      int64_t diff = static_cast<int64_t>(*r->maxerror_ns - want_err);
      if (diff < 0) ++err_under;
      if (std::llabs(diff) > std::llabs(max_err_diff)) max_err_diff = diff;
      ++err_checked;
      if (std::llabs(diff) > 1 && ++mismatches <= 10)
        fmt::print(stderr, "case {}: maxerror {} vs exact ceiling {}\n", i, *r->maxerror_ns, want_err);
    }
  }
  fmt::print("{{\"cases\": {}, \"realistic\": {}, \"refused_out_of_range\": {}, \"exact_mismatches\": {}, "
             "\"long_double_checked\": {}, \"max_abs_diff_ns_vs_long_double\": {:.4f}, \"maxerror_checked\": {}, "
             "\"maxerror_max_diff_ns\": {}, \"maxerror_below_exact_ceiling\": {}}}\n",
             checked, realistic, refused_ok, mismatches, ld_checked, static_cast<double>(max_ld_diff_ns), err_checked,
             max_err_diff, err_under);
  return mismatches ? 1 : 0;
}
