// SPDX-License-Identifier: Apache-2.0
#include "cli_output.h"

#include <cstdlib>
#include <fmt/format.h>

namespace vmc::cli {

volatile sig_atomic_t g_stop = 0;

int fail(const Error& e) {
  fmt::print(stderr, "vmclockctl: {}\n", e.message);
  return static_cast<int>(e.code);
}

void print_json(const nlohmann::json& j) { fmt::print("{}\n", j.dump()); }

std::string fmt_ns(std::optional<int64_t> v) {
  if (!v) return "-";
  const int64_t ns = *v;
  if (std::llabs(ns) < 10'000) return fmt::format("{} ns", ns);
  if (std::llabs(ns) < 10'000'000) return fmt::format("{:.3f} us", static_cast<double>(ns) / 1e3);
  return fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6);
}

}  // namespace vmc::cli
