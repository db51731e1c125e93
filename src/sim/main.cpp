// SPDX-License-Identifier: Apache-2.0
// vmclock-sim: plays the hypervisor. Writes a vmclock page file mapping
// this CPU's counter to CLOCK_REALTIME + offset (+ drift) (or, with
// --fixed-truth, to a line frozen after calibration), replays host
// events (migrations, status, leap seconds, a stuck seqlock) and prints
// the ground truth it wrote, one line per event.
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>

#include "clock.h"
#include "counter.h"
#include "options.h"
#include "page_file.h"
#include "scenario.h"
#include "sim_model.h"

namespace vmc::sim {
namespace {

std::atomic<int> g_migrations{0};
std::atomic<int> g_term_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");

extern "C" void on_signal(int sig) {
  if (sig == SIGUSR1) g_migrations.fetch_add(1, std::memory_order_relaxed);
  else g_term_signal.store(sig, std::memory_order_relaxed);
}

Status install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: clock_nanosleep must return so that the loop sees it.
  for (int s : {SIGUSR1, SIGTERM, SIGINT})
    if (sigaction(s, &sa, nullptr) != 0)
      return make_error(Errc::os, fmt::format("sigaction({}): {}", s, std::strerror(errno)));
  // A test that stops reading our stdout must not kill the host of its page.
  signal(SIGPIPE, SIG_IGN);
  return Ok{};
}

void sleep_until_mono(int64_t t) {
  timespec ts{static_cast<time_t>(t / kNsPerSec), static_cast<long>(t % kNsPerSec)};
  // EINTR is the point: a signal arrived and the loop must look at it.
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
}

using json = nlohmann::ordered_json;


class Sim {
 public:
  Sim(SimConfig cfg, Scenario scen) : cfg_(std::move(cfg)), scen_(std::move(scen)), host_(cfg_.host) {
    actions_ = expand(scen_);
  }
  int run();

 private:
  Status calibrate();
  // The realtime the truth is evaluated at: the frozen line's, or CLOCK_REALTIME.
  int64_t truth_rt_now() const { return line_ ? line_->rt_ns_at(read_counter()) : realtime_now().ns; }
  void set_type_shift();
  Result<Page> fresh_page();
  Status publish_now();
  Status periodic();
  Status migrate(std::optional<int64_t> offset_step, std::optional<double> drift_step, bool marker, bool generation,
                 std::string_view source, std::optional<size_t> index);
  Status apply(const Action& a);
  json state(std::string_view event, std::optional<size_t> index = std::nullopt);
  void emit(const json& j);

