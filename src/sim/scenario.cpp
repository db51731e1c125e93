// SPDX-License-Identifier: Apache-2.0
#include "scenario.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <toml++/toml.h>

#include "counter.h"
#include "sim_model.h"

namespace vmc::sim {

std::string_view name(EventKind k) {
  switch (k) {
    case EventKind::migration: return "migration";
    case EventKind::status: return "status";
    case EventKind::leap: return "leap";
    case EventKind::stop_updates: return "stop_updates";
    case EventKind::resume_updates: return "resume_updates";
    case EventKind::stuck_odd: return "stuck_odd";
    case EventKind::set: return "set";
  }
  return "";
}

std::string_view name(ActionKind k) {
  switch (k) {
    case ActionKind::raise_soon: return "disruption_soon";
    case ActionKind::raise_imminent: return "disruption_imminent";
    case ActionKind::migrate: return "migration";
    case ActionKind::set_fields: return "set";
    case ActionKind::leap_pending: return "leap_pending";
    case ActionKind::leap_now: return "leap";
    case ActionKind::leap_post: return "leap_post";
    case ActionKind::leap_clear: return "leap_clear";
    case ActionKind::stop_updates: return "stop_updates";
    case ActionKind::resume_updates: return "resume_updates";
    case ActionKind::stuck_odd: return "stuck_odd";
    case ActionKind::unstuck: return "unstuck";
  }
  return "";
}

bool SetFields::any() const {
  return offset_ns || drift_ppm || time_type || counter_id || status || smearing || tai_offset || maxerror_ns ||
         esterror_ns || period_maxerror_ppb || period_esterror_ppb;
}

namespace {

std::string show(const toml::node& n) {
  if (auto v = n.as_integer()) return std::to_string(v->get());
  if (auto v = n.as_floating_point()) return fmt::format("{}", v->get());
  if (auto v = n.as_boolean()) return v->get() ? "true" : "false";
  if (auto v = n.as_string()) return fmt::format("\"{}\"", v->get());
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  return "a date/time";
}

// Reads one table's keys with messages that say where the value is.
class Reader {
 public:
  Reader(const std::string& source, std::string where) : source_(source), where_(std::move(where)) {}

  Error fail(std::string_view key, const toml::node& n, std::string_view why) const {
    return make_error(Errc::config, fmt::format("scenario {}:{}: {}{}{} = {}: {}", source_, n.source().begin.line,
                                                where_, where_.empty() ? "" : ".", key, show(n), why));
  }
  Error fail_missing(std::string_view key, std::string_view why) const {
    return make_error(Errc::config, fmt::format("scenario {}: {}: key {} missing: {}", source_, where_, key, why));
  }

  Result<double> number(std::string_view key, const toml::node& n, double lo, double hi) const {
    double v;
    if (auto i = n.as_integer()) v = static_cast<double>(i->get());
    else if (auto f = n.as_floating_point()) v = f->get();
    else return fail(key, n, "expected a number");
    if (!std::isfinite(v) || v < lo || v > hi) return fail(key, n, fmt::format("expected a number in [{}, {}]", lo, hi));
    return v;
  }
  Result<int64_t> integer(std::string_view key, const toml::node& n, int64_t lo, int64_t hi) const {
    auto i = n.as_integer();
    if (!i) return fail(key, n, "expected an integer");
    if (i->get() < lo || i->get() > hi) return fail(key, n, fmt::format("expected an integer in [{}, {}]", lo, hi));
    return i->get();
  }
  // A number of `unit_ns` units as integer nanoseconds in [0, kMaxScenarioNs].
  Result<int64_t> duration(std::string_view key, const toml::node& n, double unit_ns) const {
    auto v = number(key, n, 0, static_cast<double>(kMaxScenarioNs) / unit_ns);
    if (!v) return v.error();
    return static_cast<int64_t>(std::llround(*v * unit_ns));
  }
  Result<bool> boolean(std::string_view key, const toml::node& n) const {
    auto b = n.as_boolean();
    if (!b) return fail(key, n, "expected true or false");
    return b->get();
  }
  template <class T, class Parse>
  Result<T> name_of(std::string_view key, const toml::node& n, Parse parse, std::string_view choices) const {
    auto s = n.as_string();
    if (!s) return fail(key, n, fmt::format("expected one of {}", choices));
    auto v = parse(s->get());
    if (!v) return fail(key, n, fmt::format("expected one of {}", choices));
    return *v;
  }

