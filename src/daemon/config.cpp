#include "config.h"

#include "config_ptp4l.h"
#include "ptp_options.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <toml++/toml.h>
#include <variant>

namespace vmc {
namespace {

struct IntRange {
  int64_t min, max;
};

// One row per option: the only place its name, type, bounds and help live.
struct Option {
  const char* section;
  const char* key;
  std::variant<int64_t Config::*, bool Config::*, std::string Config::*> field;
  IntRange range{0, 0};
  const char* help;
  std::function<std::string(const Config&)> check = nullptr;  // extra validation; "" = fine
};

std::string absolute_path_or_empty(const std::string& v, bool empty_ok) {
  if (v.empty()) return empty_ok ? "" : "must not be empty";
  if (v[0] != '/') return "must be an absolute path";
  return "";
}

const Option kOptions[] = {
    {"source", "page", &Config::page, {}, "vmclock device or page file",
     [](const Config& c) { return absolute_path_or_empty(c.page, false); }},
    {"source", "watch_interval_ms", &Config::watch_interval_ms, {1, 1000},
     "how often the disruption marker is checked when the device sends no notifications"},
    {"sampling", "interval_ms", &Config::interval_ms, {10, 60000}, "time between samples"},
    {"sampling", "best_of", &Config::best_of, {1, 64}, "cross-timestamps per sample; the narrowest bracket wins"},
    {"sampling", "max_error_ns", &Config::max_error_ns, {1, 10'000'000'000},
     "no sample is sent whose maxerror exceeds this"},
    {"chrony", "shm_unit", &Config::shm_unit, {-1, 0x7fffffff - 0x4e545030}, "SHM refclock unit (refclock SHM N); -1 for none"},
    {"chrony", "sock", &Config::sock, {}, "SOCK refclock socket that chronyd binds; empty for none",
     [](const Config& c) { return absolute_path_or_empty(c.sock, true); }},
    {"chrony", "command_socket", &Config::command_socket, {}, "chronyd's command socket, for resets",
     [](const Config& c) { return absolute_path_or_empty(c.command_socket, true); }},
    {"chrony", "reset_on_disruption", &Config::reset_on_disruption, {}, "send RESET_SOURCES on a disruption"},
    {"chrony", "burst", &Config::burst, {}, "after a reset, ask chronyd for a burst of NTP measurements"},
    {"chrony", "makestep", &Config::makestep, {}, "after a reset, ask chronyd to step the clock once it has new measurements (snapshot restores)"},
    {"chrony", "client_dir", &Config::client_dir, {}, "where the command client binds its reply socket",
     [](const Config& c) { return absolute_path_or_empty(c.client_dir, false); }},
    {"daemon", "status_file", &Config::status_file, {}, "JSON status for vmclockctl status; empty for none",
     [](const Config& c) { return absolute_path_or_empty(c.status_file, true); }},
    {"daemon", "metrics_file", &Config::metrics_file, {},
     "Prometheus text file for node_exporter's textfile collector; empty for none",
     [](const Config& c) { return absolute_path_or_empty(c.metrics_file, true); }},
    {"daemon", "user", &Config::user, {}, "user to switch to when started as root; empty to keep running as the invoking user"},
    {"bound", "segment", &Config::bound_segment, {},
     "file libvmclock maps for its bound when it cannot use the page itself; empty for none",
     [](const Config& c) { return absolute_path_or_empty(c.bound_segment, true); }},
    {"bound", "source", &Config::bound_source, {},
     "where the published bound comes from: page (vmclockd's samples), chrony (chronyd's tracking: root "
     "delay/2 + root dispersion + |correction|), auto (page when it carries time, else chrony)",
     [](const Config& c) {
       return c.bound_source == "auto" || c.bound_source == "page" || c.bound_source == "chrony"
                  ? std::string() : std::string("must be auto, page or chrony");
     }},
    {"bound", "max_drift_ppb", &Config::bound_max_drift_ppb, {0, 1'000'000'000},
     "how fast readers grow the bound after it was written (parts per billion of elapsed time)"},
    {"bound", "stale_after_ms", &Config::bound_stale_after_ms, {1, 3'600'000},
     "readers report FREERUNNING when the bound is older than this"},
    {"bound", "void_after_s", &Config::bound_void_after_s, {1, 86'400},
     "readers report UNKNOWN when the bound is older than this"},
    {"bound", "tracking_interval_ms", &Config::bound_tracking_interval_ms, {100, 3'600'000},
     "how often chronyd's tracking is read when the bound comes from chrony"},
    {"ptp4l", "uds_address", &Config::ptp4l_uds_address, {}, "ptp4l's management socket",
     [](const Config& c) { return absolute_path_or_empty(c.ptp4l_uds_address, false); }},
    {"ptp4l", "time_source", &Config::ptp4l_time_source, {},
     "timeSource announced: atomic_clock, gnss, ptp, ntp, hand_set, other, internal_oscillator or a number",
     [](const Config& c) {
       auto r = ptp::parse_time_source(c.ptp4l_time_source);
       return r ? std::string() : r.error().message;
     }},
    {"ptp4l", "domain_number", &Config::ptp4l_domain_number, {0, 255}, "ptp4l's domainNumber"},
    {"ptp4l", "locked_maxerror_ns", &Config::ptp4l_locked_maxerror_ns, {1, 10'000'000'000},
     "SYNCHRONIZED with maxerror at most this is announced as clockClass 6"},
    {"ptp4l", "holdover_maxerror_ns", &Config::ptp4l_holdover_maxerror_ns, {1, 1'000'000'000'000},
     "otherwise clockClass 7 (holdover in spec) while maxerror is at most this, then 187"},
    {"ptp4l", "default_utc_offset", &Config::ptp4l_default_utc_offset, {0, 1000},
     "currentUtcOffset announced (UTC_OFF_VALID clear) when the page gives no TAI - UTC"},
    {"ptp4l", "ptp_timescale", &Config::ptp4l_ptp_timescale, {},
     "announce PTP_TIMESCALE: only for a hardware-timestamping grandmaster whose PHC runs TAI"},
    {"ptp4l", "upgrade_hold_updates", &Config::ptp4l_upgrade_hold_updates, {1, 1000},
     "a better class is announced only after this many consecutive updates ..."},
    {"ptp4l", "upgrade_hold_ms", &Config::ptp4l_upgrade_hold_ms, {0, 3'600'000},
     "... and this long (downgrades are immediate)"},
    {"ptp4l", "check_interval_ms", &Config::ptp4l_check_interval_ms, {1000, 3'600'000},
     "how often ptp4l's settings are read back and re-applied if lost (ptp4l restarted)"},
    {"ptp4l", "retry_interval_ms", &Config::ptp4l_retry_interval_ms, {100, 3'600'000},
     "how often an absent or failing ptp4l is tried again"},
    {"ptp4l", "reply_timeout_ms", &Config::ptp4l_reply_timeout_ms, {1, 200}, "how long one management request waits"},
    {"ptp4l", "client_address", &Config::ptp4l_client_address, {},
     "socket path vmclockd binds for ptp4l's replies; empty: vmclockd-pmc.sock in chrony.client_dir "
     "(a path, so that replies arrive under PrivateNetwork)",
     [](const Config& c) { return absolute_path_or_empty(c.ptp4l_client_address, true); }},
};

std::string where(const std::string& name, const toml::node& n) {
  return fmt::format("{}:{}", name, n.source().begin.line);
}

}  // namespace

Config default_config() { return Config{}; }

Result<Config> parse_config(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::config, fmt::format("{}:{}: {}", name, e.source().begin.line, e.description()));
  }
  Config c;
  c.origin = name;
  bool sock_given = false;
  for (auto&& [sec_key, sec_node] : root) {
    const toml::table* sec = sec_node.as_table();
    std::string sec_name(sec_key.str());
    bool known_section = false;
    for (const auto& o : kOptions) known_section |= sec_name == o.section;
    if (!known_section)
      return make_error(Errc::config, fmt::format("{}: unknown section or key [{}]", where(name, sec_node), sec_name));
    if (!sec)
      return make_error(Errc::config, fmt::format("{}: {} must be a [section]", where(name, sec_node), sec_name));
    if (sec_name == "ptp4l") c.ptp4l = true;
    for (auto&& kv : *sec) {
      // Not a structured binding: clang 14 cannot capture one in a lambda.
      const auto& k = kv.first;
      const toml::node& v = kv.second;
      std::string key(k.str());
      const Option* opt = nullptr;
      for (const auto& o : kOptions)
        if (sec_name == o.section && key == o.key) opt = &o;
      if (!opt)
        return make_error(Errc::config, fmt::format("{}: unknown key {}.{}", where(name, v), sec_name, key));
      std::string full = sec_name + "." + key;
      sock_given |= full == "chrony.sock";
      std::string value_text;
      v.visit([&](auto&& x) {
        std::ostringstream os;
        os << x;
        value_text = os.str();
      });
      auto bad = [&](std::string why) {
        return make_error(Errc::config, fmt::format("{}: {} = {}: {}", where(name, v), full, value_text, why));
      };
      if (auto p = std::get_if<int64_t Config::*>(&opt->field)) {
        // Checked before value<>(): converting a huge float would be UB.
        if (!v.is_integer()) return bad("must be an integer");
        auto iv = v.value<int64_t>();
        if (!iv) return bad("must be an integer");
        if (*iv < opt->range.min || *iv > opt->range.max)
          return bad(fmt::format("must be between {} and {}", opt->range.min, opt->range.max));
        c.*(*p) = *iv;
      } else if (auto b = std::get_if<bool Config::*>(&opt->field)) {
        if (!v.is_boolean()) return bad("must be true or false");
        c.*(*b) = *v.value<bool>();
      } else if (auto s = std::get_if<std::string Config::*>(&opt->field)) {
        if (!v.is_string()) return bad("must be a string");
        c.*(*s) = *v.value<std::string>();
      }
      if (opt->check)
        if (auto why = opt->check(c); !why.empty()) return bad(why);
    }
  }
  if (c.ptp4l)
    if (auto v = ptp::validate(ptp4l_options(c)); !v)
      return make_error(Errc::config, fmt::format("{}: {}", name, v.error().message));
  // chrony recommends SOCK for new feeders: it is the sink unless the
  // file chose otherwise.
  if (c.shm_unit < 0 && !sock_given) c.sock = kDefaultSock;
  if (c.shm_unit < 0 && c.sock.empty() && c.command_socket.empty() && !c.ptp4l && c.bound_segment.empty())
    return make_error(Errc::config,
                      fmt::format("{}: nothing to feed: set chrony.shm_unit, chrony.sock, chrony.command_socket, "
                                  "bound.segment or a [ptp4l] section",
                                  name));
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(Errc::no_input, fmt::format("{}: cannot open the configuration: {}", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

std::string describe_options() {
  std::string out;
  std::string last;
  Config d;
  for (const auto& o : kOptions) {
    if (last != o.section) out += fmt::format("{}[{}]\n", last.empty() ? "" : "\n", o.section);
    last = o.section;
    std::string def = std::visit(
        [&](auto p) -> std::string {
          using T = std::decay_t<decltype(d.*p)>;
          if constexpr (std::is_same_v<T, bool>) return d.*p ? "true" : "false";
          else if constexpr (std::is_same_v<T, std::string>) return fmt::format("\"{}\"", d.*p);
          else return fmt::format("{}", d.*p);
        },
        o.field);
    out += fmt::format("# {}\n#{} = {}\n", o.help, o.key, def);
  }
  return out;
}

}  // namespace vmc
