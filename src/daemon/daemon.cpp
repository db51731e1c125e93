// SPDX-License-Identifier: Apache-2.0
#include "daemon.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>

#include "clock.h"
#include "process_identity.h"
#include "utc_format.h"
#include "version.h"

namespace vmc {
namespace {
constexpr int64_t kMs = 1'000'000;
// ptp4l's updater keeps its own retry (>= 100 ms) and check deadlines.
constexpr int64_t kPtpTickNs = 100 * kMs;
// How late housekeeping may run to share the watch tick's wake-up: a
// fifth of the sampling's 250 ms, a twentieth of the reports' second.
constexpr int64_t kFoldNs = 50 * kMs;
}  // namespace

Daemon::Daemon(Config cfg, std::string config_path, std::optional<std::string> page_override, PageOpener opener)
    : cfg_(std::move(cfg)),
      config_path_(std::move(config_path)),
      page_override_(std::move(page_override)),
      opener_(std::move(opener)),
      page_(page_override_ ? *page_override_ : cfg_.source.page, opener_),
      reset_(nullptr, ResetPolicy{cfg_.chrony.burst, cfg_.chrony.makestep}) {
  if (page_override_) cfg_.source.page = *page_override_;
}

Daemon::~Daemon() { out_.withdraw(); }

Daemon::Now Daemon::now() { return Now{mono_now_ns(), realtime_now()}; }

Status Daemon::setup() {
  if (auto s = wait_.setup(); !s) return s;
  if (auto s = page_.open(); !s) {
    // The device may appear later (module load, a simulator starting).
    incidents_.fail("page", "open", page_.why_missing() + "; waiting for it");
    set_state(DaemonState::no_data, s.error().message);
  }
  auto built = build_outputs(cfg_, nullptr, out_);
  if (!built) return built.error();
  out_ = std::move(*built);
  reset_.set_commands(out_.commands.get());
  bound_ = std::make_unique<BoundOutlet>(cfg_);
  open_bound(now());
  if (sd_watchdog_enabled(0, &watchdog_usec_) <= 0) watchdog_usec_ = 0;
  log::notice("daemon", fmt::format("vmclockd {} started: config {}, page {}, every {} ms best of {}, "
                                    "maxerror limit {} ns, {} sink(s){}{}",
                                    kVersion, cfg_.origin, cfg_.source.page, cfg_.sampling.interval_ms,
                                    cfg_.sampling.best_of, cfg_.sampling.max_error_ns, out_.sinks.size(),
                                    reset_.resets() ? ", resets chrony" : "", out_.ptp ? ", drives ptp4l" : ""));
  return Ok{};
}

std::vector<std::string> Daemon::files_made() const {
  if (bound_) return bound_->files_made();
  return {};
}

void Daemon::open_bound(const Now& c) { bound_->tick(c.mono_ns, c.real.ns, last_page_); }

void Daemon::set_state(DaemonState s, std::string reason) {
  if (s == state_ && reason == reason_) return;
  const bool changed = s != state_;
  state_ = s;
  reason_ = std::move(reason);
  reports_.mark_dirty();
  if (changed)
    log::notice("daemon", reason_.empty() ? fmt::format("state {}", name(s))
                                          : fmt::format("state {}: {}", name(s), reason_));
  sd_notifyf(0, "STATUS=%s%s%s", std::string(name(s)).c_str(), reason_.empty() ? "" : ": ", reason_.c_str());
}

void Daemon::on_snapshot(const Page& p, const Now& c) {
  std::vector<DisruptionEvent> disruptions;
  for (const auto& e : tracker_.update(p)) {
    if (DisruptionTracker::is_disruption(e)) {
      disruptions.push_back(e);
    } else {
      log::notice("disruption", describe(e));
      reports_.mark_dirty();
    }
  }
  last_page_ = p;
  if (!disruptions.empty()) on_disruption(disruptions, c);
  else if (auto* b = bound_->feed()) b->on_page(p, c.real.ns);
}

void Daemon::on_disruption(const std::vector<DisruptionEvent>& ev, const Now& c) {
  ++counters_.disruptions_seen;
  DisruptionView r;
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
  out_.withdraw();
  last_sample_.reset();
  usable_.reset();
  log::warning("disruption", fmt::format("{}: dropped every earlier sample{}", what,
                                         reset_.resets() ? "; resetting chrony's sources" : ""));
  set_state(DaemonState::disrupted, what);
  reset_.disrupted(c.mono_ns);
  if (out_.ptp) out_.ptp->on_disruption();
  if (auto* b = bound_->feed()) {
    b->on_disruption(*last_page_, c.real.ns);
    // Nobody resets chronyd: its next clock update is the best there is.
    if (!reset_.resets()) b->on_reset_done(c.real.ns);
  }
  // The snapshot that showed the change was consistent: reset at once,
  // then sample at once so chrony gets the new calibration without delay.
  reset_tick(c);
  next_sample_ns_ = c.mono_ns;
}

void Daemon::reset_tick(const Now& c) {
  auto done = reset_.tick(c.mono_ns, tracker_.imminent());
  if (!done) return;
  if (last_disruption_) last_disruption_->reset_latency_ns = done->latency_ns;
  if (auto* b = bound_->feed()) b->on_reset_done(realtime_now().ns);
  reports_.mark_dirty();
}

void Daemon::watch_tick(const Now& c) {
  auto snap = page_.snapshot();
  if (!snap) return;  // the sample tick reports page errors, once
  on_snapshot(snap->page, c);
  reset_tick(c);
}

void Daemon::page_error(const Error& e, const Now& c) {
  usable_.reset();
  ++counters_.page_errors;
  incidents_.fail("page", "read", e.message);
  if (state_ == DaemonState::synced) out_.withdraw();
  set_state(DaemonState::no_data, e.message);
  if (auto* b = bound_->feed()) b->on_no_sample(e.message, c.real.ns);
}

void Daemon::sample_tick(const Now& c) {
  if (!page_.is_open()) {
    if (auto s = page_.open(); !s) {
      incidents_.fail("page", "open", page_.why_missing() + "; waiting for it");
      set_state(DaemonState::no_data, s.error().message);
      return;
    }
    incidents_.recover("page", "open", fmt::format("{} is back", page_.path()));
  }
  auto out = page_.sample(static_cast<unsigned>(cfg_.sampling.best_of));
  if (!out) return page_error(out.error(), c);
  // Formatted only when there is a recovery to log: this runs on every sample.
  if (incidents_.open("read")) incidents_.recover("page", "read", fmt::format("{} reads again", page_.path()));
  on_snapshot(out->snapshot.page, c);
  reset_tick(c);

  const GateDecision d = gate({.outcome = *out,
                               .tracked_marker = tracker_.marker(),
                               .imminent = tracker_.imminent(),
                               .reset_pending = reset_.pending(),
                               .max_error_ns = static_cast<uint64_t>(cfg_.sampling.max_error_ns)});
  switch (d.refusal) {
    case Refusal::paused:
      usable_.reset();
      out_.withdraw();
      set_state(DaemonState::paused, d.why);
      return;
    case Refusal::reset_pending:
      return;  // still disrupted: chronyd keeps stale samples until the reset
    case Refusal::page_has_no_time:
      // Not a refusal to count four times a second: the page never has time.
      usable_.reset();
      if (auto* b = bound_->feed()) b->on_no_sample(d.why, c.real.ns);
      set_state(DaemonState::watching, d.why);
      return;
    default:
      break;
  }
  usable_ = d.usable;
  if (auto* b = bound_->feed()) {
    // The bound is honest whatever chrony's maxerror limit: it carries the error.
    if (d.usable) b->on_sample(*d.usable, out->snapshot.page.clock_status);
    else b->on_no_sample(d.why, c.real.ns);
  }
  if (d.counts_as_refused()) {
    ++counters_.samples_refused;
    if (state_ == DaemonState::synced) out_.withdraw();
    set_state(DaemonState::no_data, d.why);
    return;
  }
  bool any = false;
  for (auto& sink : out_.sinks) any |= static_cast<bool>(sink->publish(*d.for_chrony));
  if (any || out_.sinks.empty()) ++counters_.samples_sent;
  last_sample_ = d.for_chrony;
  set_state(DaemonState::synced, "");
}

StatusView Daemon::view(const Now& c) const {
  StatusView v;
  v.version = std::string(kVersion);
  v.pid = ::getpid();
  v.boot_id = self_identity().boot_id;
  v.start_ticks = self_identity().start_ticks;
  v.updated = format_utc(c.real);
  v.updated_unix_ns = c.real.ns;
  v.state = state_;
  if (!reason_.empty()) v.reason = reason_;
  v.config = cfg_.origin;
  v.settings = nlohmann::json::object();
  for (const auto& o : option_values(cfg_)) std::visit([&](const auto& x) { v.settings[o.name] = x; }, o.value);
  v.page.path = cfg_.source.page;
  v.page.kind = std::string(page_.kind());
  if (page_.is_open()) {
    v.page.watch = std::string(name(page_.watch_mode()));
    v.page.watch_why = page_.watch_why();
  }
  if (const auto& m = page_.missing()) {
    v.page.missing = m->device ? PageMissingView{.reason = std::string(name(m->device->kind)),
                                                 .detail = m->device->why,
                                                 .sysfs = m->device->sysfs}
                               : PageMissingView{.reason = "cannot-open", .detail = m->error.message, .sysfs = std::nullopt};
  }
  if (last_page_) {
    const Page& p = *last_page_;
    v.page.seq_count = p.seq_count;
    v.page.disruption_marker = p.disruption_marker;
    v.page.vm_generation_counter = p.vm_generation_counter;
    v.page.clock_status = abi::name_or_undefined(p.clock_status);
    v.page.time_type = abi::name_or_undefined(p.time_type);
    v.page.counter_id = abi::name_or_undefined(p.counter_id);
    v.page.leap_indicator = abi::name_or_undefined(p.leap_indicator);
    v.page.smearing_hint = abi::name_or_undefined(p.smearing_hint);
    v.page.flags = p.flags.raw;
  }
  if (last_sample_) {
    const Sample& s = *last_sample_;
    v.last_sample = SampleView{.time = format_utc(s.reference),
                               .system_ns = s.system.ns,
                               .offset_ns = s.offset.count,
                               .maxerror_ns = s.maxerror_ns,
                               .esterror_ns = s.esterror_ns,
                               .bracket_ns = s.bracket_ns,
                               .leap = static_cast<int>(s.leap),
                               .disruption_marker = s.disruption_marker};
  }
  v.counters = counters_;
  v.counters.resets_sent = reset_.sent();
  v.counters.resets_failed = reset_.failed();
  v.last_disruption = last_disruption_;
  for (const auto& s : out_.sinks) {
    auto h = s->health();
    v.sinks.push_back(SinkView{.name = std::string(s->name()),
                               .ok = h.ok,
                               // chronyd's absence is no news while there is nothing to send it.
                               .state = state_ == DaemonState::watching ? "idle (page has no time)" : h.state,
                               .published = h.published,
                               .failed = h.failed,
                               .last_error = h.last_error});
  }
  v.ptp4l = out_.ptp ? out_.ptp->status_json() : nlohmann::json(nullptr);
  v.bound = bound_->view();
  return v;
}

void Daemon::reload() {
  ++counters_.config_reloads;
  reports_.mark_dirty();
  if (config_path_.empty()) {
    log::notice("config", "SIGHUP: no configuration file, keeping the built-in defaults");
    return;
  }
  auto refuse = [](const Error& e) {
    log::err("config", fmt::format("reload failed, keeping the old configuration: {}", e.message));
  };
  auto nc = load_config(config_path_);
  if (!nc) return refuse(nc.error());
  if (page_override_) nc->source.page = *page_override_;
  // Everything that can fail is built before anything running is touched.
  std::optional<PageReader> new_page;
  if (nc->source.page != cfg_.source.page) {
    new_page.emplace(nc->source.page, opener_);
    if (auto s = new_page->open(); !s) return refuse(s.error());
  }
  auto built = build_outputs(*nc, &cfg_, out_);
  if (!built) return refuse(built.error());

  const Config old = std::move(cfg_);
  cfg_ = std::move(*nc);
  out_ = std::move(*built);
  reset_.set_commands(out_.commands.get());
  reset_.set_policy(ResetPolicy{cfg_.chrony.burst, cfg_.chrony.makestep});
  if (!BoundOutlet::same_sections(old, cfg_)) {
    bound_.reset();  // publishes "stopped" before the new one opens the segment
    bound_ = std::make_unique<BoundOutlet>(cfg_);
    open_bound(now());
  }
  if (new_page) {
    page_ = std::move(*new_page);
    tracker_.reset();
  }
  if (old.daemon.user != cfg_.daemon.user)
    log::notice("config", fmt::format("daemon.user = \"{}\" takes effect at the next start", cfg_.daemon.user));
  // One line either way: an operator who reloads wants to see it was done.
  if (cfg_ == old) log::notice("config", fmt::format("SIGHUP: {} unchanged", config_path_));
  else log::notice("config", fmt::format("SIGHUP: reloaded {}", config_path_));
}

// The loop. Without the device's notifications the marker is watched
// every watch_interval_ms, so that wakeup is the daemon's whole CPU cost:
// it reads the monotonic clock once and seq_count once, and sleeps again.
// Only chronyd depends on that watch (every local reader of the page,
// libvmclock and ClockBound's clients, checks the marker on each call
// itself), so the default is set by how long chronyd may keep stale
// samples (config.h). With notifications (the 7.0 driver) there is no such
// timer: the device wakes the loop. Everything else is housekeeping, which
// runs when its own deadline is due, on the watch tick at or after it (no
// wakeup of its own; a reset retry excepted), or at once when the watch
// saw the page move or a signal came.
int Daemon::run() {
  begin();
  while (step()) {
  }
  return finish();
}

void Daemon::begin() {
  Now c = now();
  next_sample_ns_ = next_watch_ns_ = c.mono_ns;
  next_work_ns_ = housekeeping(c);  // samples, and writes the first reports
  sd_notify(0, "READY=1");
}

bool Daemon::step() {
  int64_t t = mono_now_ns();
  bool work = t >= next_work_ns_;
  std::optional<Now> full;
  if (page_.is_open() && page_.timer_watch() && t >= next_watch_ns_) {
    // On the grid, so that the wakeups do not drift with the work done.
    const int64_t period = cfg_.source.watch_interval_ms * kMs;
    next_watch_ns_ += period;
    if (next_watch_ns_ <= t) next_watch_ns_ = t + period;
    if (page_.moved()) {
      full = now();
      watch_tick(*full);
      work = true;  // a disruption wants a sample, a reset, the reports now
    }
  }
  if (work) {
    if (!full) full = now();
    next_work_ns_ = housekeeping(*full);
    t = mono_now_ns();
  }
  int64_t wake = next_work_ns_;
  if (page_.is_open() && page_.timer_watch()) {
    // Housekeeping due at most kFoldNs before the next watch tick waits for
    // it: the sampling, the reports, the bound and ptp4l take no wake-up
    // of their own. A reset retry does not wait: chronyd holds stale
    // samples until it is answered.
    const int64_t fold = std::min(cfg_.source.watch_interval_ms * kMs, kFoldNs);
    if (wake > t && wake < next_watch_ns_ && next_watch_ns_ - wake <= fold)
      wake = std::min(next_watch_ns_, next_reset_ns_);
    wake = std::min(wake, next_watch_ns_);
  }
  const auto w = wait_.wait(wake, page_.poll_fd());
  ++counters_.wakeups;
  if (w.notify_revents) {
    ++counters_.notifications;
    page_.notified(w.notify_revents);
    next_watch_ns_ = 0;  // look at the page at once
  }
  if (w.reload) {
    reload();
    next_work_ns_ = 0;  // the reports, new outputs and feeds: at once
  }
  return !w.stop;
}

int Daemon::finish() {
  sd_notify(0, "STOPPING=1");
  out_.withdraw();
  set_state(DaemonState::stopped, "");  // the file's last word: nobody feeds chrony now
  const Now end = now();
  reports_.write(cfg_.daemon, view(end), end.mono_ns);
  return 0;
}

int64_t Daemon::housekeeping(const Now& c) {
  if (c.mono_ns >= next_sample_ns_) {
    const int64_t due = next_sample_ns_;
    sample_tick(c);
    // Every interval_ms on average, though run on a watch tick after it.
    const int64_t period = cfg_.sampling.interval_ms * kMs;
    next_sample_ns_ = due + period > c.mono_ns ? due + period : c.mono_ns + period;
  }
  reset_tick(c);
  open_bound(c);
  if (out_.ptp)
    out_.ptp->tick(state_ == DaemonState::disrupted || state_ == DaemonState::paused, last_page_, usable_, c.mono_ns);
  if (reports_.due(cfg_.daemon, c.mono_ns)) reports_.write(cfg_.daemon, view(c), c.mono_ns);
  const int64_t watchdog_ns = static_cast<int64_t>(watchdog_usec_) * 500;
  if (watchdog_usec_ && c.mono_ns - last_watchdog_ns_ > watchdog_ns) {
    sd_notify(0, "WATCHDOG=1");
    last_watchdog_ns_ = c.mono_ns;
  }

  next_reset_ns_ = reset_.next_due(tracker_.imminent());
  int64_t next = next_sample_ns_;
  next = std::min(next, reports_.next_due(cfg_.daemon));
  next = std::min(next, next_reset_ns_);
  next = std::min(next, bound_->next_due());
  if (out_.ptp) next = std::min(next, c.mono_ns + kPtpTickNs);
  if (watchdog_usec_) next = std::min(next, last_watchdog_ns_ + watchdog_ns + 1);
  return next;
}

}  // namespace vmc
