// SPDX-License-Identifier: Apache-2.0
#pragma once
// Logging for the daemon: to the journal when stderr is connected to it,
// else to stderr. Lines start with the module ("shm:", "sock:", "ptp4l:").
// An Incident logs a failure once and its recovery once, instead of the
// same line every second.
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace vmc::log {

enum class Level { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void write(Level lvl, std::string_view module, std::string_view msg);
void set_debug(bool on);
// Where lines go instead of the journal or stderr (unit tests read what a
// piece logged); null restores the default.
using Sink = std::function<void(Level, std::string_view module, std::string_view msg)>;
void set_sink(Sink sink);

// A line that names its module itself ("sock: connected ..."), as the
// sinks and the ptp4l updater write them.
void prefixed(std::string_view line, Level lvl = Level::info);

inline void err(std::string_view m, std::string_view s) { write(Level::err, m, s); }
inline void warning(std::string_view m, std::string_view s) { write(Level::warning, m, s); }
inline void notice(std::string_view m, std::string_view s) { write(Level::notice, m, s); }
inline void info(std::string_view m, std::string_view s) { write(Level::info, m, s); }
inline void debug(std::string_view m, std::string_view s) { write(Level::debug, m, s); }

class Incidents {
 public:
  // Logs `msg` unless the incident `key` is already open with the same text.
  void fail(std::string_view module, const std::string& key, const std::string& msg, Level lvl = Level::warning);
  // Logs `msg` if `key` was open, and closes it.
  void recover(std::string_view module, const std::string& key, const std::string& msg);
  bool open(const std::string& key) const { return open_.count(key) != 0; }
  size_t count() const { return count_; }

 private:
  std::map<std::string, std::string> open_;
  size_t count_ = 0;
};

}  // namespace vmc::log
