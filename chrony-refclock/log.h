#pragma once
// Where the chrony-facing modules report incidents. Each module prefixes its
// lines ("shm:", "sock:", "chronyc:") and logs an incident once, not once per
// sample, so the daemon can pass its own logger straight through.
#include <functional>
#include <string_view>

namespace vmc::chrony {

using LogFn = std::function<void(std::string_view)>;

inline void log_line(const LogFn& fn, std::string_view line) {
  if (fn) fn(line);
}

}  // namespace vmc::chrony
