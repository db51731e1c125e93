// SPDX-License-Identifier: Apache-2.0
// vmc-ptp-set: runs GrandmasterUpdater against a real ptp4l for a ClockView
// given on the command line, until ptp4l has the settings or time is up.
// Prints the updater's status as JSON. With --get, prints what ptp4l
// reports instead. Exit codes are sysexits (see result.h).
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "gm_updater.h"

using namespace vmc;
using namespace vmc::ptp;

namespace {

constexpr std::string_view kUsage = R"(usage: vmc-ptp-set --uds PATH [options]
  --uds PATH            ptp4l's uds_address
  --client PATH         bind this path (default: an abstract address)
  --domain N            domainNumber of the requests (default 0)
ClockView (default: no page):
  --status NAME         unknown|initializing|synchronized|freerunning|unreliable (implies a page)
  --samples-bad         the daemon does not vouch for its samples
  --maxerror-ns N  --esterror-ns N  --tai N
  --leap NAME           none|pre_pos|pre_neg|pos|post_pos|post_neg
  --disrupted
Mapping and run:
  --time-source X       name or number (default other)
  --locked-maxerror-ns N  --holdover-maxerror-ns N
  --hold-updates N  --hold-ms N   upgrade hysteresis (default 1 and 0: none)
  --timeout-ms N        give up after this long (default 10000)
  --run-ms N            keep ticking this long after applying (ptp4l restarts are re-applied)
  --check-ms N          periodic GET interval (default 5000)
  --withdraw            send class 248 at once and exit
  --get                 print ptp4l's GRANDMASTER_SETTINGS_NP, TIME_PROPERTIES_DATA_SET,
                        PARENT_DATA_SET and PORT_DATA_SET as JSON and exit
)";

[[noreturn]] void die(const Error& e) {
  std::cerr << "vmc-ptp-set: " << e.message << "\n";
  std::exit(static_cast<int>(e.code));
}

uint64_t parse_u64(std::string_view opt, std::string_view v) {
  try {
    size_t used = 0;
    unsigned long long n = std::stoull(std::string(v), &used, 0);
    if (used == v.size() && !v.starts_with('-')) return n;
  } catch (const std::exception&) {
    // reported below with the option's name
  }
  die(make_error(Errc::usage, fmt::format("{} {}: not a non-negative integer", opt, v)));
}

template <class Enum>
Enum parse_enum(std::string_view opt, std::string_view v, int max) {
  for (int i = 0; i <= max; ++i)
    if (abi::name(static_cast<Enum>(i)) == v) return static_cast<Enum>(i);
  die(make_error(Errc::usage, fmt::format("{} {}: unknown name", opt, v)));
}

nlohmann::json port_json(const PortIdentity& p) { return to_string(p); }

