// SPDX-License-Identifier: Apache-2.0
#pragma once
// A counter value as given on the command line (`time --counter N`): the
// whole string a decimal or 0x-hexadecimal number that fits in 64 bits.
// A sign, a blank, trailing characters or a value past 2^64-1 are refused
// (strtoull would wrap "-5" and saturate an over-long value silently).
#include <cstdint>
#include <string_view>

#include "result.h"

namespace vmc::cli {

// Errc::usage naming the value and why.
Result<uint64_t> parse_counter(std::string_view text);

}  // namespace vmc::cli
