// chronyd command replies (and requests) on arbitrary bytes. A decoded
// reply re-encodes to bytes that decode to the same reply.
#include <cstddef>
#include <cstdint>

#include "chrony_cmd_wire.h"

using namespace vmc::chrony::cmd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto r = decode_reply(bytes);
  if (r) {
    (void)command_name(r->command);
    (void)status_name(r->status);
    auto again = decode_reply(encode_reply(*r));
    if (!again || !(*again == *r)) __builtin_trap();
  }
  auto q = decode_request(bytes);
  if (q) {
    auto again = decode_request(encode_request(*q));
    if (!again || !(*again == *q)) __builtin_trap();
  }
  return 0;
}
