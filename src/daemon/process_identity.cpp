// SPDX-License-Identifier: Apache-2.0
// Reading a process's identity out of /proc (process_identity.h).
#include "process_identity.h"

#include <unistd.h>

#include <charconv>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace vmc {

std::string current_boot_id(const std::string& proc) {
  std::ifstream f(proc + "/sys/kernel/random/boot_id");
  std::string id;
  std::getline(f, id);
  return id;
}

std::optional<uint64_t> start_ticks_from_stat(const std::string& stat_line) {
  const auto close = stat_line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  // After "pid (comm)": field 3 (state) onwards; starttime is field 22.
  std::istringstream in(stat_line.substr(close + 1));
  std::string field;
  for (int n = 3; n <= 22; ++n)
    if (!(in >> field)) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc{} || end != field.data() + field.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> process_start_ticks(int64_t pid, const std::string& proc) {
  if (pid <= 0) return std::nullopt;
  std::ifstream f(fmt::format("{}/{}/stat", proc, pid));
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  return start_ticks_from_stat(line);
}

const ProcessIdentity& self_identity() {
  static const ProcessIdentity me{current_boot_id(), process_start_ticks(::getpid()).value_or(0)};
  return me;
}

}  // namespace vmc
