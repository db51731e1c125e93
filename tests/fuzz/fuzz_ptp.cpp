// SPDX-License-Identifier: Apache-2.0
// PTP management messages (ptp4l's replies) on arbitrary bytes. A decoded
// RESPONSE re-encodes to bytes that decode to the same message.
#include <cstddef>
#include <cstdint>

#include "ptp_wire.h"

using namespace vmc::ptp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2 * kMaxMessageBytes) return -1;
  auto m = decode_message(std::span<const uint8_t>(data, size));
  if (!m) return 0;
  (void)to_string(m->source);
  (void)name(m->action);
  (void)management_id_name(m->management_id);
  if (const auto* e = std::get_if<ErrorStatus>(&m->payload)) (void)describe_error(*e, m->management_id);
  if (m->action == Action::response || m->action == Action::acknowledge) {
    auto again = decode_message(encode_message(*m));
    if (!again || !(*again == *m)) __builtin_trap();
  }
  return 0;
}
