// SPDX-License-Identifier: Apache-2.0
// chronyd command replies (and requests) on arbitrary bytes. A decoded
// reply re-encodes to bytes that decode to the same reply; so does a
// decoded RPY_TRACKING payload (its Floats included: every Float chrony
// can send decodes to a double that encodes back to the same value).
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
  auto t = decode_tracking(bytes);
  if (t) {
    if (!r) __builtin_trap();  // a tracking reply is a reply
    (void)to_string(t->ip_addr);
    (void)refid_name(t->ref_id);
    (void)leap_name(t->leap_status);
    auto enc = encode_tracking_reply(*r, *t);
    auto again = decode_tracking(enc);
    if (!again || !(*again == *t)) __builtin_trap();
    auto head = decode_reply(enc);
    if (!head || !(*head == *r)) __builtin_trap();
  }
  auto q = decode_request(bytes);
  if (q) {
    auto again = decode_request(encode_request(*q));
    if (!again || !(*again == *q)) __builtin_trap();
  }
  return 0;
}