  SimConfig cfg_;
  Scenario scen_;
  std::vector<Action> actions_;
  HostState host_;
  Truth truth_;
  Calibrator cal_;
  std::optional<FrozenLine> line_;
  std::optional<PageFile> file_;
  Page last_{};
  CalPair last_pair_{};
  int64_t mono_minus_rt_ns_ = 0;
  int64_t ready_mono_ = 0;
  uint64_t updates_ = 0;
  bool stopped_ = false;
  bool stuck_ = false;
  bool output_dead_ = false;
};

Status Sim::calibrate() {
  cal_.add(take_pair(50));
  const int64_t end = mono_now_ns() + cfg_.calibrate_ns;
  // Pairs every 10 ms: the baseline is what matters, the count only
  // guards against one bad pair at the end.
  for (int i = 0; i < 10'000; ++i) {
    int64_t now = mono_now_ns();
    if (now >= end) break;
    sleep_until_mono(std::min(end, now + 10'000'000));
    if (g_term_signal.load()) break;
    cal_.add(take_pair(10));
  }
  if (!cal_.ready()) cal_.add(take_pair(10));
  if (!cal_.ready()) return make_error(Errc::software, "counter calibration failed: the counter did not advance");
  return Ok{};
}

void Sim::set_type_shift() {
  switch (host_.time_type) {
    case abi::TimeType::tai: truth_.type_shift_ns = tai_minus_utc_s(host_) * kNsPerSec; break;
    case abi::TimeType::monotonic: truth_.type_shift_ns = mono_minus_rt_ns_; break;
    default: truth_.type_shift_ns = 0; break;
  }
}

Result<Page> Sim::fresh_page() {
  if (host_.disruption_only) return header_page(host_);
  if (line_) {
    // On the line by construction: no bracket, nothing CLOCK_REALTIME did counts.
    const uint64_t c = read_counter();
    last_pair_ = CalPair{line_->rt_ns_at(c), c, 0};
    return build_page(host_, truth_, line_->period_s(), c, last_pair_.rt_ns);
  }
  CalPair p = take_pair(5);
  if (cal_.add(p) == Calibrator::Added::restarted) emit(state("recalibrated"));
  last_pair_ = p;
  // A wide bracket (we were preempted) is a worse anchor than our own line.
  int64_t rt = p.width_ns > cal_.accept_width_ns() ? cal_.predict_rt_ns(p.counter) : p.rt_ns;
  return build_page(host_, truth_, cal_.period_s(), p.counter, rt);
}

Status Sim::publish_now() {
  if (stopped_ || stuck_) return Ok{};
  auto p = fresh_page();
  if (!p) return p.error();
  file_->publish(*p);
  last_ = *p;
  last_.seq_count = file_->seq();
  ++updates_;
  if (cfg_.trace_updates) emit(state("update"));
  return Ok{};
}

Status Sim::periodic() {
  // Firecracker and QEMU never rewrite a disruption-only page on their own.
  if (host_.disruption_only) return Ok{};
  return publish_now();
}

Status Sim::migrate(std::optional<int64_t> offset_step, std::optional<double> drift_step, bool marker,
                    bool generation, std::string_view source, std::optional<size_t> index) {
  truth_.step(truth_rt_now(), offset_step.value_or(cfg_.migration_offset_step_ns),
              drift_step.value_or(cfg_.migration_drift_step_ppm));
  if (marker) host_.marker += 1;
  if (generation) host_.generation += 1;
  host_.disruption_soon = false;
  host_.disruption_imminent = false;
  if (auto st = publish_now(); !st) return st;
  json j = state("migration", index);
  j["source"] = source;
  emit(j);
  return Ok{};
}

Status Sim::apply(const Action& a) {
  const Event& e = scen_.events[a.event];
  switch (a.kind) {
    case ActionKind::raise_soon: host_.disruption_soon = true; break;
    case ActionKind::raise_imminent: host_.disruption_imminent = true; break;
    case ActionKind::migrate:
      return migrate(e.offset_step_ns, e.drift_step_ppm, e.bump_marker, e.bump_generation, "scenario", a.event);
    case ActionKind::set_fields: {
      const SetFields& s = e.set;
      int64_t rt = truth_rt_now();
      if (s.offset_ns) {
        truth_.rebase(rt);
        truth_.offset_ns = *s.offset_ns;
      }
      if (s.drift_ppm) {
        truth_.rebase(rt);
        truth_.drift_ppm = *s.drift_ppm;
      }
      if (s.time_type) host_.time_type = *s.time_type;
      if (s.counter_id) host_.counter_id = *s.counter_id;
      if (s.status) host_.status = *s.status;
      if (s.smearing) host_.smearing = *s.smearing;
      if (s.tai_offset) host_.tai_offset = *s.tai_offset;
      if (s.maxerror_ns) host_.maxerror_ns = *s.maxerror_ns;
      if (s.esterror_ns) host_.esterror_ns = *s.esterror_ns;
      if (s.period_maxerror_ppb) host_.period_maxerror_ppb = *s.period_maxerror_ppb;
      if (s.period_esterror_ppb) host_.period_esterror_ppb = *s.period_esterror_ppb;
      set_type_shift();
      break;
    }
    case ActionKind::leap_pending:
    case ActionKind::leap_now:
    case ActionKind::leap_post: host_.leap = a.leap; break;
    case ActionKind::leap_clear: host_.leap = abi::LeapIndicator::none; break;
    case ActionKind::stop_updates: stopped_ = true; break;
    case ActionKind::resume_updates:
      stopped_ = false;
      stuck_ = false;
      break;
    case ActionKind::stuck_odd: {
      auto p = fresh_page();
      if (!p) return p.error();
      if (!stopped_ && !stuck_) file_->publish_stuck(*p);
      stuck_ = true;
      emit(state("stuck_odd", a.event));
      return Ok{};
    }
    case ActionKind::unstuck: stuck_ = false; break;
  }
  if (auto st = publish_now(); !st) return st;
  std::string_view ev = a.kind == ActionKind::set_fields ? name(e.kind) : name(a.kind);
  emit(state(ev, a.event));
  return Ok{};
}

json Sim::state(std::string_view event, std::optional<size_t> index) {
  int64_t rt = truth_rt_now();
  json j;
  j["event"] = event;
  if (index) j["index"] = *index;
  j["t_s"] = ready_mono_ ? static_cast<double>(mono_now_ns() - ready_mono_) * 1e-9 : 0.0;
  j["realtime_ns"] = rt;
  if (line_) j["clock_realtime_ns"] = realtime_now().ns;
  j["offset_ns"] = truth_.offset_ns_at(rt);
  j["drift_ppm"] = truth_.drift_ppm;
  j["type_shift_ns"] = truth_.type_shift_ns;
  j["marker"] = host_.marker;
  j["generation"] = host_.generation_present ? json(host_.generation) : json(nullptr);
  j["status"] = abi::name_or_undefined(host_.status);
  j["time_type"] = abi::name_or_undefined(host_.time_type);
  j["counter_id"] = abi::name_or_undefined(host_.counter_id);
  j["leap"] = abi::name_or_undefined(host_.leap);
  j["smearing"] = abi::name_or_undefined(host_.smearing);
  j["tai_offset"] = host_.tai_offset ? json(*host_.tai_offset) : json(nullptr);
  j["maxerror_ns"] = host_.maxerror_ns ? json(*host_.maxerror_ns) : json(nullptr);
  j["esterror_ns"] = host_.esterror_ns ? json(*host_.esterror_ns) : json(nullptr);
  j["flags"] = last_.flags.raw;
  j["seq"] = file_ ? file_->seq() : 0u;
  j["updates"] = updates_;
  j["updates_stopped"] = stopped_;
  j["stuck_odd"] = stuck_;
  if (event == "update" || event == "ready") {
    j["counter_value"] = last_.counter_value;
    j["time_sec"] = last_.time_sec;
    j["time_frac_sec"] = last_.time_frac_sec;
    j["counter_period_frac_sec"] = last_.counter_period_frac_sec;
    j["counter_period_shift"] = last_.counter_period_shift;
    j["counter_period_s"] = static_cast<double>(FixedPeriod{last_.counter_period_frac_sec, last_.counter_period_shift}.seconds());
    j["calibrated_period_s"] = static_cast<double>(cal_.period_s());
    j["calibration_baseline_ns"] = cal_.baseline_ns();
    j["bracket_ns"] = last_pair_.width_ns;
    j["anchor_realtime_ns"] = last_pair_.rt_ns;
  }
  return j;
}

void Sim::emit(const json& j) {
  if (output_dead_) return;
  std::string line;
  if (cfg_.json) {
    line = j.dump();
  } else {
    line = j.at("event").get<std::string>();
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "event") continue;
      line += fmt::format(" {}={}", it.key(), it->is_string() ? it->get<std::string>() : it->dump());
    }
  }
  line += '\n';
  if (std::fputs(line.c_str(), stdout) == EOF || std::fflush(stdout) == EOF) {
    // The reader went away; the page is what matters, so keep serving it.
    output_dead_ = true;
    std::fprintf(stderr, "vmclock-sim: stdout: %s; no more event lines\n", std::strerror(errno));
  }
}