int do_get(const Ptp4lOptions& o) {
  auto c = PmcClient::open({o.uds_address, o.client_address, o.domain_number});
  if (!c) die(c.error());
  auto t = std::chrono::milliseconds{500};
  auto gm = c->get_grandmaster_settings(t);
  if (!gm) die(gm.error());
  auto tp = c->get_time_properties(t);
  if (!tp) die(tp.error());
  auto pd = c->get_parent_data_set(t);
  if (!pd) die(pd.error());
  auto port = c->get_port_data_set(t);
  if (!port) die(port.error());
  nlohmann::json j = {
      {"grandmaster_settings_np", to_json(*gm)},
      {"time_properties_data_set",
       {{"current_utc_offset", tp->current_utc_offset}, {"flags", tp->flags}, {"time_source", tp->time_source}}},
      {"parent_data_set",
       {{"parent_port_identity", port_json(pd->parent_port_identity)},
        {"grandmaster_identity", to_string(pd->grandmaster_identity)},
        {"grandmaster_priority1", pd->grandmaster_priority1},
        {"grandmaster_priority2", pd->grandmaster_priority2},
        {"clock_class", pd->grandmaster_clock_quality.clock_class},
        {"clock_accuracy", pd->grandmaster_clock_quality.clock_accuracy},
        {"offset_scaled_log_variance", pd->grandmaster_clock_quality.offset_scaled_log_variance}}},
      {"port_data_set",
       {{"port_identity", port_json(port->port_identity)},
        {"port_state", port->port_state},
        {"log_announce_interval", port->log_announce_interval}}},
      {"responder", port_json(c->last_responder())}};
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Ptp4lOptions o;
  o.enabled = true;
  o.upgrade_hold_updates = 1;
  o.upgrade_hold = std::chrono::milliseconds{0};
  o.reply_timeout = std::chrono::milliseconds{50};
  o.retry_interval = std::chrono::milliseconds{200};
  ClockView v;
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds run{0};
  bool get = false, withdraw = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> std::string_view {
      if (i + 1 >= argc) die(make_error(Errc::usage, fmt::format("{} needs a value", a)));
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--uds") o.uds_address = next();
    else if (a == "--client") o.client_address = next();
    else if (a == "--domain") o.domain_number = static_cast<uint8_t>(parse_u64(a, next()));
    else if (a == "--status") {
      v.have_page = true;
      v.samples_ok = true;
      v.status = parse_enum<abi::ClockStatus>(a, next(), 4);
    } else if (a == "--samples-bad") v.samples_ok = false;
    else if (a == "--maxerror-ns") v.maxerror_ns = parse_u64(a, next());
    else if (a == "--esterror-ns") v.esterror_ns = parse_u64(a, next());
    else if (a == "--tai") v.tai_minus_utc = static_cast<int>(parse_u64(a, next()));
    else if (a == "--leap") v.leap = parse_enum<abi::LeapIndicator>(a, next(), 5);
    else if (a == "--disrupted") v.disrupted = true;
    else if (a == "--time-source") {
      auto ts = parse_time_source(next(), "--time-source");
      if (!ts) die(ts.error());
      o.time_source = *ts;
    } else if (a == "--locked-maxerror-ns") o.locked_maxerror_ns = parse_u64(a, next());
    else if (a == "--holdover-maxerror-ns") o.holdover_maxerror_ns = parse_u64(a, next());
    else if (a == "--hold-updates") o.upgrade_hold_updates = static_cast<uint32_t>(parse_u64(a, next()));
    else if (a == "--hold-ms") o.upgrade_hold = std::chrono::milliseconds{parse_u64(a, next())};
    else if (a == "--timeout-ms") timeout = std::chrono::milliseconds{parse_u64(a, next())};
    else if (a == "--run-ms") run = std::chrono::milliseconds{parse_u64(a, next())};
    else if (a == "--check-ms") o.check_interval = std::chrono::milliseconds{parse_u64(a, next())};
    else if (a == "--get") get = true;
    else if (a == "--withdraw") withdraw = true;
    else die(make_error(Errc::usage, fmt::format("unknown option {}\n{}", a, kUsage)));
  }
  if (get) return do_get(o);

  auto up = GrandmasterUpdater::create(o, [](std::string_view line) { std::cerr << line << "\n"; });
  if (!up) die(up.error());
  if (withdraw) {
    if (auto st = up->withdraw(); !st) die(st.error());
    std::cout << to_json(up->status()).dump(2) << "\n";
    return 0;
  }

  const auto target = map_clock(v, mapping_options(o)).settings;
  const auto start = std::chrono::steady_clock::now();
  const auto step = std::chrono::milliseconds{100};
  for (long n = 0; n <= timeout / step; ++n) {
    auto now = std::chrono::steady_clock::now();
    if (now - start > timeout) break;
    up->tick(v, now);
    const auto& s = up->status();
    if (s.state == "applied" && s.applied == target) break;
    std::this_thread::sleep_for(step);
  }
  const auto& s = up->status();
  if (s.state == "applied" && s.applied == target) {
    // Long-running mode, as the daemon runs it: the loop is bounded by --run-ms.
    const auto run_start = std::chrono::steady_clock::now();
    for (long n = 0; n <= run / step; ++n) {
      auto now = std::chrono::steady_clock::now();
      if (now - run_start >= run) break;
      up->tick(v, now);
      std::this_thread::sleep_for(step);
    }
    std::cout << to_json(up->status()).dump(2) << "\n";
    return 0;
  }
  std::cout << to_json(up->status()).dump(2) << "\n";
  std::cerr << fmt::format("vmc-ptp-set: ptp4l did not take {} within {} ms\n", describe(target), timeout.count());
  return static_cast<int>(Errc::temp_fail);
}
