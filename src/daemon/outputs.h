// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where the daemon's results go, built from the configuration's sections:
// chrony's sinks, chrony's command client (the resets) and the ptp4l feed.
// A reload builds every part whose section changed before it touches the
// running ones, and swaps only once all of them were built: a refused
// reload changes nothing.
#include <memory>
#include <vector>

#include "chrony_reset.h"
#include "config.h"
#include "daemon_ptp4l.h"
#include "result.h"
#include "sink.h"

namespace vmc {

struct Outputs {
  std::vector<std::unique_ptr<chrony::SampleSink>> sinks;
  std::unique_ptr<ChronyCommands> commands;  // null: nobody is reset
  std::unique_ptr<Ptp4lFeed> ptp;            // null: no [ptp4l] section

  // Marks every sample not yet consumed invalid (a disruption, the exit).
  void withdraw() const;
};

// The outputs for `neu`. With `old` (a reload), parts whose sections are
// unchanged are moved from `current`, but only after every changed part
// was built; on an error `current` is untouched. Replaced sinks are
// withdrawn.
Result<Outputs> build_outputs(const Config& neu, const Config* old, Outputs& current);

}  // namespace vmc