int Sim::run() {
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "vmclock-sim: %s\n", e.message.c_str());
    return static_cast<int>(e.code);
  };
  if (auto st = install_signals(); !st) return fail(st.error());
  // The default 50 us timer slack alone would halve a 0.1 ms update rate.
  if (cfg_.update_interval_ns < 10'000'000) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  mono_minus_rt_ns_ = mono_now_ns() - realtime_now().ns;
  if (!host_.disruption_only) {
    if (auto st = calibrate(); !st) return fail(st.error());
    if (cfg_.fixed_truth) {
      auto l = FrozenLine::freeze(cal_);
      if (!l) return fail(l.error());
      line_ = *l;
    }
  }
  if (int s = g_term_signal.load()) {
    fmt::print(stderr, "vmclock-sim: signal {} before ready\n", s);
    return 0;
  }
  truth_.ref_rt_ns = truth_rt_now();
  truth_.offset_ns = cfg_.offset_ns;
  truth_.drift_ppm = cfg_.drift_ppm;
  set_type_shift();
  auto first = fresh_page();
  if (!first) return fail(first.error());
  auto f = PageFile::create(cfg_.page_path, *first);
  if (!f) return fail(f.error());
  file_.emplace(std::move(*f));
  last_ = *first;
  last_.seq_count = file_->seq();
  updates_ = 1;
  ready_mono_ = mono_now_ns();

  json ready = state("ready");
  ready["page"] = cfg_.page_path;
  ready["pid"] = static_cast<int64_t>(getpid());
  ready["size"] = host_.size;
  ready["disruption_only"] = host_.disruption_only;
  ready["update_interval_ms"] = static_cast<double>(cfg_.update_interval_ns) * 1e-6;
  ready["native_counter"] = std::string(abi::name(kNativeCounter));
  ready["truth"] = line_ ? "fixed" : "realtime";
  if (line_) {
    // The line, for a test to compute the truth at a counter value itself:
    // realtime = anchor_realtime_ns + (counter - anchor_counter) * period_s.
    ready["line_anchor_counter"] = line_->anchor().counter;
    ready["line_anchor_realtime_ns"] = line_->anchor().rt_ns;
    ready["line_period_s"] = static_cast<double>(line_->period_s());
  }
  if (scen_.events.size()) ready["scenario"] = scen_.source;
  emit(ready);

  const int64_t interval = cfg_.update_interval_ns;
  const int64_t deadline = cfg_.duration_ns ? ready_mono_ + *cfg_.duration_ns : INT64_MAX;
  int64_t next_update = ready_mono_ + interval;
  size_t next_action = 0;
  int handled_migrations = g_migrations.load();
  std::string reason;
  // The service loop: it ends on SIGTERM/SIGINT or at --duration; each
  // pass sleeps at most 100 ms, so a signal that raced the sleep waits no
  // longer than that.
  for (;;) {
    if (int s = g_term_signal.load()) {
      reason = s == SIGINT ? "SIGINT" : "SIGTERM";
      break;
    }
    // At most 1000 per pass: a signal storm must not starve the updates.
    for (int i = 0; i < 1000 && handled_migrations != g_migrations.load(); ++i) {
      ++handled_migrations;
      if (auto st = migrate(std::nullopt, std::nullopt, true, true, "SIGUSR1", std::nullopt); !st)
        return fail(st.error());
    }
    int64_t now = mono_now_ns();
    while (next_action < actions_.size() && ready_mono_ + actions_[next_action].at_ns <= now) {
      if (auto st = apply(actions_[next_action++]); !st) return fail(st.error());
    }
    if (now >= deadline) {
      reason = "duration";
      break;
    }
    if (now >= next_update) {
      if (auto st = periodic(); !st) return fail(st.error());
      next_update += interval;
      // A late wake-up is caught up (a 0.1 ms schedule must average 10,000
      // updates/s); being far behind (stopped by a debugger, overloaded)
      // skips instead, so that there is never a long burst.
      if (now - next_update > std::max<int64_t>(2 * interval, 20'000'000)) next_update = now + interval;
    }
    int64_t wake = std::min({next_update, deadline, now + 100'000'000});
    if (next_action < actions_.size()) wake = std::min(wake, ready_mono_ + actions_[next_action].at_ns);
    if (wake > now) sleep_until_mono(wake);
  }
  json bye = state("exit");
  bye["reason"] = reason;
  emit(bye);
  return 0;
}

}  // namespace
}  // namespace vmc::sim

int main(int argc, char** argv) {
  using namespace vmc::sim;
  auto opts = parse_options(argc, argv);
  if (!opts) {
    std::fprintf(stderr, "vmclock-sim: %s\n", opts.error().message.c_str());
    return static_cast<int>(opts.error().code);
  }
  if (!*opts) return 0;
  SimConfig cfg = std::move(**opts);
  Scenario scen;
  if (cfg.scenario_path) {
    auto s = load_scenario(*cfg.scenario_path);
    if (!s) {
      std::fprintf(stderr, "vmclock-sim: %s\n", s.error().message.c_str());
      return static_cast<int>(s.error().code);
    }
    scen = std::move(*s);
    if (!cfg.migration_offset_step_given && scen.migration_offset_step_ns)
      cfg.migration_offset_step_ns = *scen.migration_offset_step_ns;
    if (!cfg.migration_drift_step_given && scen.migration_drift_step_ppm)
      cfg.migration_drift_step_ppm = *scen.migration_drift_step_ppm;
  }
  Sim sim(std::move(cfg), std::move(scen));
  return sim.run();
}
