#include "daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_bound.h"
#include "daemon_ptp4l.h"
#include "utc_format.h"
#include "report_file.h"
#include "version.h"

namespace vmc {

using nlohmann::json;

std::string_view name(DaemonState s) {
  switch (s) {
    case DaemonState::starting: return "starting";
    case DaemonState::synced: return "synced";
    case DaemonState::no_data: return "no-data";
    case DaemonState::disrupted: return "disrupted";
    case DaemonState::paused: return "paused";
  }
  return "unknown";
}

namespace {
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kReportIntervalNs = 1'000 * kMs;
// How long a reset may stay unanswered before samples flow again anyway:
// chrony may simply not be running, and samples are still good.
constexpr int64_t kResetGiveUpNs = 10'000 * kMs;
// After a reset chronyd needs a burst's worth of NTP measurements (iburst:
// ~2 s apart) before a step has anything to correct; later steps catch
// estimates that were still settling.
constexpr int64_t kMakestepDelaysNs[] = {3'000 * kMs, 6'000 * kMs, 12'000 * kMs};

LogFn make_log_fn() {
  return [](std::string_view line) { log::prefixed(line); };
}

json opt_json(const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); }
}  // namespace

Daemon::Daemon(Config cfg, std::string config_path, std::optional<std::string> page_override)
    : cfg_(std::move(cfg)), config_path_(std::move(config_path)), page_override_(std::move(page_override)) {
  if (page_override_) cfg_.source.page = *page_override_;
}

Daemon::~Daemon() {
  withdraw_all();
  if (sig_fd_ >= 0) ::close(sig_fd_);
}

Daemon::Clock Daemon::now() { return Clock{mono_now(), realtime_now()}; }

int64_t Daemon::mono_now() {
  timespec m;
  clock_gettime(CLOCK_MONOTONIC, &m);
  return m.tv_sec * kNsPerSec + m.tv_nsec;
}

Status Daemon::open_source() {
  auto src = open_page_source(cfg_.source.page);
  if (!src) return src.error();
  source_ = std::move(*src);
  last_seq_.reset();
  log::info("page", fmt::format("reading {} ({}{})", source_->path(), source_->kind(),
                                source_->notify_fd() >= 0 ? ", with notifications" : ""));
  return Ok{};
}

Status Daemon::build_sinks(const Config& old, bool first) {
  const bool sinks_changed = first || old.chrony.shm_unit != cfg_.chrony.shm_unit || old.chrony.sock != cfg_.chrony.sock;
  if (sinks_changed) {
    std::vector<std::unique_ptr<chrony::SampleSink>> sinks;
    if (cfg_.chrony.shm_unit >= 0) {
      chrony::ShmOptions o;
      o.log = make_log_fn();
      auto s = chrony::make_shm_sink(static_cast<int>(cfg_.chrony.shm_unit), o);
      if (!s) return s.error();
      sinks.push_back(std::move(*s));
    }
    if (!cfg_.chrony.sock.empty()) {
      chrony::SockOptions o;
      o.log = make_log_fn();
      auto s = chrony::make_sock_sink(cfg_.chrony.sock, o);
      if (!s) return s.error();
      sinks.push_back(std::move(*s));
    }
    withdraw_all();
    sinks_ = std::move(sinks);
  }
  const bool cmd_changed = first || old.chrony.command_socket != cfg_.chrony.command_socket || old.chrony.client_dir != cfg_.chrony.client_dir ||
                           old.chrony.reset_on_disruption != cfg_.chrony.reset_on_disruption;
  if (cmd_changed) {
    cmd_.reset();
    if (cfg_.chrony.reset_on_disruption && !cfg_.chrony.command_socket.empty()) {
      chrony::CmdOptions o;
      o.socket_path = cfg_.chrony.command_socket;
      o.client_dir = cfg_.chrony.client_dir;
      o.log = make_log_fn();
      auto c = chrony::CmdClient::open(o);
      if (!c) return c.error();
      cmd_ = std::move(*c);
    }
  }
  const bool bound_changed = first || old.bound.segment != cfg_.bound.segment ||
                             old.bound.source != cfg_.bound.source || old.bound.max_drift_ppb != cfg_.bound.max_drift_ppb ||
                             old.bound.stale_after_ms != cfg_.bound.stale_after_ms ||
                             old.bound.void_after_s != cfg_.bound.void_after_s ||
                             old.bound.tracking_interval_ms != cfg_.bound.tracking_interval_ms ||
                             old.chrony.command_socket != cfg_.chrony.command_socket || old.chrony.client_dir != cfg_.chrony.client_dir;
  if (bound_changed) {
    bound_.reset();
    tracking_cmd_.reset();
    next_bound_open_ns_ = 0;
    open_bound(now());
  }
  const bool ptp_changed = first || ptp4l_options(old) != ptp4l_options(cfg_);
  if (ptp_changed) {
    ptp_.reset();
    if (cfg_.ptp4l) {
      auto p = Ptp4lFeed::create(cfg_);
      if (!p) return p.error();
      ptp_ = std::move(*p);
    }
  }
  return Ok{};
}

Status Daemon::setup() {
  sigemptyset(&sig_set_);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sig_set_, s);
  sigprocmask(SIG_BLOCK, &sig_set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sig_fd_ = signalfd(-1, &sig_set_, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd_ < 0) return make_error(Errc::os, fmt::format("signalfd: {}", std::strerror(errno)));

  if (auto s = open_source(); !s) {
    // The device may appear later (module load, a simulator starting).
    incidents_.fail("page", "open", s.error().message + "; waiting for it");
    set_state(DaemonState::no_data, s.error().message);
  }
  if (auto s = build_sinks(cfg_, true); !s) return s;
  if (sd_watchdog_enabled(0, &watchdog_usec_) <= 0) watchdog_usec_ = 0;
  log::notice("daemon", fmt::format("vmclockd {} started: config {}, page {}, every {} ms best of {}, "
                                    "maxerror limit {} ns, {} sink(s){}{}",
                                    kVersion, cfg_.origin, cfg_.source.page, cfg_.sampling.interval_ms, cfg_.sampling.best_of,
                                    cfg_.sampling.max_error_ns, sinks_.size(), cmd_ ? ", resets chrony" : "",
                                    ptp_ ? ", drives ptp4l" : ""));
  return Ok{};
}

// Not fatal when it fails: chrony and ptp4l are fed all the same, and the
// directory (tmpfiles.d, a test's) may appear later. Retried every 10 s.
void Daemon::open_bound(const Clock& c) {
  if (cfg_.bound.segment.empty() || bound_ || c.mono_ns < next_bound_open_ns_) return;
  next_bound_open_ns_ = c.mono_ns + 10'000 * kMs;
  auto b = BoundFeed::create(cfg_);
  if (!b) {
    incidents_.fail("bound", "open", b.error().message + "; libvmclock readers get no published bound");
    return;
  }
  std::unique_ptr<chrony::CmdClient> tracking;
  if (!cfg_.chrony.command_socket.empty() && cfg_.bound.source != "page") {
    chrony::CmdOptions o;
    o.socket_path = cfg_.chrony.command_socket;
    o.client_dir = cfg_.chrony.client_dir;
    o.tries = 2;  // 10 ms at most: the loop also watches the marker
    o.log = make_log_fn();
    auto cl = chrony::CmdClient::open(o);
    if (!cl) {
      incidents_.fail("bound", "open", cl.error().message + "; no bound from chronyd's tracking");
      return;
    }
    tracking = std::move(*cl);
  }
  incidents_.recover("bound", "open", fmt::format("publishing the bound in {}", cfg_.bound.segment));
  bound_ = std::move(*b);
  tracking_cmd_ = std::move(tracking);
  if (last_page_) bound_->on_page(*last_page_, c.real.ns);
  next_tracking_ns_ = 0;
}

void Daemon::set_state(DaemonState s, std::string reason) {
  if (s == state_ && reason == reason_) return;
  bool changed = s != state_;
  state_ = s;
  reason_ = std::move(reason);
  reports_dirty_ = true;
  if (changed)
    log::notice("daemon", reason_.empty() ? fmt::format("state {}", name(s))
                                          : fmt::format("state {}: {}", name(s), reason_));
  sd_notifyf(0, "STATUS=%s%s%s", std::string(name(s)).c_str(), reason_.empty() ? "" : ": ", reason_.c_str());
}

void Daemon::withdraw_all() {
  for (auto& s : sinks_) s->withdraw();
}

void Daemon::handle_snapshot_events(const Page& p, const Clock& c) {
  auto events = tracker_.update(p);
  std::vector<DisruptionEvent> disruptions;
  for (const auto& e : events) {
    if (DisruptionTracker::is_disruption(e)) {
      disruptions.push_back(e);
    } else {
      log::notice("disruption", describe(e));
      reports_dirty_ = true;
    }
  }
  last_page_ = p;
  if (!disruptions.empty()) {
    on_disruption(disruptions, c);
  } else if (bound_) {
    bound_->on_page(p, c.real.ns);
  }
  last_seq_ = p.seq_count;
}

void Daemon::on_disruption(const std::vector<DisruptionEvent>& ev, const Clock& c) {
  ++counters_.disruptions_seen;
  DisruptionRecord r;
  r.system_ns = c.real.ns;
  std::string what;
  for (const auto& e : ev) {
    if (e.kind == DisruptionEvent::Kind::marker_changed) {
      r.old_marker = e.old_value;
      r.new_marker = e.new_value;
    } else {
      r.old_generation = e.old_value;
      r.new_generation = e.new_value;
    }
    what += (what.empty() ? "" : ", ") + describe(e);
  }
  last_disruption_ = r;
  // Everything learned about the counter before this is void.
  withdraw_all();
  last_sample_.reset();
  ptp_sample_.reset();
  log::warning("disruption", fmt::format("{}: dropped every earlier sample{}", what,
                                         cmd_ ? "; resetting chrony's sources" : ""));
  set_state(DaemonState::disrupted, what);
  reset_pending_ = cmd_ != nullptr;
  reset_pending_since_ns_ = c.mono_ns;
  disruption_detected_mono_ns_ = c.mono_ns;
  if (ptp_) ptp_->on_disruption();
  if (bound_) {
    bound_->on_disruption(*last_page_, c.real.ns);
    // Nobody resets chronyd: its next clock update is the best there is.
    if (!cmd_) bound_->on_reset_done(c.real.ns);
  }
  // The snapshot that showed the change was consistent: reset at once,
  // then sample at once so chrony gets the new calibration without delay.
  if (!tracker_.imminent()) try_reset(c);
  next_sample_ns_ = c.mono_ns;
}

void Daemon::try_reset(const Clock& c) {
  if (!reset_pending_ || !cmd_) {
    reset_pending_ = false;
    return;
  }
  auto r = cmd_->reset_sources();
  if (!r) {
    ++counters_.resets_failed;
    if (c.mono_ns - reset_pending_since_ns_ > kResetGiveUpNs) {
      reset_pending_ = false;
      incidents_.fail("chrony", "reset", fmt::format("RESET_SOURCES failed for {} s, giving up: {}",
                                                     kResetGiveUpNs / kNsPerSec, r.error().message));
    } else {
      incidents_.fail("chrony", "reset", fmt::format("RESET_SOURCES failed, will retry: {}", r.error().message));
    }
    return;
  }
  Clock done = now();
  ++counters_.resets_sent;
  reset_pending_ = false;
  if (last_disruption_) last_disruption_->reset_latency_ns = done.mono_ns - disruption_detected_mono_ns_;
  if (bound_) bound_->on_reset_done(done.real.ns);
  incidents_.recover("chrony", "reset", "RESET_SOURCES works again");
  std::string extra;
  if (cfg_.chrony.burst) {
    // NOSUCHSOURCE: chronyd has no NTP source to burst, only refclocks.
    auto b = cmd_->request({.command = chrony::cmd::Command::burst, .burst_good = 4, .burst_total = 8});
    using chrony::cmd::StatusCode;
    if (!b) extra += fmt::format(", burst failed ({})", b.error().message);
    else if (b->reply.status == static_cast<uint16_t>(StatusCode::success)) extra += ", burst";
    else if (b->reply.status != static_cast<uint16_t>(StatusCode::no_such_source))
      extra += fmt::format(", burst refused ({})", chrony::cmd::status_name(b->reply.status));
  }
  if (cfg_.chrony.makestep) {
    makestep_due_ns_.clear();
    for (int64_t d : kMakestepDelaysNs) makestep_due_ns_.push_back(done.mono_ns + d);
    extra += ", makestep scheduled";
  }
  log::notice("chrony", fmt::format("sources reset {:.3f} ms after the disruption was seen{}",
                                    static_cast<double>(done.mono_ns - disruption_detected_mono_ns_) / 1e6, extra));
  reports_dirty_ = true;
}

void Daemon::makestep_tick(const Clock& c) {
  if (makestep_due_ns_.empty() || c.mono_ns < makestep_due_ns_.front() || !cmd_) return;
  makestep_due_ns_.erase(makestep_due_ns_.begin());
  auto m = cmd_->make_step();
  if (m) log::notice("chrony", "makestep after the disruption");
  else incidents_.fail("chrony", "makestep", fmt::format("MAKESTEP failed: {}", m.error().message));
}

bool Daemon::page_moved() {
  if (!source_) return false;
  auto seq = peek_seq(*source_);
  if (!seq) return false;  // sample_tick reports page errors, once
  // Odd: the host is mid-update (or stuck); the next tick sees the result.
  return !(*seq & 1u) && (!last_seq_ || *seq != *last_seq_);
}

void Daemon::watch_tick(const Clock& c) {
  if (!page_moved()) return;
  auto snap = take_snapshot(*source_);
  if (!snap) return;
  handle_snapshot_events(snap->page, c);
  if (reset_pending_ && !tracker_.imminent()) try_reset(c);
}

void Daemon::sample_tick(const Clock& c) {
  if (!source_) {
    if (auto s = open_source(); !s) {
      incidents_.fail("page", "open", s.error().message + "; waiting for it");
      set_state(DaemonState::no_data, s.error().message);
      return;
    }
    incidents_.recover("page", "open", fmt::format("{} is back", cfg_.source.page));
  }
  auto page_error = [&](const Error& e) {
    ptp_sample_.reset();
    ++counters_.page_errors;
    incidents_.fail("page", "read", e.message);
    if (state_ == DaemonState::synced) withdraw_all();
    set_state(DaemonState::no_data, e.message);
    if (bound_) bound_->on_no_sample(e.message, c.real.ns);
  };
  if (auto r = source_->refresh(); !r) return page_error(r.error());
  // A page stuck mid-update is retried briefly, not for the kernel's full
  // 100 ms every time: that would keep a core busy for nothing.
  SeqlockLimits lim;
  if (page_stuck_) lim.time_limit_ns = 1 * kMs;
  auto out = best_sample(*source_, static_cast<unsigned>(cfg_.sampling.best_of), lim);
  page_stuck_ = !out && out.error().message.find("stuck odd") != std::string::npos;
  if (!out) return page_error(out.error());
  incidents_.recover("page", "read", fmt::format("{} reads again", source_->path()));
  handle_snapshot_events(out->snapshot.page, c);

  if (tracker_.imminent()) {
    ptp_sample_.reset();
    withdraw_all();
    set_state(DaemonState::paused, "disruption_imminent: samples paused until the marker settles");
    return;
  }
  if (reset_pending_) {
    try_reset(c);
    if (reset_pending_) return;  // still disrupted: chrony keeps stale state
  }
  auto refuse = [&](std::string why) {
    ++counters_.samples_refused;
    if (bound_ && !ptp_sample_) bound_->on_no_sample(why, c.real.ns);
    if (state_ == DaemonState::synced) withdraw_all();
    set_state(DaemonState::no_data, std::move(why));
  };
  // ptp4l announces quality from the page's own bound, whatever limit
  // chrony's samples have: a class 7 or 187 clock still has time to serve.
  ptp_sample_.reset();
  if (!out->sample) return refuse(out->why_not);
  const Sample& s = *out->sample;
  if (s.disruption_marker != tracker_.marker())
    return refuse("sample taken across a disruption");
  ptp_sample_ = s;
  // The bound is honest whatever chrony's maxerror limit: it carries the error.
  if (bound_) bound_->on_sample(s, out->snapshot.page.clock_status);
  if (s.maxerror_ns > static_cast<uint64_t>(cfg_.sampling.max_error_ns))
    return refuse(fmt::format("maxerror {} ns is over the limit of {} ns", s.maxerror_ns, cfg_.sampling.max_error_ns));
  bool any = false;
  for (auto& sink : sinks_) {
    auto r = sink->publish(s);
    any |= static_cast<bool>(r);
  }
  if (any || sinks_.empty()) ++counters_.samples_sent;
  last_sample_ = s;
  set_state(DaemonState::synced, "");
}

std::string Daemon::status_json(const Clock& c) const {
  json j;
  j["version"] = kVersion;
  j["pid"] = ::getpid();
  j["updated"] = format_utc(c.real);
  j["updated_unix_ns"] = c.real.ns;
  j["state"] = std::string(name(state_));
  j["reason"] = reason_.empty() ? json(nullptr) : json(reason_);
  j["config"] = cfg_.origin;
  if (last_page_) {
    const Page& p = *last_page_;
    j["page"] = {{"path", cfg_.source.page},
                 {"kind", source_ ? std::string(source_->kind()) : "closed"},
                 {"seq_count", p.seq_count},
                 {"disruption_marker", p.disruption_marker},
                 {"vm_generation_counter", opt_json(p.vm_generation_counter)},
                 {"clock_status", std::string(abi::name(p.clock_status))},
                 {"time_type", std::string(abi::name(p.time_type))},
                 {"counter_id", std::string(abi::name(p.counter_id))},
                 {"flags", p.flags.raw}};
  } else {
    j["page"] = {{"path", cfg_.source.page}, {"kind", source_ ? std::string(source_->kind()) : "closed"}};
  }
  if (last_sample_) {
    const Sample& s = *last_sample_;
    j["last_sample"] = {{"time", format_utc(s.reference)},
                        {"system_ns", s.system.ns},
                        {"offset_ns", s.offset.count},
                        {"maxerror_ns", s.maxerror_ns},
                        {"esterror_ns", opt_json(s.esterror_ns)},
                        {"bracket_ns", s.bracket_ns},
                        {"leap", static_cast<int>(s.leap)},
                        {"disruption_marker", s.disruption_marker}};
  } else {
    j["last_sample"] = nullptr;
  }
  j["samples_sent"] = counters_.samples_sent;
  j["samples_refused"] = counters_.samples_refused;
  j["disruptions_seen"] = counters_.disruptions_seen;
  j["resets_sent"] = counters_.resets_sent;
  j["resets_failed"] = counters_.resets_failed;
  j["page_errors"] = counters_.page_errors;
  j["config_reloads"] = counters_.config_reloads;
  if (last_disruption_) {
    const auto& d = *last_disruption_;
    j["last_disruption"] = {{"system_ns", d.system_ns},
                            {"old_marker", opt_json(d.old_marker)},
                            {"new_marker", opt_json(d.new_marker)},
                            {"old_generation", opt_json(d.old_generation)},
                            {"new_generation", opt_json(d.new_generation)},
                            {"reset_latency_ns", d.reset_latency_ns ? json(*d.reset_latency_ns) : json(nullptr)}};
  } else {
    j["last_disruption"] = nullptr;
  }
  json sinks = json::array();
  for (const auto& s : sinks_) {
    auto h = s->health();
    sinks.push_back({{"name", std::string(s->name())},
                     {"ok", h.ok},
                     {"state", h.state},
                     {"published", h.published},
                     {"failed", h.failed},
                     {"last_error", h.last_error}});
  }
  j["sinks"] = sinks;
  j["ptp4l"] = ptp_ ? ptp_->status_json() : json(nullptr);
  j["bound"] = bound_ ? bound_->status_json() : json(nullptr);
  return j.dump(2) + "\n";
}

std::string Daemon::metrics_text() const {
  std::string o;
  auto metric = [&](std::string_view n, std::string_view type, std::string_view help, auto value,
                    std::string_view labels = "") {
    o += fmt::format("# HELP vmclockd_{} {}\n# TYPE vmclockd_{} {}\nvmclockd_{}{} {}\n", n, help, n, type, n, labels,
                     value);
  };
  o += "# HELP vmclockd_state The daemon's state (1 for the current one).\n# TYPE vmclockd_state gauge\n";
  for (auto s : {DaemonState::starting, DaemonState::synced, DaemonState::no_data, DaemonState::disrupted,
                 DaemonState::paused})
    o += fmt::format("vmclockd_state{{state=\"{}\"}} {}\n", name(s), s == state_ ? 1 : 0);
  metric("samples_sent_total", "counter", "Samples sent to chrony.", counters_.samples_sent);
  metric("samples_refused_total", "counter", "Samples the page could not vouch for.", counters_.samples_refused);
  metric("disruptions_total", "counter", "Disruption marker or generation changes seen.", counters_.disruptions_seen);
  metric("chrony_resets_total", "counter", "RESET_SOURCES acknowledged by chronyd.", counters_.resets_sent);
  metric("chrony_reset_failures_total", "counter", "RESET_SOURCES attempts that failed.", counters_.resets_failed);
  metric("page_errors_total", "counter", "Page reads that failed.", counters_.page_errors);
  if (last_sample_) {
    metric("offset_seconds", "gauge", "Last sample: reference minus system time.",
           static_cast<double>(last_sample_->offset.count) / 1e9);
    metric("maxerror_seconds", "gauge", "Last sample: maximum error.", static_cast<double>(last_sample_->maxerror_ns) / 1e9);
    metric("bracket_seconds", "gauge", "Last sample: clock_gettime bracket width.",
           static_cast<double>(last_sample_->bracket_ns) / 1e9);
  }
  if (last_page_) {
    metric("disruption_marker", "gauge", "The page's disruption_marker.", last_page_->disruption_marker);
    metric("clock_status", "gauge", "The page's clock_status (0 unknown .. 4 unreliable).",
           static_cast<int>(last_page_->clock_status));
    if (last_page_->vm_generation_counter)
      metric("vm_generation_counter", "gauge", "The page's vm_generation_counter.", *last_page_->vm_generation_counter);
  }
  o += "# HELP vmclockd_sink_up Whether a sink reaches chronyd.\n# TYPE vmclockd_sink_up gauge\n";
  for (const auto& s : sinks_) o += fmt::format("vmclockd_sink_up{{sink=\"{}\"}} {}\n", s->name(), s->health().ok ? 1 : 0);
  return o;
}

void Daemon::write_reports(const Clock& c, bool force) {
  if (!force && !reports_dirty_ && c.mono_ns < next_report_ns_) return;
  next_report_ns_ = c.mono_ns + kReportIntervalNs;
  reports_dirty_ = false;
  if (!cfg_.daemon.status_file.empty()) {
    if (auto r = write_file_atomically(cfg_.daemon.status_file, status_json(c)); !r)
      incidents_.fail("status", "status_file", r.error().message);
    else
      incidents_.recover("status", "status_file", fmt::format("{} written again", cfg_.daemon.status_file));
  }
  if (!cfg_.daemon.metrics_file.empty()) {
    if (auto r = write_file_atomically(cfg_.daemon.metrics_file, metrics_text()); !r)
      incidents_.fail("status", "metrics_file", r.error().message);
    else
      incidents_.recover("status", "metrics_file", fmt::format("{} written again", cfg_.daemon.metrics_file));
  }
}

void Daemon::reload() {
  ++counters_.config_reloads;
  if (config_path_.empty()) {
    log::debug("config", "SIGHUP: no configuration file, keeping the built-in defaults");
    return;
  }
  auto nc = load_config(config_path_);
  if (!nc) {
    log::err("config", fmt::format("reload failed, keeping the old configuration: {}", nc.error().message));
    return;
  }
  if (page_override_) nc->source.page = *page_override_;
  Config old = cfg_;
  cfg_ = *nc;
  if (auto s = build_sinks(old, false); !s) {
    log::err("config", fmt::format("reload failed, keeping the old configuration: {}", s.error().message));
    cfg_ = old;
    return;
  }
  if (old.source.page != cfg_.source.page) {
    auto prev = std::move(source_);
    if (auto s = open_source(); !s) {
      log::err("config", fmt::format("reload: cannot open {}, keeping {}: {}", cfg_.source.page, old.source.page, s.error().message));
      source_ = std::move(prev);
      cfg_.source.page = old.source.page;
    } else {
      tracker_.reset();
    }
  }
  reports_dirty_ = true;
  if (cfg_ == old) log::debug("config", fmt::format("SIGHUP: {} unchanged", config_path_));
  else log::notice("config", fmt::format("SIGHUP: reloaded {}", config_path_));
}

// The loop. The marker is watched every watch_interval_ms (5 ms: the
// device may send no notification, and a reset is due within 10 ms), so
// that wakeup is the daemon's whole CPU cost: it reads the monotonic
// clock once and seq_count once, and sleeps again. Everything else is
// housekeeping, which runs when its own deadline is due, on the watch
// tick at or just after it (no wakeup of its own), or at once when the
// watch saw the page move or a signal came.
int Daemon::run() {
  Clock c = now();
  next_sample_ns_ = next_watch_ns_ = c.mono_ns;
  next_work_ns_ = housekeeping(c);  // samples, and writes the first reports
  sd_notify(0, "READY=1");
  bool running = true;
  while (running) {
    int64_t t = mono_now();
    bool work = t >= next_work_ns_;
    std::optional<Clock> full;
    if (source_ && t >= next_watch_ns_) {
      // On the grid, so that the wakeups do not drift with the work done.
      const int64_t period = cfg_.source.watch_interval_ms * kMs;
      next_watch_ns_ += period;
      if (next_watch_ns_ <= t) next_watch_ns_ = t + period;
      if (page_moved()) {
        full = now();
        watch_tick(*full);
        work = true;  // a disruption wants a sample, a reset, the reports now
      }
    }
    if (work) {
      if (!full) full = now();
      next_work_ns_ = housekeeping(*full);
      t = mono_now();
    }
    int64_t wake = next_work_ns_;
    if (source_) {
      // Housekeeping due within 5 ms of the next watch tick waits for it.
      if (wake > t && wake < next_watch_ns_ && next_watch_ns_ - wake <= 5 * kMs) wake = next_watch_ns_;
      wake = std::min(wake, next_watch_ns_);
    }
    running = sleep_until(wake, t);
  }
  sd_notify(0, "STOPPING=1");
  withdraw_all();
  write_reports(now(), true);
  return 0;
}

int64_t Daemon::housekeeping(const Clock& c) {
  if (c.mono_ns >= next_sample_ns_) {
    const int64_t due = next_sample_ns_;
    sample_tick(c);
    // Every interval_ms on average, though run on a watch tick after it.
    const int64_t period = cfg_.sampling.interval_ms * kMs;
    next_sample_ns_ = due + period > c.mono_ns ? due + period : c.mono_ns + period;
  }
  makestep_tick(c);
  open_bound(c);
  tracking_tick(c);
  if (ptp_)
    ptp_->tick(state_ == DaemonState::disrupted || state_ == DaemonState::paused, last_page_, ptp_sample_,
               c.mono_ns);
  write_reports(c, false);
  const int64_t watchdog_ns = static_cast<int64_t>(watchdog_usec_) * 500;
  if (watchdog_usec_ && c.mono_ns - last_watchdog_ns_ > watchdog_ns) {
    sd_notify(0, "WATCHDOG=1");
    last_watchdog_ns_ = c.mono_ns;
  }

  int64_t next = next_sample_ns_;
  if (!cfg_.daemon.status_file.empty() || !cfg_.daemon.metrics_file.empty()) next = std::min(next, next_report_ns_);
  if (!makestep_due_ns_.empty()) next = std::min(next, makestep_due_ns_.front());
  // ptp4l's updater keeps its own retry (>= 100 ms) and check deadlines.
  if (ptp_) next = std::min(next, c.mono_ns + 100 * kMs);
  if (tracking_cmd_ && bound_ && bound_->wants_tracking()) next = std::min(next, next_tracking_ns_);
  if (!bound_ && !cfg_.bound.segment.empty()) next = std::min(next, next_bound_open_ns_);
  if (watchdog_usec_) next = std::min(next, last_watchdog_ns_ + watchdog_ns + 1);
  return next;
}

bool Daemon::sleep_until(int64_t wake, int64_t now_ns) {
  const int64_t wait = std::max<int64_t>(0, wake - now_ns);
  timespec ts{wait / kNsPerSec, wait % kNsPerSec};
  const int notify = source_ ? source_->notify_fd() : -1;
  if (notify < 0) {
    // Only signals to wait for: sigtimedwait() is one system call with no
    // file to poll (cheaper than ppoll on the signalfd, measured).
    siginfo_t si;
    int sig = ::sigtimedwait(&sig_set_, &si, &ts);
    return sig <= 0 || handle_signal(static_cast<uint32_t>(sig));
  }
  pollfd fds[2] = {{sig_fd_, POLLIN, 0}, {notify, POLLIN, 0}};
  int n = ::ppoll(fds, 2, &ts, nullptr);
  if (n <= 0) return true;
  if (fds[1].revents & POLLIN) {
    // The device clears its notification when read.
    uint8_t b[16];
    (void)!::pread(fds[1].fd, b, sizeof b, 0);
    next_watch_ns_ = 0;
  }
  bool running = true;
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo si;
    while (::read(sig_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
      running = handle_signal(si.ssi_signo) && running;
  }
  return running;
}

bool Daemon::handle_signal(uint32_t signo) {
  if (signo == SIGHUP) {
    reload();
    next_work_ns_ = 0;  // the reports, new sinks and feeds: at once
    return true;
  }
  log::notice("daemon", fmt::format("{}: stopping", strsignal(static_cast<int>(signo))));
  return false;
}

}  // namespace vmc

namespace vmc {

void Daemon::tracking_tick(const Clock& c) {
  if (!tracking_cmd_ || !bound_ || !bound_->wants_tracking() || c.mono_ns < next_tracking_ns_) return;
  next_tracking_ns_ = c.mono_ns + bound_->tracking_interval_ns();
  // Dated before the question: chronyd's dispersion only grows until it answers.
  const int64_t asked = realtime_now().ns;
  auto t = tracking_cmd_->tracking();
  if (!t) {
    incidents_.fail("chrony", "tracking", fmt::format("TRACKING failed: {}", t.error().message));
    bound_->on_tracking_failed(t.error().message, asked);
    return;
  }
  incidents_.recover("chrony", "tracking", "chronyd answers TRACKING again");
  TrackingView v;
  constexpr uint16_t kLeapUnsynchronised = 3;
  v.synchronised = t->leap_status != kLeapUnsynchronised && t->stratum > 0 && t->stratum < 16;
  v.ref_time_ns = t->ref_time_sec * kNsPerSec + t->ref_time_nsec;
  v.root_delay_s = t->root_delay;
  v.root_dispersion_s = t->root_dispersion;
  v.current_correction_s = t->current_correction;
  v.freq_uncertainty_ppm = std::fabs(t->resid_freq_ppm) + std::fabs(t->skew_ppm);
  bound_->on_tracking(v, asked);
}

}  // namespace vmc
