// SPDX-License-Identifier: Apache-2.0
// libvmclock's arithmetic on arbitrary numbers. Input: 8 bytes counter, 8
// bytes CLOCK_REALTIME, 4 bytes UTC adjustment, then a page (112 bytes) or,
// when shorter, a bound segment (72 bytes).
//  - FastBound (src/core/bound_math.h) against time_at(): whenever both answer,
//    the fast bound is never below the exact one and at most 3 ns above.
//  - bound::grow (src/core/bound_segment.h) never wraps: a bound it gives is at
//    least the published one and only for a SYNCHRONIZED/FREERUNNING record.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "bound_math.h"
#include "bound_segment.h"
#include "page.h"
#include "time_math.h"

using namespace vmc;

namespace {

void check_segment(const uint8_t* data, size_t size, int64_t now) {
  if (size < sizeof(bound::segment)) return;
  bound::segment s;
  std::memcpy(&s, data, sizeof s);
  bound::Record r = bound::to_record(s);
  bound::Grown g = bound::grow(r, now);
  const bool claims = g.status == bound::Status::synchronized || g.status == bound::Status::freerunning;
  if (claims && (g.why != bound::Grown::Why::none || g.bound_ns < r.bound_ns || r.stopped)) __builtin_trap();
  if (claims && r.status != bound::Status::synchronized && r.status != bound::Status::freerunning) __builtin_trap();
}

void check_page(const uint8_t* data, size_t size, uint64_t counter, int64_t rt, int adj) {
  auto p = decode(std::span<const uint8_t>(data, size));
  if (!p) return;
  auto f = FastBound::from(*p, adj);
  if (!f) return;
  auto fast = f->at(counter, rt);
  if (!fast) return;
  auto t = time_at(*p, counter);
  if (!t) return;
  if (!t->maxerror_ns) __builtin_trap();  // FastBound answered where time_at has no bound
  __extension__ using i128 = __int128;
  __extension__ using u128 = unsigned __int128;
  i128 tq = (static_cast<i128>(t->time.sec.count + adj) * kNsPerSec << 64) +
            static_cast<i128>(static_cast<u128>(t->time.frac.raw) * kNsPerSec);
  i128 off = tq - (static_cast<i128>(rt) << 64);
  u128 a = off < 0 ? static_cast<u128>(-off) : static_cast<u128>(off);
  u128 exact = (a >> 64) + ((static_cast<uint64_t>(a) != 0) ? 1 : 0) + *t->maxerror_ns;
  if (static_cast<u128>(*fast) < exact || static_cast<u128>(*fast) > exact + 3) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 20 || size > 20 + abi::kPageBytes) return -1;
  uint64_t counter;
  int64_t rt;
  int32_t adj;
  std::memcpy(&counter, data, 8);
  std::memcpy(&rt, data + 8, 8);
  std::memcpy(&adj, data + 16, 4);
  adj %= 64;  // TAI - UTC is tens of seconds, either sign convention
  check_segment(data + 20, size - 20, rt);
  check_page(data + 20, size - 20, counter, rt, adj);
  return 0;
}
