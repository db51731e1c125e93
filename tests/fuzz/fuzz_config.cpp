// vmclockd.toml parsing on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  auto c = vmc::parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  if (!c) {
    // Every refusal says why.
    if (c.error().message.empty()) __builtin_trap();
  }
  return 0;
}
