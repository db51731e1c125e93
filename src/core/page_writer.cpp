// SPDX-License-Identifier: Apache-2.0
#include "page_writer.h"

#include <algorithm>
#include <atomic>
#include <bit>

namespace vmc {

void PageWriter::store_seq(uint32_t v, int order) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  auto* p = reinterpret_cast<uint32_t*>(const_cast<uint8_t*>(base_) + offsetof(abi::vmclock_abi, seq_count));
  __atomic_store_n(p, v, order);
}

void PageWriter::store_body(const Page& p) {
  alignas(8) uint8_t buf[sizeof(abi::vmclock_abi)] = {};
  encode(p, buf);
  size_t n = std::min(len_, sizeof buf);
  auto* dst = reinterpret_cast<uint64_t*>(const_cast<uint8_t*>(base_));
  const auto* src = reinterpret_cast<const uint64_t*>(buf);
  constexpr size_t seq_word = offsetof(abi::vmclock_abi, seq_count) / 8;
  for (size_t i = 0; i < n / 8; ++i) {
    if (i == seq_word) {
      // Keep the odd seq_count in place; write the other half of the word.
      auto* d32 = reinterpret_cast<uint32_t*>(&dst[i]);
      uint32_t lo;
      __builtin_memcpy(&lo, buf + i * 8, 4);
      __atomic_store_n(&d32[0], lo, __ATOMIC_RELAXED);
      continue;
    }
    __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
  }
}

void PageWriter::publish(const Page& p) {
  seq_ |= 1u;  // enter the odd window even if a previous writer left it even
  store_seq(seq_, __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_release);
  store_body(p);
  seq_ += 1;
  store_seq(seq_, __ATOMIC_RELEASE);
}

void PageWriter::publish_stuck(const Page& p) {
  seq_ |= 1u;
  store_seq(seq_, __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_release);
  store_body(p);
}

}  // namespace vmc