 private:
  const std::string& source_;
  std::string where_;
};

constexpr std::string_view kStatusChoices = "unknown, initializing, synchronized, freerunning, unreliable";
constexpr std::string_view kTimeTypeChoices = "utc, tai, monotonic, smeared, maybe-smeared";
constexpr std::string_view kCounterChoices = "x86_tsc, arm_vcnt, invalid, native";
constexpr std::string_view kSmearChoices = "strict, noon-linear, utc-sls";

std::optional<EventKind> parse_kind(std::string_view s) {
  for (auto k : {EventKind::migration, EventKind::status, EventKind::leap, EventKind::stop_updates,
                 EventKind::resume_updates, EventKind::stuck_odd, EventKind::set})
    if (s == name(k)) return k;
  return std::nullopt;
}

// Sets one key of a "set" (or "status") event; false when the key is not one.
Result<bool> set_key(const Reader& r, std::string_view k, const toml::node& v, SetFields& s) {
  auto assign = [](auto& field, auto res) -> Result<bool> {
    if (!res) return res.error();
    field = *res;
    return true;
  };
  if (k == "offset_ns") return assign(s.offset_ns, r.integer(k, v, -kMaxOffsetNs, kMaxOffsetNs));
  if (k == "drift_ppm") return assign(s.drift_ppm, r.number(k, v, -kMaxDriftPpm, kMaxDriftPpm));
  if (k == "time_type") return assign(s.time_type, r.name_of<abi::TimeType>(k, v, parse_time_type, kTimeTypeChoices));
  if (k == "status") return assign(s.status, r.name_of<abi::ClockStatus>(k, v, parse_status, kStatusChoices));
  if (k == "smearing") return assign(s.smearing, r.name_of<abi::SmearingHint>(k, v, parse_smearing, kSmearChoices));
  if (k == "counter_id")
    return assign(s.counter_id, r.name_of<abi::CounterId>(
                                    k, v, [](std::string_view x) { return parse_counter_id(x, kNativeCounter); },
                                    kCounterChoices));
  if (k == "tai_offset") {
    auto x = r.integer(k, v, INT16_MIN, INT16_MAX);
    if (!x) return x.error();
    s.tai_offset = static_cast<int16_t>(*x);
    return true;
  }
  if (k == "maxerror_ns" || k == "esterror_ns") {
    auto x = r.integer(k, v, 0, std::numeric_limits<int64_t>::max());
    if (!x) return x.error();
    (k == "maxerror_ns" ? s.maxerror_ns : s.esterror_ns) = static_cast<uint64_t>(*x);
    return true;
  }
  if (k == "period_maxerror_ppb") return assign(s.period_maxerror_ppb, r.number(k, v, 0, kMaxPpb));
  if (k == "period_esterror_ppb") return assign(s.period_esterror_ppb, r.number(k, v, 0, kMaxPpb));
  return false;
}

Result<Event> parse_event(const std::string& source, size_t i, const toml::table& t) {
  Reader r(source, fmt::format("event[{}]", i));
  Event e;
  e.index = i;
  const toml::node* type = t.get("type");
  if (!type) return r.fail_missing("type", "every event needs a type");
  auto ts = type->as_string();
  std::optional<EventKind> kind = ts ? parse_kind(ts->get()) : std::nullopt;
  if (!kind)
    return r.fail("type", *type,
                  "expected one of migration, status, leap, stop_updates, resume_updates, stuck_odd, set");
  e.kind = *kind;
  const toml::node* at = t.get("at");
  if (!at) return r.fail_missing("at", "seconds after ready");
  if (auto v = r.duration("at", *at, 1e9); !v) return v.error();
  else e.at_ns = *v;
  bool leap_seen = false;
  for (auto&& [key, node] : t) {
    std::string_view k = key.str();
    if (k == "type" || k == "at" || k == "note") continue;
    bool known = true;
    switch (e.kind) {
      case EventKind::migration:
        if (k == "offset_step_ns") {
          auto x = r.integer(k, node, -kMaxOffsetNs, kMaxOffsetNs);
          if (!x) return x.error();
          e.offset_step_ns = *x;
        } else if (k == "drift_step_ppm") {
          auto x = r.number(k, node, -kMaxDriftPpm, kMaxDriftPpm);
          if (!x) return x.error();
          e.drift_step_ppm = *x;
        } else if (k == "soon_ms" || k == "imminent_ms") {
          auto x = r.duration(k, node, 1e6);
          if (!x) return x.error();
          if (*x > e.at_ns) return r.fail(k, node, fmt::format("starts before ready (the event is at {} s)", static_cast<double>(e.at_ns) / 1e9));
          (k == "soon_ms" ? e.soon_ns : e.imminent_ns) = *x;
        } else if (k == "bump_marker" || k == "bump_generation") {
          auto x = r.boolean(k, node);
          if (!x) return x.error();
          (k == "bump_marker" ? e.bump_marker : e.bump_generation) = *x;
        } else {
          known = false;
        }
        break;
      case EventKind::leap:
        if (k == "leap") {
          auto x = r.name_of<abi::LeapIndicator>(k, node, parse_leap, "pre-pos, pre-neg");
          if (!x) return x.error();
          if (*x != abi::LeapIndicator::pre_pos && *x != abi::LeapIndicator::pre_neg)
            return r.fail(k, node, "expected one of pre-pos, pre-neg");
          e.leap = *x;
          leap_seen = true;
        } else if (k == "after_s" || k == "post_s") {
          auto x = r.duration(k, node, 1e9);
          if (!x) return x.error();
          (k == "after_s" ? e.leap_after_ns : e.leap_post_ns) = *x;
        } else {
          known = false;
        }
        break;
      case EventKind::stop_updates:
      case EventKind::stuck_odd:
        if (k == "duration_s") {
          auto x = r.duration(k, node, 1e9);
          if (!x) return x.error();
          e.duration_ns = *x;
        } else {
          known = false;
        }
        break;
      case EventKind::status:
        if (k == "status") {
          auto x = set_key(r, k, node, e.set);
          if (!x) return x.error();
        } else {
          known = false;
        }
        break;
      case EventKind::set: {
        auto x = set_key(r, k, node, e.set);
        if (!x) return x.error();
        known = *x;
        break;
      }
      case EventKind::resume_updates: known = false; break;
    }
    if (!known) return r.fail(k, node, fmt::format("not a key of a {} event", name(e.kind)));
  }
  if (e.kind == EventKind::status && !e.set.status) return r.fail_missing("status", kStatusChoices);
  if (e.kind == EventKind::set && !e.set.any()) return r.fail_missing("a field to set", "e.g. offset_ns, drift_ppm, status");
  if (e.kind == EventKind::leap && !leap_seen) return r.fail_missing("leap", "pre-pos or pre-neg");
  return e;
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view toml_text, const std::string& source) {
  Scenario s;
  s.source = source;
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::config, fmt::format("scenario {}:{}:{}: {}", source, e.source().begin.line,
                                                e.source().begin.column, e.description()));
  }
  Reader r(source, "");
  for (auto&& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "migration_offset_step_ns") {
      auto x = r.integer(k, node, -kMaxOffsetNs, kMaxOffsetNs);
      if (!x) return x.error();
      s.migration_offset_step_ns = *x;
    } else if (k == "migration_drift_step_ppm") {
      auto x = r.number(k, node, -kMaxDriftPpm, kMaxDriftPpm);
      if (!x) return x.error();
      s.migration_drift_step_ppm = *x;
    } else if (k == "event") {
      auto arr = node.as_array();
      if (!arr) return r.fail(k, node, "expected [[event]] tables");
      if (arr->size() > kMaxEvents) return r.fail(k, node, fmt::format("more than {} events", kMaxEvents));
      for (size_t i = 0; i < arr->size(); ++i) {
        auto tbl = (*arr)[i].as_table();
        if (!tbl) return Reader(source, fmt::format("event[{}]", i)).fail("", (*arr)[i], "expected a table");
        auto ev = parse_event(source, i, *tbl);
        if (!ev) return ev.error();
        s.events.push_back(std::move(*ev));
      }
    } else {
      return r.fail(k, node, "unknown key (expected migration_offset_step_ns, migration_drift_step_ppm, event)");
    }
  }
  return s;
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::config, fmt::format("scenario {}: cannot open", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(Errc::config, fmt::format("scenario {}: read error", path));
  return parse_scenario(ss.str(), path);
}

