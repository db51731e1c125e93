// SPDX-License-Identifier: Apache-2.0
#include "metrics_text.h"

#include <fmt/format.h>

#include "abi.h"

namespace vmc {
namespace {

// The page's clock_status as its number: the gauge is a number, the view a name.
std::optional<int> clock_status_number(const std::string& n) {
  for (int i = 0; i < 256; ++i)
    if (abi::name(static_cast<abi::ClockStatus>(i)) == n) return i;
  return std::nullopt;
}

}  // namespace

std::string metrics_text(const StatusView& v) {
  std::string o;
  auto metric = [&](std::string_view n, std::string_view type, std::string_view help, auto value) {
    o += fmt::format("# HELP vmclockd_{} {}\n# TYPE vmclockd_{} {}\nvmclockd_{} {}\n", n, help, n, type, n, value);
  };
  o += "# HELP vmclockd_state The daemon's state (1 for the current one).\n# TYPE vmclockd_state gauge\n";
  for (auto s : kAllDaemonStates) o += fmt::format("vmclockd_state{{state=\"{}\"}} {}\n", name(s), s == v.state ? 1 : 0);
  const auto& c = v.counters;
  metric("samples_sent_total", "counter", "Samples sent to chrony.", c.samples_sent);
  metric("samples_refused_total", "counter", "Samples the page could not vouch for.", c.samples_refused);
  metric("disruptions_total", "counter", "Disruption marker or generation changes seen.", c.disruptions_seen);
  metric("chrony_resets_total", "counter", "RESET_SOURCES acknowledged by chronyd.", c.resets_sent);
  metric("chrony_reset_failures_total", "counter", "RESET_SOURCES attempts that failed.", c.resets_failed);
  metric("page_errors_total", "counter", "Page reads that failed.", c.page_errors);
  metric("wakeups_total", "counter", "Times the main loop woke from its sleep.", c.wakeups);
  metric("notifications_total", "counter", "Wake-ups by the vmclock device's notification.", c.notifications);
  if (const auto& s = v.last_sample) {
    metric("offset_seconds", "gauge", "Last sample: reference minus system time.", static_cast<double>(s->offset_ns) / 1e9);
    metric("maxerror_seconds", "gauge", "Last sample: maximum error.", static_cast<double>(s->maxerror_ns) / 1e9);
    metric("bracket_seconds", "gauge", "Last sample: clock_gettime bracket width.",
           static_cast<double>(s->bracket_ns) / 1e9);
  }
  if (v.page.disruption_marker)
    metric("disruption_marker", "gauge", "The page's disruption_marker.", *v.page.disruption_marker);
  if (v.page.clock_status)
    if (auto n = clock_status_number(*v.page.clock_status))
      metric("clock_status", "gauge", "The page's clock_status (0 unknown .. 4 unreliable).", *n);
  if (v.page.vm_generation_counter)
    metric("vm_generation_counter", "gauge", "The page's vm_generation_counter.", *v.page.vm_generation_counter);
  o += "# HELP vmclockd_sink_up Whether a sink reaches chronyd.\n# TYPE vmclockd_sink_up gauge\n";
  for (const auto& s : v.sinks) o += fmt::format("vmclockd_sink_up{{sink=\"{}\"}} {}\n", s.name, s.ok ? 1 : 0);
  return o;
}

}  // namespace vmc
