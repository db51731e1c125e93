// SPDX-License-Identifier: Apache-2.0
// vmclockctl waitsync: waits until what an application linking libvmclock
// would get is SYNCHRONIZED within a bound, as chronyc waitsync does for
// chronyd; vmclockd-wait-sync.service runs it at boot so that a database
// unit can be ordered after it. Exit 0 then, Errc::temp_fail (75) on
// timeout; a page or segment that is not there yet is waited for.
#include <poll.h>
#include <time.h>

#include <cerrno>
#include <cinttypes>
#include <fmt/format.h>

#include "cli_output.h"
#include "commands.h"
#include "units.h"
#include "vmclock/vmclock.h"

namespace vmc::cli {

using nlohmann::json;

namespace {

constexpr int kPollMs = 100;
constexpr int64_t kProgressNs = 5 * kNsPerSec;

int64_t mono_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * kNsPerSec + t.tv_nsec;
}

struct Seen {
  std::string status = "unknown";
  std::optional<uint64_t> bound_ns;
  std::string why;
};

}  // namespace

int cmd_waitsync(const WaitSyncOptions& o) {
  vmclock_options vo{};
  vo.size = sizeof vo;
  vo.page_path = o.page.c_str();
  vo.segment_path = o.segment.c_str();
  vmclock_t* c = nullptr;
  const int64_t start = mono_ns();
  const int64_t deadline = o.timeout_s > 0 ? start + static_cast<int64_t>(o.timeout_s * 1e9) : INT64_MAX;
  int64_t next_progress = start + kProgressNs;
  Seen seen;
  bool synced = false;
  while (!g_stop) {
    if (!c && vmclock_open(&c, &vo) != 0) {
      c = nullptr;
      seen = Seen{"unknown", std::nullopt, vmclock_open_error()};
    }
    if (c) {
      vmclock_bound b;
      vmclock_now(c, &b, sizeof b);
      const bool bounded = b.status == VMCLOCK_SYNCHRONIZED || b.status == VMCLOCK_FREERUNNING;
      seen = Seen{vmclock_status_name(b.status), bounded ? std::optional<uint64_t>(b.bound_ns) : std::nullopt,
                  vmclock_why(c)};
      if (b.status == VMCLOCK_SYNCHRONIZED && b.bound_ns <= o.max_bound_ns) {
        synced = true;
        break;
      }
      if (b.status == VMCLOCK_SYNCHRONIZED)
        seen.why = fmt::format("bound {} is wider than --max-bound {}", fmt_ns(static_cast<int64_t>(b.bound_ns)),
                               fmt_ns(static_cast<int64_t>(o.max_bound_ns)));
    }
    const int64_t now = mono_ns();
    if (now >= deadline) break;
    if (now >= next_progress && !o.as_json) {
      fmt::print(stderr, "vmclockctl waitsync: {:.0f} s: {}{}{}\n", static_cast<double>(now - start) / 1e9,
                 seen.status, seen.bound_ns ? " +- " + fmt_ns(static_cast<int64_t>(*seen.bound_ns)) : "",
                 seen.why.empty() ? "" : ": " + seen.why);
      next_progress = now + kProgressNs;
    }
    ::poll(nullptr, 0, static_cast<int>(std::min<int64_t>(kPollMs, (deadline - now) / 1'000'000 + 1)));
  }
  if (c) vmclock_close(c);
  const double waited = static_cast<double>(mono_ns() - start) / 1e9;
  if (o.as_json) {
    print_json({{"synchronized", synced},
                {"status", seen.status},
                {"bound_ns", seen.bound_ns ? json(*seen.bound_ns) : json(nullptr)},
                {"waited_s", waited},
                {"why", synced || seen.why.empty() ? json(nullptr) : json(seen.why)}});
  } else if (synced) {
    fmt::print("synchronized +- {} after {:.1f} s\n", fmt_ns(static_cast<int64_t>(*seen.bound_ns)), waited);
  } else {
    fmt::print(stderr, "vmclockctl waitsync: {} after {:.1f} s: {}{}\n", g_stop ? "interrupted" : "timed out", waited,
               seen.status, seen.why.empty() ? "" : ": " + seen.why);
  }
  return synced ? 0 : static_cast<int>(Errc::temp_fail);
}

}  // namespace vmc::cli
