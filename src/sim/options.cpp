// SPDX-License-Identifier: Apache-2.0
#include "options.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <fmt/format.h>

#include "counter.h"
#include "version.h"

namespace vmc::sim {

namespace {

Error bad(std::string_view opt, std::string_view value, std::string_view why) {
  return make_error(Errc::usage, fmt::format("option {}: value '{}' {}", opt, value, why));
}

template <class T, class Parse>
Result<T> enum_opt(std::string_view opt, const std::string& v, Parse parse, std::string_view choices) {
  auto r = parse(v);
  if (!r) return bad(opt, v, fmt::format("is not one of {}", choices));
  return *r;
}

Result<int64_t> ms_to_ns(std::string_view opt, double ms, double lo, double hi) {
  if (!std::isfinite(ms) || ms < lo || ms > hi)
    return bad(opt, fmt::format("{}", ms), fmt::format("is outside [{}, {}]", lo, hi));
  return static_cast<int64_t>(std::llround(ms * 1e6));
}

}  // namespace

Result<std::optional<SimConfig>> parse_options(int argc, const char* const* argv) {
  SimConfig c;
  CLI::App app{
      "vmclock-sim: writes a vmclock page file that maps this CPU's counter to CLOCK_REALTIME + offset, "
      "with a frequency error of drift, and prints the ground truth it wrote.\n"
      "Signals: SIGUSR1 = migration (marker+1, generation+1, offset and drift stepped); SIGTERM/SIGINT = exit 0, "
      "page left in place.",
      "vmclock-sim"};
  app.set_version_flag("--version", std::string("vmclock-sim ") + kVersion);

  std::string time_type = "utc", status, leap = "none", smearing = "strict", counter = "native";
  int64_t offset = 0, migration_offset = c.migration_offset_step_ns;
  double drift = 0, interval_ms = 1000, calibrate_ms = 250, duration_s = 0, migration_drift = c.migration_drift_step_ppm;
  int tai_offset = 0;
  uint64_t maxerror = 1000, esterror = 100, marker = 0, generation = 0;
  double pmax_ppb = 100, pest_ppb = 10;
  uint32_t size = 0;
  std::string scenario;
  bool disruption_only = false, no_generation = false, no_maxerror = false, no_esterror = false,
       notification = false;

  app.add_option("--page", c.page_path, "page file to create (atomically) and keep updating")->required();
  app.add_option("--offset-ns", offset, "page time minus CLOCK_REALTIME at start, ns (default 0)");
  app.add_option("--drift-ppm", drift, "frequency error of the page's clock vs CLOCK_REALTIME, ppm (default 0)");
  app.add_option("--update-interval-ms", interval_ms, "how often the page is re-anchored, 0.1 .. 3600000 (default 1000)");
  app.add_option("--time-type", time_type, "utc|tai|monotonic|smeared|maybe-smeared (default utc)");
  auto* tai_opt = app.add_option("--tai-offset", tai_offset,
                                 "tai_offset_sec stored raw (+37 header convention, -37 kernel convention); "
                                 "sets TAI_OFFSET_VALID. TAI time is generated with |S| (default 37)");
  app.add_option("--status", status,
                 "unknown|initializing|synchronized|freerunning|unreliable (default synchronized; unknown with "
                 "--disruption-only)");
  auto* max_opt = app.add_option("--maxerror-ns", maxerror, "time_maxerror_nanosec (default 1000)");
  auto* est_opt = app.add_option("--esterror-ns", esterror, "time_esterror_nanosec (default 100)");
  auto* nomax = app.add_flag("--no-maxerror", no_maxerror, "clear TIME_MAXERROR_VALID and PERIOD_MAXERROR_VALID");
  auto* noest = app.add_flag("--no-esterror", no_esterror, "clear TIME_ESTERROR_VALID and PERIOD_ESTERROR_VALID");
  auto* pmax_opt = app.add_option("--period-maxerror-ppb", pmax_ppb,
                                  "counter period max error rate in ppb of the period (default 100)");
  auto* pest_opt = app.add_option("--period-esterror-ppb", pest_ppb,
                                  "counter period estimated error rate in ppb of the period (default 10)");
  max_opt->excludes(nomax);
  pmax_opt->excludes(nomax);
  est_opt->excludes(noest);
  pest_opt->excludes(noest);
  app.add_option("--leap", leap, "none|pre-pos|pre-neg|pos|post-pos|post-neg (default none)");
  app.add_option("--smearing", smearing, "strict|noon-linear|utc-sls (default strict)");
  app.add_flag("--disruption-only", disruption_only,
               "Firecracker-like page: counter invalid, no time, status unknown, flags VM_GEN_COUNTER_PRESENT | "
               "NOTIFICATION_PRESENT, size 4096; written only when the marker changes");
  app.add_option("--scenario", scenario, "TOML file of timed events at given times: migrations, status changes, leap seconds, stalls (vmclock-sim(1))");
  app.add_option("--marker", marker, "initial disruption_marker (default 0)");
  auto* gen_opt = app.add_option("--generation", generation, "initial vm_generation_counter (default 0)");
  auto* nogen = app.add_flag("--no-generation", no_generation, "no vm_generation_counter: size 104, flag clear");
  gen_opt->excludes(nogen);
  auto* size_opt = app.add_option("--size", size,
                                  fmt::format("size field, {} .. {} (default {}; {} with --no-generation; {} with "
                                              "--disruption-only); the page file is that long, in whole {}-byte "
                                              "pages",
                                              abi::kMinSize, abi::kMaxPageBytes, abi::kSizeWithGeneration,
                                              abi::kMinSize, abi::kPageBytes, abi::kPageBytes));
  app.add_option("--counter-id", counter, "x86_tsc|arm_vcnt|invalid|native: the id written (default native)");
  app.add_flag("--notification-present", notification, "set NOTIFICATION_PRESENT (always set with --disruption-only)");
  auto* mo = app.add_option("--migration-offset-step-ns", migration_offset, "offset step of a migration (default 100000)");
  auto* md = app.add_option("--migration-drift-step-ppm", migration_drift, "drift step of a migration (default 20)");
  auto* dur_opt = app.add_option("--duration", duration_s, "exit 0 after S seconds");
  auto* cal_opt = app.add_option("--calibrate-ms", calibrate_ms,
                                 fmt::format("counter calibration before ready, 10 .. 10000 (default 250; {} with "
                                             "--fixed-truth)",
                                             kFixedTruthCalibrateMs));
  app.add_flag("--fixed-truth", c.fixed_truth,
               "freeze the counter -> CLOCK_REALTIME line at the end of calibration: the page's time is that line "
               "plus offset, drift and steps, whatever CLOCK_REALTIME does afterwards (for a chronyd that steers "
               "the clock); the realtime_ns printed is the line's");
  app.add_flag("--json", c.json, "one JSON object per line on stdout instead of human lines");
  app.add_flag("--trace-updates", c.trace_updates, "also print every page update");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      app.exit(e);
      return std::optional<SimConfig>{};
    }
    return make_error(Errc::usage, e.what());
  }

  HostState& h = c.host;
  h.disruption_only = disruption_only;
  if (std::abs(offset) > kMaxOffsetNs)
    return bad("--offset-ns", std::to_string(offset), fmt::format("is outside ±{}", kMaxOffsetNs));
  c.offset_ns = offset;
  if (!std::isfinite(drift) || std::abs(drift) > kMaxDriftPpm)
    return bad("--drift-ppm", fmt::format("{}", drift), fmt::format("is outside ±{}", kMaxDriftPpm));
  c.drift_ppm = drift;
  if (auto r = ms_to_ns("--update-interval-ms", interval_ms, 0.1, 3'600'000); !r) return r.error();
  else c.update_interval_ns = *r;
  if (c.fixed_truth && !*cal_opt) calibrate_ms = kFixedTruthCalibrateMs;
  if (auto r = ms_to_ns("--calibrate-ms", calibrate_ms, 10, 10'000); !r) return r.error();
  else c.calibrate_ns = *r;
  if (*dur_opt) {
    if (auto r = ms_to_ns("--duration", duration_s * 1000, 0.001, 1e9); !r)
      return bad("--duration", fmt::format("{}", duration_s), "is outside [0.000001, 1000000] s");
    else c.duration_ns = *r;
  }
  if (auto r = enum_opt<abi::TimeType>("--time-type", time_type, parse_time_type,
                                       "utc, tai, monotonic, smeared, maybe-smeared");
      !r)
    return r.error();
  else h.time_type = *r;
  if (*tai_opt) {
    if (tai_offset < INT16_MIN || tai_offset > INT16_MAX)
      return bad("--tai-offset", std::to_string(tai_offset), "does not fit the s16 field");
    h.tai_offset = static_cast<int16_t>(tai_offset);
  }
  h.status = disruption_only ? abi::ClockStatus::unknown : abi::ClockStatus::synchronized;
  if (!status.empty()) {
    auto r = enum_opt<abi::ClockStatus>("--status", status, parse_status,
                                        "unknown, initializing, synchronized, freerunning, unreliable");
    if (!r) return r.error();
    h.status = *r;
  }
  if (auto r = enum_opt<abi::LeapIndicator>("--leap", leap, parse_leap,
                                            "none, pre-pos, pre-neg, pos, post-pos, post-neg");
      !r)
    return r.error();
  else h.leap = *r;
  if (auto r = enum_opt<abi::SmearingHint>("--smearing", smearing, parse_smearing, "strict, noon-linear, utc-sls"); !r)
    return r.error();
  else h.smearing = *r;
  if (auto r = enum_opt<abi::CounterId>(
          "--counter-id", counter, [](std::string_view s) { return parse_counter_id(s, kNativeCounter); },
          "x86_tsc, arm_vcnt, invalid, native");
      !r)
    return r.error();
  else h.counter_id = *r;
  if (disruption_only && counter == "native") h.counter_id = abi::CounterId::invalid;

  // A disruption-only page has no time to bound (Firecracker writes zeros).
  if (disruption_only) {
    for (auto* o : {max_opt, est_opt, pmax_opt, pest_opt})
      if (*o) return bad(o->get_name(), o->as<std::string>(), "has no meaning with --disruption-only");
    no_maxerror = no_esterror = true;
  }
  if (!no_maxerror) h.maxerror_ns = maxerror;
  if (!no_esterror) h.esterror_ns = esterror;
  for (auto [opt, v, dst] : {std::tuple{"--period-maxerror-ppb", pmax_ppb, &h.period_maxerror_ppb},
                             std::tuple{"--period-esterror-ppb", pest_ppb, &h.period_esterror_ppb}}) {
    if (!std::isfinite(v) || v < 0 || v > kMaxPpb)
      return bad(opt, fmt::format("{}", v), fmt::format("is outside [0, {}]", kMaxPpb));
    if (!(dst == &h.period_maxerror_ppb ? no_maxerror : no_esterror)) *dst = v;
  }

  h.marker = marker;
  h.generation = generation;
  h.generation_present = !no_generation;
  h.notification_present = notification || disruption_only;
  if (*size_opt) {
    if (size < abi::kMinSize || size > abi::kMaxPageBytes)
      return bad("--size", std::to_string(size),
                 fmt::format("is outside [{}, {}]", abi::kMinSize, abi::kMaxPageBytes));
    if (size < abi::kSizeWithGeneration && h.generation_present)
      return bad("--size", std::to_string(size),
                 fmt::format("cannot hold vm_generation_counter (needs {}; add --no-generation)",
                             abi::kSizeWithGeneration));
    h.size = size;
  } else {
    h.size = disruption_only ? static_cast<uint32_t>(abi::kPageBytes)
             : no_generation ? abi::kMinSize
                             : abi::kSizeWithGeneration;
  }

  if (!std::isfinite(migration_drift) || std::abs(migration_drift) > kMaxDriftPpm)
    return bad("--migration-drift-step-ppm", fmt::format("{}", migration_drift),
               fmt::format("is outside ±{}", kMaxDriftPpm));
  if (std::abs(migration_offset) > kMaxOffsetNs)
    return bad("--migration-offset-step-ns", std::to_string(migration_offset),
               fmt::format("is outside ±{}", kMaxOffsetNs));
  c.migration_offset_step_ns = migration_offset;
  c.migration_drift_step_ppm = migration_drift;
  c.migration_offset_step_given = static_cast<bool>(*mo);
  c.migration_drift_step_given = static_cast<bool>(*md);
  if (!scenario.empty()) c.scenario_path = scenario;
  if (c.page_path.empty()) return bad("--page", "", "is empty");
  return std::optional<SimConfig>{std::move(c)};
}

}  // namespace vmc::sim
