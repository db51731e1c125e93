#include <cstdlib>

#include "page_source.h"

namespace vmc {

MemoryPageSource::MemoryPageSource(size_t len)
    : PageSource("<memory>"), buf_(static_cast<volatile uint8_t*>(::aligned_alloc(64, (len + 63) / 64 * 64))), len_(len) {
  for (size_t i = 0; i < len_; ++i) buf_.get()[i] = 0;
}
void MemoryPageSource::Free::operator()(volatile uint8_t* p) const { ::free(const_cast<uint8_t*>(p)); }

}  // namespace vmc
