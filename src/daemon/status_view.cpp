// SPDX-License-Identifier: Apache-2.0
// The status schema: each struct's keys listed once, in fields(), and
// walked by the writer (to_json) and by the reader (status_from_json).
#include "status_view.h"

#include <fmt/format.h>

#include <concepts>
#include <type_traits>

namespace vmc {
namespace {

using nlohmann::json;

// --- the schema ------------------------------------------------------------

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, PageView> {
  f("path", v.path);
  f("kind", v.kind);
  f("watch", v.watch);
  f("watch_why", v.watch_why);
  f("seq_count", v.seq_count);
  f("disruption_marker", v.disruption_marker);
  f("vm_generation_counter", v.vm_generation_counter);
  f("clock_status", v.clock_status);
  f("time_type", v.time_type);
  f("counter_id", v.counter_id);
  f("leap_indicator", v.leap_indicator);
  f("smearing_hint", v.smearing_hint);
  f("flags", v.flags);
  f("missing", v.missing);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, PageMissingView> {
  f("reason", v.reason);
  f("detail", v.detail);
  f("sysfs", v.sysfs);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, SampleView> {
  f("time", v.time);
  f("system_ns", v.system_ns);
  f("offset_ns", v.offset_ns);
  f("maxerror_ns", v.maxerror_ns);
  f("esterror_ns", v.esterror_ns);
  f("bracket_ns", v.bracket_ns);
  f("leap", v.leap);
  f("disruption_marker", v.disruption_marker);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, DisruptionView> {
  f("system_ns", v.system_ns);
  f("old_marker", v.old_marker);
  f("new_marker", v.new_marker);
  f("old_generation", v.old_generation);
  f("new_generation", v.new_generation);
  f("reset_latency_ns", v.reset_latency_ns);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, SinkView> {
  f("name", v.name);
  f("ok", v.ok);
  f("state", v.state);
  f("published", v.published);
  f("failed", v.failed);
  f("last_error", v.last_error);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, PublishedView> {
  f("segment", v.segment);
  f("state", v.state);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, BoundView> {
  f("segment", v.segment);
  f("source", v.source);
  f("status", v.status);
  f("bound_ns", v.bound_ns);
  f("max_drift_ppb", v.max_drift_ppb);
  f("clock_rate_ppb", v.clock_rate_ppb);
  f("as_of_ns", v.as_of_ns);
  f("disruption_marker", v.disruption_marker);
  f("why", v.why);
  f("clockbound", v.clockbound);
}

// The counters sit at the top level of the file, beside the state.
template <class V, class F> void counter_fields(V& c, F&& f) {
  f("samples_sent", c.samples_sent);
  f("samples_refused", c.samples_refused);
  f("disruptions_seen", c.disruptions_seen);
  f("resets_sent", c.resets_sent);
  f("resets_failed", c.resets_failed);
  f("page_errors", c.page_errors);
  f("config_reloads", c.config_reloads);
  f("wakeups", c.wakeups);
  f("notifications", c.notifications);
}

template <class V, class F> void fields(V& v, F&& f) requires std::same_as<std::remove_const_t<V>, StatusView> {
  f("version", v.version);
  f("pid", v.pid);
  f("boot_id", v.boot_id);
  f("start_ticks", v.start_ticks);
  f("updated", v.updated);
  f("updated_unix_ns", v.updated_unix_ns);
  f("state", v.state);
  f("reason", v.reason);
  f("config", v.config);
  f("settings", v.settings);
  f("page", v.page);
  f("last_sample", v.last_sample);
  counter_fields(v.counters, f);
  f("last_disruption", v.last_disruption);
  f("sinks", v.sinks);
  f("ptp4l", v.ptp4l);
  f("bound", v.bound);
}

template <class T>
concept Schema = requires(T& t) { fields(t, [](const char*, auto&) {}); };

// --- writing ---------------------------------------------------------------

template <class T> constexpr bool is_optional = false;
template <class T> constexpr bool is_optional<std::optional<T>> = true;
template <class T> constexpr bool is_vector = false;
template <class T> constexpr bool is_vector<std::vector<T>> = true;

template <class T> json write(const T& v);

struct Writer {
  json& j;
  template <class T> void operator()(const char* key, const T& v) { j[key] = write(v); }
};

template <class T> json write(const T& v) {
  if constexpr (Schema<T>) {
    json j = json::object();
    fields(v, Writer{j});
    return j;
  } else if constexpr (is_optional<T>) {
    return v ? write(*v) : json(nullptr);
  } else if constexpr (is_vector<T>) {
    json a = json::array();
    for (const auto& x : v) a.push_back(write(x));
    return a;
  } else if constexpr (std::is_same_v<T, DaemonState>) {
    return std::string(name(v));
  } else {
    return json(v);
  }
}

// --- reading ---------------------------------------------------------------

struct Reader {
  const json& j;
  std::string path;
  std::optional<Error>& err;
  template <class T> void operator()(const char* key, T& v);
};

template <class T> void read(const json& j, const std::string& path, std::optional<Error>& err, T& v);

inline void bad(std::optional<Error>& err, const std::string& path, const json& j, std::string_view want) {
  if (!err) err = make_error(Errc::data, fmt::format("{} = {}: must be {}", path, j.dump(), want));
}

template <class T> void read_optional(const json& j, const std::string& path, std::optional<Error>& err,
                                      std::optional<T>& v) {
  if (j.is_null()) {
    v.reset();
    return;
  }
  T x{};
  read(j, path, err, x);
  v = std::move(x);
}

template <class T> void read(const json& j, const std::string& path, std::optional<Error>& err, T& v) {
  if (err) return;
  if constexpr (Schema<T>) {
    if (!j.is_object()) return bad(err, path, j, "an object");
    fields(v, Reader{j, path, err});
  } else if constexpr (std::is_same_v<T, DaemonState>) {
    auto s = j.is_string() ? daemon_state_from_name(j.get<std::string>()) : std::nullopt;
    if (!s) return bad(err, path, j, "a daemon state");
    v = *s;
  } else if constexpr (std::is_same_v<T, json>) {
    v = j;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return bad(err, path, j, "a string");
    v = j.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return bad(err, path, j, "true or false");
    v = j.get<bool>();
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!j.is_number_unsigned()) return bad(err, path, j, "an unsigned integer");
    v = j.get<T>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) return bad(err, path, j, "an integer");
    v = j.get<T>();
  } else if constexpr (is_vector<T>) {
    if (!j.is_array()) return bad(err, path, j, "an array");
    v.clear();
    for (size_t i = 0; i < j.size() && !err; ++i) {
      typename T::value_type x{};
      read(j[i], fmt::format("{}[{}]", path, i), err, x);
      v.push_back(std::move(x));
    }
  } else {
    static_assert(sizeof(T) == 0, "no schema for this type");
  }
}

template <class T> void Reader::operator()(const char* key, T& v) {
  if (err) return;
  const std::string at = path.empty() ? key : path + "." + key;
  auto it = j.find(key);
  if (it == j.end()) {
    err = make_error(Errc::data, fmt::format("{}: missing", at));
    return;
  }
  if constexpr (is_optional<T>) read_optional(*it, at, err, v);
  else read(*it, at, err, v);
}

}  // namespace

json to_json(const StatusView& v) { return write(v); }

Result<StatusView> status_from_json(const json& j) {
  StatusView v;
  std::optional<Error> err;
  read(j, "", err, v);
  if (err) return *err;
  return v;
}

}  // namespace vmc
