// SPDX-License-Identifier: Apache-2.0
// Parsing a counter value strictly (counter_arg.h).
#include "counter_arg.h"

#include <charconv>
#include <fmt/format.h>

namespace vmc::cli {

Result<uint64_t> parse_counter(std::string_view text) {
  auto refuse = [&](std::string_view why) {
    return make_error(Errc::usage, fmt::format("--counter {}: {}", text, why));
  };
  std::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  if (digits.empty()) return refuse("not a number");
  if (digits[0] == '-' || digits[0] == '+') return refuse("must be an unsigned number, without a sign");
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (ec == std::errc::result_out_of_range) return refuse("larger than a 64-bit counter (18446744073709551615)");
  if (ec != std::errc{} || end != digits.data() + digits.size())
    return refuse(base == 16 ? "not a hexadecimal number" : "not a decimal or 0x-hexadecimal number");
  return v;
}

}  // namespace vmc::cli
