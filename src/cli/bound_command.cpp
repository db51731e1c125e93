// SPDX-License-Identifier: Apache-2.0
// vmclockctl bound: what an application linking libvmclock gets.
#include <poll.h>

#include <cerrno>
#include <fmt/format.h>

#include "cli_output.h"
#include "commands.h"
#include "units.h"
#include "utc_format.h"
#include "vmclock/vmclock.h"

namespace vmc::cli {

using nlohmann::json;

// The interval as an application linking libvmclock sees it.
int cmd_bound(const std::string& page, const std::string& segment, bool as_json, int count, int interval_ms) {
  vmclock_options o{};
  o.size = sizeof o;
  o.page_path = page.c_str();
  o.segment_path = segment.c_str();
  vmclock_t* c = nullptr;
  if (int rc = vmclock_open(&c, &o); rc != 0)
    return fail({rc == -ENOENT || rc == -EACCES ? Errc::no_input : Errc::data, vmclock_open_error()});
  int rc = 0;
  for (int i = 0; (count == 0 || i < count) && !g_stop; ++i) {
    if (i > 0) ::poll(nullptr, 0, interval_ms);
    vmclock_bound b;
    vmclock_now(c, &b, sizeof b);
    const bool valid = b.status == VMCLOCK_SYNCHRONIZED || b.status == VMCLOCK_FREERUNNING;
    rc = valid ? 0 : static_cast<int>(Errc::unavailable);
    auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * kNsPerSec + t.tv_nsec; };
    if (as_json) {
      json j{{"status", vmclock_status_name(b.status)},
             {"source", vmclock_source_name(b.source)},
             {"realtime_ns", ns(b.realtime)},
             {"earliest_ns", valid ? json(ns(b.earliest)) : json(nullptr)},
             {"latest_ns", valid ? json(ns(b.latest)) : json(nullptr)},
             {"bound_ns", valid ? json(b.bound_ns) : json(nullptr)},
             {"disruption_marker", b.disruption_marker},
             {"why", *vmclock_why(c) ? json(vmclock_why(c)) : json(nullptr)}};
      print_json(j);
    } else if (valid) {
      fmt::print("{} +- {} ({}, from the {})\n", format_utc(SysTime{ns(b.realtime)}),
                 fmt_ns(static_cast<int64_t>(b.bound_ns)), vmclock_status_name(b.status),
                 vmclock_source_name(b.source));
    } else {
      fmt::print("{}: no bound: {}\n", vmclock_status_name(b.status), vmclock_why(c));
    }
    std::fflush(stdout);
  }
  vmclock_close(c);
  return rc;
}

}  // namespace vmc::cli
