// SPDX-License-Identifier: Apache-2.0
// A page in process memory (page_source.h), zeroed, 64-byte aligned.
#include <cstdlib>
#include <stdexcept>

#include "page_source.h"

namespace vmc {
namespace {
size_t checked_len(size_t len) {
  if (len > abi::kMaxPageBytes) throw std::length_error("MemoryPageSource: longer than the largest page");
  return len;
}
}  // namespace

MemoryPageSource::MemoryPageSource(size_t len)
    : PageSource("<memory>"),
      buf_(static_cast<volatile uint8_t*>(::aligned_alloc(64, (checked_len(len) + 63) / 64 * 64))),
      len_(len) {
  for (size_t i = 0; i < len_; ++i) buf_.get()[i] = 0;
}
void MemoryPageSource::Free::operator()(volatile uint8_t* p) const { ::free(const_cast<uint8_t*>(p)); }

}  // namespace vmc
