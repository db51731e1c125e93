// SPDX-License-Identifier: Apache-2.0
#pragma once
// Which process a pid is: the boot it runs in and when it started, as the
// kernel reports them in /proc. The daemon writes its own into the status
// file; vmclockctl compares them with what the pid is now.
#include <cstdint>
#include <optional>
#include <string>

namespace vmc {

struct ProcessIdentity {
  std::string boot_id;       // /proc/sys/kernel/random/boot_id
  uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat: clock ticks after boot
  bool operator==(const ProcessIdentity&) const = default;
};

// This boot's id; empty when /proc does not say.
std::string current_boot_id(const std::string& proc = "/proc");
// The start time of `pid`, or nullopt when there is no such process.
std::optional<uint64_t> process_start_ticks(int64_t pid, const std::string& proc = "/proc");
// The start time out of the text of a /proc/PID/stat (the command name in
// parentheses may hold spaces and parentheses: fields count from the last ')').
std::optional<uint64_t> start_ticks_from_stat(const std::string& stat_line);
// The calling process, read once.
const ProcessIdentity& self_identity();

}  // namespace vmc
