// SPDX-License-Identifier: Apache-2.0
// vmclockctl: look at a vmclock page (dump, time, now, watch) and at the
// daemon's status. Output is for people by default and JSON with --json.
// Exit codes: 0 ok, 64 usage, 65 bad page data, 66 cannot open,
// 69 no time data (now) or no running daemon (status), 74 status file
// unreadable, 78 the vmclockd configuration the page is taken from is bad.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include "page_json.h"
#include "page_source.h"
#include "cross_timestamp.h"
#include "device_presence.h"
#include "cli_output.h"
#include "commands.h"
#include "config.h"
#include "counter_arg.h"
#include "time_math.h"
#include "validity.h"
#include "version.h"
#include "vmclock/vmclock.h"

namespace {

using nlohmann::json;
using namespace vmc;
using vmc::cli::fail;
using vmc::cli::g_stop;
using vmc::cli::print_json;


// An open error says, for a /dev/vmclock* path, why the device is not there.
Result<std::unique_ptr<PageSource>> open_source(const std::string& path) {
  auto src = open_page_source(path);
  if (src) return src;
  return make_error(src.error().code, explain_open_error(src.error(), explain_missing_device(path)));
}

int cmd_dump(PageSource& src, bool as_json) {
  auto s = take_snapshot(src);
  if (!s) return fail(s.error());
  if (as_json) {
    json j = page_to_json(s->page);
    j["source"] = {{"path", src.path()}, {"kind", std::string(src.kind())}};
    print_json(j);
  } else {
    fmt::print("{} ({})\n{}", src.path(), src.kind(), page_to_text(s->page));
  }
  return 0;
}

// Whether a chrony refclock fed from this page could ever get a sample:
// the packaged unit links the refclock into chrony's configuration only
// then, so a disruption-only host gets no dead refclock.
int cmd_carries_time(PageSource& src, bool as_json) {
  auto s = take_snapshot(src);
  if (!s) return fail(s.error());
  const Validity v = assess(s->page);
  const bool time = !v.disruption_only();
  if (as_json) {
    print_json({{"path", src.path()}, {"carries_time", time}, {"counter_id", abi::name_or_undefined(s->page.counter_id)}});
  } else {
    fmt::print("{}: {}\n", src.path(), time ? "carries time" : describe(Unusable::no_counter, s->page));
  }
  return time ? 0 : static_cast<int>(Errc::unavailable);
}

int cmd_time(PageSource& src, uint64_t counter, bool as_json) {
  auto s = take_snapshot(src);
  if (!s) return fail(s.error());
  const Page& p = s->page;
  if (p.counter_id == abi::CounterId::invalid)
    return fail({Errc::unavailable, fmt::format("{}: {}", src.path(), describe(Unusable::no_counter, p))});
  auto t = time_at(p, counter);
  if (!t) return fail({t.error().code, fmt::format("{}: {}", src.path(), t.error().message)});
  auto opt = [](const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  auto tt = abi::name(p.time_type);
  std::string type = tt.empty() ? fmt::format("undefined({})", static_cast<int>(p.time_type)) : std::string(tt);
  if (as_json) {
    print_json({{"time_type", type},
                {"counter", counter},
                {"delta_ticks", t->delta_ticks},
                {"seconds", t->time.sec.count},
                {"nanoseconds", t->time.nsec_floor().count},
                {"frac_sec", t->time.frac.raw},
                {"maxerror_ns", opt(t->maxerror_ns)},
                {"esterror_ns", opt(t->esterror_ns)}});
  } else {
    auto err = [](const std::optional<uint64_t>& v) { return v ? fmt::format("{} ns", *v) : std::string("unknown"); };
    fmt::print("counter {} (delta {} ticks)\n{} time {}.{:09} s", counter, t->delta_ticks, type, t->time.sec.count,
               t->time.nsec_floor().count);
    if (p.time_type == abi::TimeType::utc) fmt::print(" ({})", format_utc(t->time));
    fmt::print("\nmaxerror {}, esterror {}\n", err(t->maxerror_ns), err(t->esterror_ns));
  }
  return 0;
}

int cmd_now(PageSource& src, unsigned attempts, bool as_json) {
  auto o = best_sample(src, attempts);
  if (!o) return fail(o.error());
  if (!o->sample) {
    if (as_json)
      print_json({{"ok", false}, {"reason", std::string(name(o->validity.reason))}, {"message", o->why_not}});
    else
      fmt::print(stderr, "vmclockctl: {}: {}\n", src.path(), o->why_not);
    return static_cast<int>(Errc::unavailable);
  }
  const Sample& s = *o->sample;
  auto est = s.esterror_ns ? json(*s.esterror_ns) : json(nullptr);
  if (as_json) {
    print_json({{"ok", true},
                {"counter", s.counter},
                {"reference_sec", s.reference.sec.count},
                {"reference_nsec", s.reference.nsec_floor().count},
                {"system_ns", s.system.ns},
                {"offset_ns", s.offset.count},
                {"maxerror_ns", s.maxerror_ns},
                {"esterror_ns", est},
                {"bracket_ns", s.bracket_ns},
                {"leap", static_cast<int>(s.leap)},
                {"tai_convention", std::string(name(o->validity.tai_convention))},
                {"disruption_marker", s.disruption_marker}});
  } else {
    fmt::print("reference {}\nsystem    {}\noffset    {:+} ns (reference - system)\nmaxerror  {} ns "
               "(bracket {} ns)\n",
               format_utc(s.reference), format_utc(s.system), s.offset.count, s.maxerror_ns, s.bracket_ns);
    if (o->validity.tai_convention != TaiConvention::not_applicable)
      fmt::print("tai       converted to UTC; tai_offset_sec convention {}\n", name(o->validity.tai_convention));
  }
  return 0;
}

struct WatchKey {
  uint32_t seq;
  uint64_t marker;
  std::optional<uint64_t> gen;
  abi::ClockStatus status;
  uint64_t flags;
  bool operator==(const WatchKey&) const = default;
};

int cmd_watch(PageSource& src, bool as_json, int count, int interval_ms) {
  WatchKey last{};
  bool have_last = false;
  std::string last_error;
  int printed = 0;
  Notifier* n = src.notifier();
  auto say_mode = [&] {
    if (n && n->mode() == WatchMode::device)
      fmt::print(stderr, "watching {} on device notifications: {}\n", src.path(), n->why());
    else
      fmt::print(stderr, "watching {} every {} ms{}\n", src.path(), interval_ms, n ? ": " + n->why() : "");
  };
  say_mode();
  while (!g_stop && (count <= 0 || printed < count)) {
    // Acknowledged before the page is read, so that a change after the
    // read notifies again; never mid-update (the device's read() spins).
    if (n && n->ack_pending())
      if (auto seq = peek_seq(src); seq && !(*seq & 1u) && n->acknowledge()) say_mode();
    auto refreshed = src.refresh();
    auto s = refreshed ? take_snapshot(src) : Result<Snapshot>(refreshed.error());
    if (!s) {
      if (s.error().message != last_error) {
        last_error = s.error().message;
        if (as_json) print_json({{"error", last_error}});
        else fmt::print("error: {}\n", last_error);
        std::fflush(stdout);
        ++printed;
        have_last = false;
      }
    } else {
      last_error.clear();
      const Page& p = s->page;
      WatchKey k{p.seq_count, p.disruption_marker, p.vm_generation_counter, p.clock_status, p.flags.raw};
      if (!have_last || !(last == k)) {
        last = k;
        have_last = true;
        SysTime now = realtime_now();
        auto st = abi::name(p.clock_status);
        if (as_json) {
          print_json({{"system_ns", now.ns},
                      {"seq_count", p.seq_count},
                      {"disruption_marker", p.disruption_marker},
                      {"vm_generation_counter", p.vm_generation_counter ? json(*p.vm_generation_counter) : json(nullptr)},
                      {"clock_status", std::string(st)},
                      {"flags", p.flags.raw}});
        } else {
          fmt::print("{} seq {} marker {} generation {} status {} flags {}\n", format_utc(now), p.seq_count,
                     p.disruption_marker,
                     p.vm_generation_counter ? fmt::format("{}", *p.vm_generation_counter) : "absent", st,
                     flags_to_text(p.flags));
        }
        std::fflush(stdout);
        ++printed;
      }
    }
    if (count > 0 && printed >= count) break;
    if (int fd = n ? n->poll_fd() : -1; fd >= 0) {
      // The device wakes us; a signal ends the wait (no SA_RESTART).
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, -1) > 0 && n->answer(pfd.revents)) say_mode();
    } else {
      timespec ts{interval_ms / 1000, (interval_ms % 1000) * 1'000'000L};
      ::nanosleep(&ts, nullptr);
    }
  }
  return 0;
}

