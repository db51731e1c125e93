// SPDX-License-Identifier: Apache-2.0
// vmclockctl status: the daemon's status file read through its schema
// (status_view.h), so what is shown is what the daemon wrote.
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_output.h"
#include "clock.h"
#include "commands.h"
#include "device_presence.h"
#include "fd.h"
#include "ptp4l_text.h"
#include "status_liveness.h"
#include "status_view.h"
#include "vmclock/vmclock.h"

namespace vmc::cli {

using nlohmann::json;

namespace {
// The file whole, or why not: a directory, a FIFO or a huge file is
// refused before it is read (a directory once aborted the command).
Result<std::string> read_status_file(const std::string& path) {
  constexpr off_t kMaxBytes = 4 << 20;
  Fd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); }));
  if (!fd)
    return make_error(Errc::no_input, fmt::format("{}: cannot open the status file: {}", path, std::strerror(errno)));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0)
    return make_error(Errc::io, fmt::format("{}: cannot stat the status file: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::no_input, fmt::format("{}: not a status file: {}", path,
                                                  S_ISDIR(st.st_mode) ? "a directory" : "not a regular file"));
  if (st.st_size > kMaxBytes)
    return make_error(Errc::data, fmt::format("{}: not a vmclockd status file: {} bytes", path, st.st_size));
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t r = retry_eintr([&] { return ::read(fd.get(), buf, sizeof buf); });
    if (r < 0) return make_error(Errc::io, fmt::format("{}: cannot read the status file: {}", path, std::strerror(errno)));
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > static_cast<size_t>(kMaxBytes))
      return make_error(Errc::data, fmt::format("{}: not a vmclockd status file: over {} bytes", path, kMaxBytes));
  }
  return out;
}

template <class T> std::string or_dash(const std::optional<T>& v) { return v ? fmt::format("{}", *v) : "-"; }

}  // namespace

int cmd_status(const std::string& path, bool as_json) {
  auto text = read_status_file(path);
  if (!text) {
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 || errno != ENOENT) return fail(text.error());
    Error e{Errc::no_input, text.error().message + " (is vmclockd running?)"};
    // The packaged unit does not start without the device: say why there is none.
    auto m = explain_missing_device(VMCLOCK_DEFAULT_PAGE);
    if (m) e.message += "; there is no " VMCLOCK_DEFAULT_PAGE;
    return fail({e.code, explain_open_error(e, m)});
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail({Errc::data, fmt::format("{}: not a vmclockd status file (invalid JSON)", path)});
  auto v = status_from_json(j);
  if (!v) return fail({Errc::data, fmt::format("{}: not a vmclockd status file: {}", path, v.error().message)});
  // A file left by a daemon that stopped, died or hangs is not its health.
  const LivenessVerdict live = judge_liveness(*v, observe_writer(*v));
  const bool running = live.what == Liveness::running;
  const int rc = running ? 0 : static_cast<int>(Errc::unavailable);
  if (as_json) {
    json out = to_json(*v);
    out["live"] = running;
    out["liveness"] = std::string(name(live.what));
    out["not_live"] = running ? json(nullptr) : json(live.text);
    print_json(out);
    return rc;
  }
  if (running || live.what == Liveness::stopped) fmt::print("state        {}\n", name(v->state));
  else fmt::print("state        {}, pid {}, its last state {}\n", live.text, v->pid, name(v->state));
  if (v->reason) fmt::print("reason       {}\n", *v->reason);
  const PageView& page = v->page;
  fmt::print("page         {} ({}), marker {}, generation {}, status {}\n", page.path, page.kind,
             or_dash(page.disruption_marker), or_dash(page.vm_generation_counter), or_dash(page.clock_status));
  fmt::print("leap         {}, smearing hint {}\n", or_dash(page.leap_indicator), or_dash(page.smearing_hint));
  if (!page.watch.empty())
    fmt::print("watch        {}{}\n", page.watch, page.watch_why.empty() ? "" : ": " + page.watch_why);
  // The open error is the reason line already; /sys adds why there is no device.
  if (const auto& m = page.missing; m && m->sysfs) {
    fmt::print("missing      {}: {}\n", m->reason, m->detail);
    fmt::print("sysfs        {}\n", *m->sysfs);
  }
  if (const auto& ls = v->last_sample)
    fmt::print("last sample  {}: offset {}, maxerror {}, bracket {}\n", ls->time, fmt_ns(ls->offset_ns),
               fmt_ns(static_cast<int64_t>(ls->maxerror_ns)), fmt_ns(ls->bracket_ns));
  else
    fmt::print("last sample  none\n");
  const auto& c = v->counters;
  fmt::print("samples      {} sent, {} refused\n", c.samples_sent, c.samples_refused);
  fmt::print("disruptions  {} seen, {} chrony resets sent ({} failed)\n", c.disruptions_seen, c.resets_sent,
             c.resets_failed);
  // A sink that works again shows no error: one from a start before
  // chronyd was up (Permission denied) is history, still in --json.
  for (const auto& s : v->sinks)
    fmt::print("sink         {}: {} ({} published, {} failed){}\n", s.name, s.state, s.published, s.failed,
               s.ok || s.last_error.empty() ? "" : ", last error: " + s.last_error);
  if (const auto& b = v->bound) {
    fmt::print("bound        {} +- {} from {} in {}{}\n", b->status, fmt_ns(static_cast<int64_t>(b->bound_ns)),
               b->source, b->segment.empty() ? "no segment of its own" : b->segment, b->why ? " (" + *b->why + ")" : "");
    if (b->clockbound) fmt::print("clockbound   {}: {}\n", b->clockbound->segment, b->clockbound->state);
  }
  fmt::print("{}", ptp4l_to_text(v->ptp4l));
  fmt::print("updated      {}\n", v->updated);
  return rc;
}

}  // namespace vmc::cli
