// SPDX-License-Identifier: Apache-2.0
#pragma once
// What every vmclockctl command prints the same way: errors (the message on
// stderr, the sysexits code as the exit status), JSON lines, durations.
#include <signal.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "result.h"

namespace vmc::cli {

int fail(const Error& e);
void print_json(const nlohmann::json& j);
// "850 ns", "12.500 us", "3.200 ms"; "-" for none.
std::string fmt_ns(std::optional<int64_t> v);
// Set by SIGINT/SIGTERM: the repeating commands stop at the next line.
extern volatile sig_atomic_t g_stop;

}  // namespace vmc::cli