// The page when --page is not given: vmclockd's own ([source] page of
// --config, else of /etc/vmclockd.toml if it exists), else the device.
Result<std::string> default_page(const std::string& config_path) {
  std::string path = config_path;
  struct stat st{};
  if (path.empty() && ::stat(kDefaultConfigPath, &st) == 0) path = kDefaultConfigPath;
  if (path.empty()) return std::string(VMCLOCK_DEFAULT_PAGE);
  auto cfg = load_config(path);
  if (!cfg) return cfg.error();
  return cfg->source.page;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect a vmclock page and the vmclockd daemon", "vmclockctl"};
  app.set_version_flag("--version", std::string(vmc::kVersion));
  app.require_subcommand(1);
  // --page, --config and --json belong to the tool: before the subcommand
  // or after it (fallthrough), as people type them.
  app.fallthrough();
  std::optional<std::string> page_opt;
  app.add_option("--page", page_opt,
                 fmt::format("vmclock device or page file (default: [source] page of the vmclockd configuration, "
                             "else {})", VMCLOCK_DEFAULT_PAGE));
  std::string config_path;
  app.add_option("--config", config_path,
                 fmt::format("the vmclockd configuration to take the page from (default {}, if it exists)",
                             kDefaultConfigPath));
  bool as_json = false;
  app.add_flag("--json", as_json, "JSON output");
  auto* dump = app.add_subcommand("dump", "every field, raw and decoded");
  auto* timec = app.add_subcommand("time", "the page's time at a counter value");
  std::string counter_text;
  timec->add_option("--counter", counter_text, "counter value (decimal, or hexadecimal after 0x)")->required();
  auto* now = app.add_subcommand("now", "one cross-timestamp against the system clock");
  unsigned attempts = 8;
  now->add_option("--attempts", attempts, "best of N by narrowest bracket")->check(CLI::Range(1u, 1000u))->capture_default_str();
  auto* watch = app.add_subcommand("watch", "one line per change of seq, marker, generation, status, flags");
  int count = 0, interval_ms = 100;
  watch->add_option("--count", count, "stop after K lines (0: until interrupted)")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  watch->add_option("--interval-ms", interval_ms, "polling interval")->check(CLI::Range(1, 60000))->capture_default_str();
  auto* status = app.add_subcommand("status", "what the running vmclockd reports");
  std::string status_file = "/run/vmclockd/status.json";
  status->add_option("--status-file", status_file, "the daemon's status file")->capture_default_str();
  auto* boundc = app.add_subcommand("bound", "the interval libvmclock gives applications: earliest, latest, status");
  std::string segment = "/run/vmclockd/bound";
  boundc->add_option("--segment", segment, "the bound vmclockd publishes (\"\" for none)")->capture_default_str();
  int bound_count = 1;
  boundc->add_option("--count", bound_count, "answers to print, 0 for until interrupted")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  boundc->add_option("--interval-ms", interval_ms, "time between answers")->check(CLI::Range(1, 60000));
  auto* waitsync = app.add_subcommand("waitsync", "wait until libvmclock's answer is SYNCHRONIZED within a bound "
                                                  "(exit 0; 75 on timeout)");
  vmc::cli::WaitSyncOptions wo;
  waitsync->add_option("--segment", wo.segment, "the bound vmclockd publishes (\"\" for none)")
      ->default_val(segment)
      ->capture_default_str();
  waitsync->add_option("--timeout", wo.timeout_s, "give up after S seconds (0: wait forever)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  waitsync->add_option("--max-bound", wo.max_bound_ns, "the widest bound that counts, in ns")
      ->check(CLI::Range(uint64_t{1}, uint64_t{INT64_MAX}))
      ->capture_default_str();
  auto* carries = app.add_subcommand("carries-time", "exit 0 when the page publishes time (a counter this CPU reads), "
                                                     "69 when it is disruption-only");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(vmc::Errc::usage);
  }
  if (*status) return vmc::cli::cmd_status(status_file, as_json);

  std::optional<uint64_t> counter;
  if (*timec) {
    auto c = vmc::cli::parse_counter(counter_text);
    if (!c) return fail(c.error());
    counter = *c;
  }
  auto page = page_opt ? vmc::Result<std::string>(*page_opt) : default_page(config_path);
  if (!page) return fail(page.error());

  struct sigaction sa{};
  sa.sa_handler = [](int) { vmc::cli::g_stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  if (*boundc) return vmc::cli::cmd_bound(*page, segment, as_json, bound_count, interval_ms);
  if (*waitsync) {
    wo.page = *page;
    wo.as_json = as_json;
    return vmc::cli::cmd_waitsync(wo);
  }
  auto src = open_source(*page);
  if (!src) return fail(src.error());
  if (*dump) return cmd_dump(**src, as_json);
  if (*timec) return cmd_time(**src, *counter, as_json);
  if (*carries) return cmd_carries_time(**src, as_json);
  if (*now) return cmd_now(**src, attempts, as_json);
  if (*watch) return cmd_watch(**src, as_json, count, interval_ms);
  return static_cast<int>(vmc::Errc::usage);
}
