#pragma once
// ChronyCommands over chronyd's real command socket (chrony::CmdClient).
#include <memory>

#include "chrony_cmd.h"
#include "chrony_reset.h"

namespace vmc {

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
