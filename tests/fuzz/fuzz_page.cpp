// SPDX-License-Identifier: Apache-2.0
// Page decoding and validity on arbitrary bytes: the first 8 bytes are a
// counter reading, the rest (104..65536 bytes: abi::kMaxPageBytes) the page. decode, assess
// (native and foreign counter), time_at, sample_from, the JSON and text
// dumps, and take_snapshot on a memory page holding the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "page.h"
#include "page_json.h"
#include "page_source.h"
#include "cross_timestamp.h"
#include "time_math.h"
#include "validity.h"

using namespace vmc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8 + abi::kMinSize || size > 8 + abi::kMaxPageBytes) return -1;
  uint64_t counter;
  std::memcpy(&counter, data, 8);
  std::span<const uint8_t> bytes(data + 8, size - 8);

  auto page = decode(bytes);
  if (page) {
    // A decoded page re-encodes to the same fields.
    uint8_t buf[sizeof(abi::vmclock_abi)];
    encode(*page, buf);
    auto again = decode(std::span<const uint8_t>(buf, std::min<size_t>(page->size, sizeof buf)));
    if (page->size <= sizeof buf && (!again || !(*again == *page))) __builtin_trap();

    for (auto native : {abi::CounterId::x86_tsc, abi::CounterId::arm_vcnt}) {
      Validity v = assess(*page, native);
      (void)describe(v.reason, *page);
      (void)name(v.reason);
      (void)name(v.tai_convention);
    }
    auto t = time_at(*page, counter);
    if (t) {
      (void)t->time.nsec_floor();
      (void)format_utc(t->time);
    }
    Snapshot s;
    s.page = *page;
    s.counter = counter;
    s.before = SysTime{static_cast<int64_t>(counter >> 2)};
    s.after = SysTime{s.before.ns + static_cast<int64_t>(counter & 0xffff)};
    auto o = sample_from(s, abi::CounterId::x86_tsc);
    if (o.sample) (void)o.sample->offset;
    (void)page_to_json(*page).dump();
    (void)page_to_text(*page);
  }

  // The same bytes as a live page, read under the seqlock (no retries: an
  // odd seq_count is an error at once instead of 100 ms of spinning).
  MemoryPageSource src(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) src.writable()[i] = bytes[i];
  auto snap = take_snapshot(src, SeqlockLimits{.max_retries = 0, .time_limit_ns = 0});
  if (snap) (void)sample_from(*snap);
  return 0;
}
