// SPDX-License-Identifier: Apache-2.0
// vmclockd.toml parsing on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.h"
#include "config_ptp4l.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  auto c = vmc::parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  if (!c) {
    // Every refusal says why.
    if (c.error().message.empty()) __builtin_trap();
    return 0;
  }
  // What the file took, the plugin takes: the table's bounds are the plugin's.
  auto o = vmc::ptp4l_options(*c);
  if (o.has_value() != c->ptp4l.has_value()) __builtin_trap();
  if (o && !vmc::ptp::validate(*o)) __builtin_trap();
  return 0;
}
