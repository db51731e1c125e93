// SPDX-License-Identifier: Apache-2.0
#include "logging.h"

#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

#include "clock.h"

namespace vmc::log {
namespace {

bool g_debug = false;
Sink g_sink;

// systemd sets JOURNAL_STREAM=dev:ino for the stream stderr is wired to.
bool stderr_is_journal() {
  static const bool is = [] {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    struct stat st{};
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return fmt::format("{}:{}", st.st_dev, st.st_ino) == js;
  }();
  return is;
}

}  // namespace

void set_debug(bool on) { g_debug = on; }
void set_sink(Sink sink) { g_sink = std::move(sink); }

void write(Level lvl, std::string_view module, std::string_view msg) {
  if (lvl == Level::debug && !g_debug) return;
  if (g_sink) {
    g_sink(lvl, module, msg);
    return;
  }
  if (stderr_is_journal()) {
    sd_journal_send("MESSAGE=%.*s: %.*s", static_cast<int>(module.size()), module.data(),
                    static_cast<int>(msg.size()), msg.data(), "PRIORITY=%d", static_cast<int>(lvl),
                    "VMCLOCKD_MODULE=%.*s", static_cast<int>(module.size()), module.data(), nullptr);
    return;
  }
  const int64_t now_ns = realtime_now().ns;
  const time_t sec = static_cast<time_t>(now_ns / kNsPerSec);
  struct tm tm{};
  gmtime_r(&sec, &tm);
  fmt::print(stderr, "{:02}:{:02}:{:02}.{:03} vmclockd: {}: {}\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
             now_ns % kNsPerSec / 1'000'000, module, msg);
  std::fflush(stderr);
}

void prefixed(std::string_view line, Level lvl) {
  auto colon = line.find(": ");
  if (colon == std::string_view::npos) write(lvl, "daemon", line);
  else write(lvl, line.substr(0, colon), line.substr(colon + 2));
}

void Incidents::fail(std::string_view module, const std::string& key, const std::string& msg, Level lvl) {
  auto it = open_.find(key);
  if (it != open_.end() && it->second == msg) return;
  if (it == open_.end()) ++count_;
  open_[key] = msg;
  write(lvl, module, msg);
}

void Incidents::recover(std::string_view module, const std::string& key, const std::string& msg) {
  if (open_.erase(key)) write(Level::notice, module, msg);
}

}  // namespace vmc::log
