// SPDX-License-Identifier: Apache-2.0
#pragma once
// vmclock-sim's command line, parsed and checked into a SimConfig.
#include <cstdint>
#include <optional>
#include <string>

#include "result.h"
#include "sim_model.h"

namespace vmc::sim {

// A frozen line is only as good as its baseline: 3 s of 50 ns brackets
// put its rate within ~0.03 ppm of CLOCK_REALTIME's at start.
inline constexpr double kFixedTruthCalibrateMs = 3000;

struct SimConfig {
  std::string page_path;
  HostState host;
  int64_t offset_ns = 0;
  double drift_ppm = 0;
  int64_t update_interval_ns = 1'000'000'000;
  int64_t calibrate_ns = 250'000'000;
  // The truth is a line frozen after calibration (FrozenLine), not CLOCK_REALTIME.
  bool fixed_truth = false;
  std::optional<int64_t> duration_ns;
  std::optional<std::string> scenario_path;
  // Step of a migration (SIGUSR1, or a scenario migration without its own
  // steps). A scenario's top-level values apply unless these were given.
  int64_t migration_offset_step_ns = 100'000;
  double migration_drift_step_ppm = 20;
  bool migration_offset_step_given = false;
  bool migration_drift_step_given = false;
  bool json = false;
  bool trace_updates = false;
};

// nullopt: --help or --version was printed, exit 0. Errors are
// Errc::usage naming the option and the value.
Result<std::optional<SimConfig>> parse_options(int argc, const char* const* argv);

}  // namespace vmc::sim