std::vector<Action> expand(const Scenario& s) {
  std::vector<Action> out;
  auto push = [&](int64_t at, ActionKind k, size_t i, abi::LeapIndicator li = abi::LeapIndicator::none) {
    out.push_back(Action{at, k, i, li});
  };
  for (size_t i = 0; i < s.events.size(); ++i) {
    const Event& e = s.events[i];
    switch (e.kind) {
      case EventKind::migration:
        if (e.soon_ns) push(e.at_ns - *e.soon_ns, ActionKind::raise_soon, i);
        if (e.imminent_ns) push(e.at_ns - *e.imminent_ns, ActionKind::raise_imminent, i);
        push(e.at_ns, ActionKind::migrate, i);
        break;
      case EventKind::status:
      case EventKind::set: push(e.at_ns, ActionKind::set_fields, i); break;
      case EventKind::leap: {
        push(e.at_ns, ActionKind::leap_pending, i, e.leap);
        int64_t when = e.at_ns + e.leap_after_ns;
        if (e.leap == abi::LeapIndicator::pre_pos) {
          // The inserted second itself, then the aftermath.
          push(when, ActionKind::leap_now, i, abi::LeapIndicator::pos);
          push(when + kNsPerSec, ActionKind::leap_post, i, abi::LeapIndicator::post_pos);
          push(when + kNsPerSec + e.leap_post_ns, ActionKind::leap_clear, i);
        } else {
          // A deleted second has no duration: straight to the aftermath.
          push(when, ActionKind::leap_now, i, abi::LeapIndicator::post_neg);
          push(when + e.leap_post_ns, ActionKind::leap_clear, i);
        }
        break;
      }
      case EventKind::stop_updates:
        push(e.at_ns, ActionKind::stop_updates, i);
        if (e.duration_ns) push(e.at_ns + *e.duration_ns, ActionKind::resume_updates, i);
        break;
      case EventKind::resume_updates: push(e.at_ns, ActionKind::resume_updates, i); break;
      case EventKind::stuck_odd:
        push(e.at_ns, ActionKind::stuck_odd, i);
        if (e.duration_ns) push(e.at_ns + *e.duration_ns, ActionKind::unstuck, i);
        break;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Action& a, const Action& b) { return a.at_ns < b.at_ns; });
  return out;
}

}  // namespace vmc::sim
