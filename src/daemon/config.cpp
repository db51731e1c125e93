// SPDX-License-Identifier: Apache-2.0
// Parsing vmclockd.toml: the option table (each key's name, type, bounds,
// help and the Config member it sets), the file's checks, and the listing
// that --print-options prints from the table and the defaults.
#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>
#include <toml++/toml.h>
#include <type_traits>
#include <variant>

#include "config_ptp4l.h"
#include "fd.h"
#include "file_kind.h"
#include "shm_sample.h"

namespace vmc {
namespace {

struct IntRange {
  int64_t min, max;
  constexpr IntRange(int64_t lo, int64_t hi) : min(lo), max(hi) {}
  constexpr IntRange(ptp::Range r) : min(r.min), max(r.max) {}  // NOLINT: the plugin's bounds, as they are
};

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

// The member `M` of the section `S` of a Config. An optional section is
// engaged when its [header] is read (and by describe_options()).
template <auto S, auto M>
auto& member(Config& c) {
  auto& section = c.*S;
  if constexpr (is_optional<std::remove_reference_t<decltype(section)>>) return section.value().*M;
  else return section.*M;
}

using Check = std::string (*)(const std::string&);  // "" = fine, else why not
struct IntField {
  int64_t& (*ref)(Config&);
  IntRange range;
};
struct BoolField {
  bool& (*ref)(Config&);
};
struct StringField {
  std::string& (*ref)(Config&);
  Check check;
};

template <auto S, auto M>
constexpr IntField integer(IntRange r) { return {&member<S, M>, r}; }
template <auto S, auto M>
constexpr BoolField boolean() { return {&member<S, M>}; }
template <auto S, auto M>
constexpr StringField string(Check check = nullptr) { return {&member<S, M>, check}; }

// One row per option: the only place its name, type, bounds and help live.
// Rows of a section are contiguous (describe_options() prints a header per run).
struct Option {
  const char* section;
  const char* key;
  std::variant<IntField, BoolField, StringField> field;
  const char* help;
};

std::string absolute_path(const std::string& v) {
  if (v.empty()) return "must not be empty";
  return v[0] == '/' ? "" : "must be an absolute path";
}
std::string absolute_path_or_empty(const std::string& v) { return v.empty() ? "" : absolute_path(v); }
std::string bound_source(const std::string& v) {
  return v == "auto" || v == "page" || v == "chrony" ? "" : "must be auto, page or chrony";
}
std::string time_source(const std::string& v) {
  return ptp::parse_time_source(v) ? std::string() : ptp::time_source_expected();
}

using C = Config;
using Src = SourceSection;
using Smp = SamplingSection;
using Chr = ChronySection;
using Dmn = DaemonSection;
using Bnd = BoundSection;
using Cbd = ClockBoundSection;
using Ptp = Ptp4lSection;
namespace pb = ptp::bounds;

const Option kOptions[] = {
    {"source", "page", string<&C::source, &Src::page>(absolute_path), "vmclock device or page file"},
    {"source", "watch_interval_ms", integer<&C::source, &Src::watch_interval_ms>({1, 1000}),
     "how often the disruption marker is checked when the device sends no notifications"},
    {"sampling", "interval_ms", integer<&C::sampling, &Smp::interval_ms>({10, 60000}), "time between samples"},
    {"sampling", "best_of", integer<&C::sampling, &Smp::best_of>({1, 64}),
     "cross-timestamps per sample; the narrowest bracket wins"},
    {"sampling", "max_error_ns", integer<&C::sampling, &Smp::max_error_ns>({1, 10'000'000'000}),
     "no sample is sent whose maxerror exceeds this"},
    // chronyd's key is the int 0x4e545030 + unit: larger units overflow it.
    {"chrony", "shm_unit",
     integer<&C::chrony, &Chr::shm_unit>({-1, std::numeric_limits<int32_t>::max() - chrony::kShmKeyBase}),
     "SHM refclock unit (refclock SHM N); -1 for none"},
    {"chrony", "sock", string<&C::chrony, &Chr::sock>(absolute_path_or_empty),
     "SOCK refclock socket that chronyd binds; empty for none"},
    {"chrony", "command_socket", string<&C::chrony, &Chr::command_socket>(absolute_path_or_empty),
     "chronyd's command socket, for resets"},
    {"chrony", "reset_on_disruption", boolean<&C::chrony, &Chr::reset_on_disruption>(),
     "send RESET_SOURCES on a disruption"},
    {"chrony", "burst", boolean<&C::chrony, &Chr::burst>(),
     "after a reset, ask chronyd for a burst of NTP measurements"},
    {"chrony", "makestep", boolean<&C::chrony, &Chr::makestep>(),
     "after a reset, ask chronyd to step the clock once it has new measurements (snapshot restores)"},
    {"chrony", "client_dir", string<&C::chrony, &Chr::client_dir>(absolute_path),
     "where the command client binds its reply socket"},
    {"daemon", "status_file", string<&C::daemon, &Dmn::status_file>(absolute_path_or_empty),
     "JSON status for vmclockctl status; empty for none"},
    {"daemon", "metrics_file", string<&C::daemon, &Dmn::metrics_file>(absolute_path_or_empty),
     "Prometheus text file for node_exporter's textfile collector; empty for none"},
    {"daemon", "user", string<&C::daemon, &Dmn::user>(),
     "user to switch to when started as root; empty to keep running as the invoking user"},
    {"bound", "segment", string<&C::bound, &Bnd::segment>(absolute_path_or_empty),
     "file libvmclock maps for its bound when it cannot use the page itself; empty for none"},
    {"bound", "source", string<&C::bound, &Bnd::source>(bound_source),
     "where the published bound comes from: page (vmclockd's samples), chrony (chronyd's tracking: root "
     "delay/2 + root dispersion + |correction|), auto (page when it carries time, else chrony)"},
    {"bound", "max_drift_ppb", integer<&C::bound, &Bnd::max_drift_ppb>({0, 1'000'000'000}),
     "how fast readers grow the bound after it was written (parts per billion of elapsed time)"},
    {"bound", "stale_after_ms", integer<&C::bound, &Bnd::stale_after_ms>({1, 3'600'000}),
     "readers report FREERUNNING when the bound is older than this"},
    {"bound", "void_after_s", integer<&C::bound, &Bnd::void_after_s>({1, 86'400}),
     "readers report UNKNOWN when the bound is older than this"},
    {"bound", "tracking_interval_ms", integer<&C::bound, &Bnd::tracking_interval_ms>({100, 3'600'000}),
     "how often chronyd's tracking is read when the bound comes from chrony"},
    {"clockbound", "segment", string<&C::clockbound, &Cbd::segment>(absolute_path_or_empty),
     "AWS ClockBound's shared-memory segment (v2), for ClockBound's clients; empty for none "
     "(ClockBound's clients read /var/run/clockbound/shm0)"},
    // [ptp4l]: the bounds are the plugin's (ptp_options.h), which checks them again.
    {"ptp4l", "uds_address", string<&C::ptp4l, &Ptp::uds_address>(absolute_path), "ptp4l's management socket"},
    {"ptp4l", "time_source", string<&C::ptp4l, &Ptp::time_source>(time_source),
     "timeSource announced: atomic_clock, gnss, ptp, ntp, hand_set, other, internal_oscillator or a number"},
    {"ptp4l", "domain_number", integer<&C::ptp4l, &Ptp::domain_number>(pb::domain_number), "ptp4l's domainNumber"},
    {"ptp4l", "locked_maxerror_ns", integer<&C::ptp4l, &Ptp::locked_maxerror_ns>(pb::locked_maxerror_ns),
     "SYNCHRONIZED with maxerror at most this is announced as clockClass 6"},
    {"ptp4l", "holdover_maxerror_ns", integer<&C::ptp4l, &Ptp::holdover_maxerror_ns>(pb::holdover_maxerror_ns),
     "otherwise clockClass 7 (holdover in spec) while maxerror is at most this, then 187"},
    {"ptp4l", "default_utc_offset", integer<&C::ptp4l, &Ptp::default_utc_offset>(pb::default_utc_offset),
     "currentUtcOffset announced (UTC_OFF_VALID clear) when the page gives no TAI - UTC"},
    {"ptp4l", "ptp_timescale", boolean<&C::ptp4l, &Ptp::ptp_timescale>(),
     "announce PTP_TIMESCALE: only for a hardware-timestamping grandmaster whose PHC runs TAI"},
    {"ptp4l", "upgrade_hold_updates", integer<&C::ptp4l, &Ptp::upgrade_hold_updates>(pb::upgrade_hold_updates),
     "a better class is announced only after this many consecutive updates ..."},
    {"ptp4l", "upgrade_hold_ms", integer<&C::ptp4l, &Ptp::upgrade_hold_ms>(pb::upgrade_hold_ms),
     "... and this long (downgrades are immediate)"},
    {"ptp4l", "check_interval_ms", integer<&C::ptp4l, &Ptp::check_interval_ms>(pb::check_interval_ms),
     "how often ptp4l's settings are read back and re-applied if lost (ptp4l restarted)"},
    {"ptp4l", "retry_interval_ms", integer<&C::ptp4l, &Ptp::retry_interval_ms>(pb::retry_interval_ms),
     "how often an absent or failing ptp4l is tried again"},
    {"ptp4l", "reply_timeout_ms", integer<&C::ptp4l, &Ptp::reply_timeout_ms>(pb::reply_timeout_ms),
     "how long one management request waits"},
    {"ptp4l", "client_address", string<&C::ptp4l, &Ptp::client_address>(absolute_path_or_empty),
     "socket path vmclockd binds for ptp4l's replies; empty: vmclockd-pmc.sock in chrony.client_dir "
     "(a path, so that replies arrive under PrivateNetwork)"},
};

std::string where(const std::string& name, const toml::node& n) {
  return fmt::format("{}:{}", name, n.source().begin.line);
}

Error not_a_file(const std::string& path, mode_t m) {
  return make_error(Errc::config,
                    fmt::format("{}: is {}: the configuration must be a regular file", path, file_kind(m)));
}

// `more`: the file grew while it was read, so `size` is only what was read.
Error too_large(const std::string& path, uint64_t size, bool more = false) {
  return make_error(Errc::config, fmt::format("{}: {}{} bytes is over the limit of {} bytes for a configuration", path,
                                              more ? "more than " : "", more ? size - 1 : size, kMaxConfigBytes));
}

// Every string is a path or a name handed to C: a NUL would cut it short
// ("/x\0y" opened "/x").
std::string check_string(const StringField& f, const std::string& v) {
  if (v.find('\0') != std::string::npos) return "must not contain a NUL character";
  return f.check ? f.check(v) : std::string();
}

}  // namespace

Status check_option(std::string_view key, const std::string& value, std::string_view given_as) {
  for (const auto& o : kOptions) {
    if (fmt::format("{}.{}", o.section, o.key) != key) continue;
    const auto* s = std::get_if<StringField>(&o.field);
    if (!s) break;
    if (auto why = check_string(*s, value); !why.empty())
      return make_error(Errc::usage, fmt::format("{} \"{}\": {}", given_as, value, why));
    return Ok{};
  }
  return make_error(Errc::software, fmt::format("check_option: {} is no string option", key));
}

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
  for (auto&& [sec_key, sec_node] : root) {
    const toml::table* sec = sec_node.as_table();
    std::string sec_name(sec_key.str());
    bool known_section = false;
    for (const auto& o : kOptions) known_section |= sec_name == o.section;
    if (!known_section)
      return make_error(Errc::config, fmt::format("{}: unknown section or key [{}]", where(name, sec_node), sec_name));
    if (!sec)
      return make_error(Errc::config, fmt::format("{}: {} must be a [section]", where(name, sec_node), sec_name));
    if (sec_name == "ptp4l") c.ptp4l.emplace();
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
      std::string value_text;
      v.visit([&](auto&& x) {
        std::ostringstream os;
        os << x;
        value_text = os.str();
      });
      auto bad = [&](std::string why) {
        return make_error(Errc::config, fmt::format("{}: {} = {}: {}", where(name, v), full, value_text, why));
      };
      if (auto i = std::get_if<IntField>(&opt->field)) {
        // Checked before value<>(): converting a huge float would be UB.
        if (!v.is_integer()) return bad("must be an integer");
        auto iv = v.value<int64_t>();
        if (!iv) return bad("must be an integer");
        if (*iv < i->range.min || *iv > i->range.max)
          return bad(fmt::format("must be between {} and {}", i->range.min, i->range.max));
        i->ref(c) = *iv;
      } else if (auto b = std::get_if<BoolField>(&opt->field)) {
        if (!v.is_boolean()) return bad("must be true or false");
        b->ref(c) = *v.value<bool>();
      } else if (auto s = std::get_if<StringField>(&opt->field)) {
        if (!v.is_string()) return bad("must be a string");
        std::string sv = *v.value<std::string>();
        if (auto why = check_string(*s, sv); !why.empty()) return bad(why);
        s->ref(c) = std::move(sv);
      }
    }
  }
  // What no single key can check: the plugin's limits across keys and on
  // the derived client address.
  if (auto o = ptp4l_options(c))
    if (auto v = ptp::validate(*o); !v)
      return make_error(Errc::config, fmt::format("{}: {}", where(name, *root.get("ptp4l")), v.error().message));
  if (c.bound.stale_after_ms > c.bound.void_after_s * 1000) {
    const toml::node* at = root.at_path("bound.stale_after_ms").node();
    return make_error(Errc::config,
                      fmt::format("{}: bound.stale_after_ms = {} is longer than bound.void_after_s = {} s: a bound "
                                  "would be void before it is stale",
                                  at ? where(name, *at) : name, c.bound.stale_after_ms, c.bound.void_after_s));
  }
  if (c.chrony.shm_unit < 0 && c.chrony.sock.empty() && c.chrony.command_socket.empty() && !c.ptp4l &&
      c.bound.segment.empty() && c.clockbound.segment.empty())
    return make_error(Errc::config,
                      fmt::format("{}: nothing to feed: set chrony.shm_unit, chrony.sock, chrony.command_socket, "
                                  "bound.segment, clockbound.segment or a [ptp4l] section",
                                  name));
  return c;
}

Result<Config> load_config(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
  Fd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY); }));
  if (!fd) {
    const int err = errno;
    // A socket cannot be opened at all: say what it is rather than ENXIO.
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return not_a_file(path, st.st_mode);
    return make_error(Errc::no_input, fmt::format("{}: cannot open the configuration: {}", path, std::strerror(err)));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0)
    return make_error(Errc::no_input, fmt::format("{}: cannot stat the configuration: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return not_a_file(path, st.st_mode);
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) return too_large(path, static_cast<uint64_t>(st.st_size));
  // The file may grow after fstat: read one byte past the cap to know.
  std::string text(kMaxConfigBytes + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = retry_eintr([&] { return ::read(fd.get(), text.data() + got, text.size() - got); });
    if (n < 0)
      return make_error(Errc::no_input,
                        fmt::format("{}: cannot read the configuration: {}", path, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxConfigBytes) return too_large(path, got, true);
  text.resize(got);
  return parse_config(text, path);
}

std::string describe_options() {
  std::string out;
  std::string last;
  Config d;
  d.ptp4l.emplace();
  for (const auto& o : kOptions) {
    if (last != o.section) out += fmt::format("{}[{}]\n", last.empty() ? "" : "\n", o.section);
    last = o.section;
    std::string type, def;
    if (auto i = std::get_if<IntField>(&o.field)) {
      type = fmt::format("integer {}..{}", i->range.min, i->range.max);
      def = fmt::format("{}", i->ref(d));
    } else if (auto b = std::get_if<BoolField>(&o.field)) {
      type = "boolean";
      def = b->ref(d) ? "true" : "false";
    } else if (auto s = std::get_if<StringField>(&o.field)) {
      type = "string";
      def = fmt::format("\"{}\"", s->ref(d));
    }
    out += fmt::format("# {} ({})\n#{} = {}\n", o.help, type, o.key, def);
  }
  return out;
}

std::vector<OptionValue> option_values(const Config& cfg) {
  Config c = cfg;  // the table's references are to a mutable Config
  std::vector<OptionValue> out;
  for (const auto& o : kOptions) {
    // [ptp4l] is the one optional section: its keys exist only with it.
    if (std::string_view(o.section) == "ptp4l" && !c.ptp4l) continue;
    OptionValue v{fmt::format("{}.{}", o.section, o.key), int64_t{0}};
    if (auto i = std::get_if<IntField>(&o.field)) v.value = i->ref(c);
    else if (auto b = std::get_if<BoolField>(&o.field)) v.value = b->ref(c);
    else if (auto st = std::get_if<StringField>(&o.field)) v.value = st->ref(c);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace vmc
