// SPDX-License-Identifier: Apache-2.0
#pragma once
// ChronyCommands over chronyd's real command socket (chrony::CmdClient).
#include <memory>

#include "chrony_cmd.h"
#include "chrony_reset.h"
#include "config.h"

namespace vmc {

// The daemon's command clients (the reset's, the bound's TRACKING): two
// tries 5 ms apart, so that a chronyd that does not answer holds the loop
// 10 ms at most (the loop also watches the marker); ChronyReset's backoff
// does the retrying.
chrony::CmdOptions chrony_cmd_options(const ChronySection& c);

class CmdClientCommands final : public ChronyCommands {
 public:
  explicit CmdClientCommands(std::unique_ptr<chrony::CmdClient> c) : client_(std::move(c)) {}
  Status reset_sources() override { return client_->reset_sources(); }
  Result<BurstOutcome> burst(std::string& refused_status) override;
  Status make_step() override { return client_->make_step(); }

 private:
  std::unique_ptr<chrony::CmdClient> client_;
};

}  // namespace vmc
