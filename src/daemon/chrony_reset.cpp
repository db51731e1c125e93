// SPDX-License-Identifier: Apache-2.0
#include "chrony_reset.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>


namespace vmc {

void ChronyReset::disrupted(int64_t mono_ns) {
  makestep_due_ns_.clear();  // steps for the previous disruption would measure nothing new
  if (!cmds_) return;
  pending_ = true;
  disrupted_ns_ = mono_ns;
  next_try_ns_ = mono_ns;
  backoff_ns_ = kFirstRetryNs;
}

int64_t ChronyReset::next_due(bool hold) const {
  int64_t next = std::numeric_limits<int64_t>::max();
  if (pending_ && !hold) next = next_try_ns_;
  if (!makestep_due_ns_.empty()) next = std::min(next, makestep_due_ns_.front());
  return next;
}

std::optional<ChronyReset::Done> ChronyReset::tick(int64_t mono_ns, bool hold) {
  std::optional<Done> done;
  if (pending_ && !hold && mono_ns >= next_try_ns_) done = attempt(mono_ns);
  if (!makestep_due_ns_.empty() && mono_ns >= makestep_due_ns_.front() && cmds_) {
    makestep_due_ns_.erase(makestep_due_ns_.begin());
    if (auto m = cmds_->make_step(); m) {
      incidents_.recover("chrony", "makestep", "MAKESTEP works again");
      log::notice("chrony", "makestep after the disruption");
    } else {
      incidents_.fail("chrony", "makestep", fmt::format("MAKESTEP failed: {}", m.error().message));
    }
  }
  return done;
}

std::optional<ChronyReset::Done> ChronyReset::attempt(int64_t mono_ns) {
  auto r = cmds_->reset_sources();
  if (!r) {
    ++failed_;
    if (mono_ns - disrupted_ns_ >= kGiveUpNs) {
      pending_ = false;
      incidents_.fail("chrony", "reset", fmt::format("RESET_SOURCES failed for {} s, giving up: {}",
                                                     kGiveUpNs / 1'000'000'000, r.error().message));
    } else {
      incidents_.fail("chrony", "reset", fmt::format("RESET_SOURCES failed, will retry: {}", r.error().message));
      next_try_ns_ = mono_ns + backoff_ns_;
      backoff_ns_ = std::min(backoff_ns_ * 2, kMaxRetryNs);
    }
    return std::nullopt;
  }
  const int64_t done_ns = clock_();
  ++sent_;
  pending_ = false;
  incidents_.recover("chrony", "reset", "RESET_SOURCES works again");
  std::string extra;
  if (policy_.burst) {
    std::string refused;
    auto b = cmds_->burst(refused);
    if (!b) extra += fmt::format(", burst failed ({})", b.error().message);
    else if (*b == ChronyCommands::BurstOutcome::done) extra += ", burst";
    else if (*b == ChronyCommands::BurstOutcome::refused) extra += fmt::format(", burst refused ({})", refused);
  }
  if (policy_.makestep) {
    for (int64_t d : kMakestepDelaysNs) makestep_due_ns_.push_back(done_ns + d);
    extra += ", makestep scheduled";
  }
  const Done d{done_ns - disrupted_ns_};
  log::notice("chrony", fmt::format("sources reset {:.3f} ms after the disruption was seen{}",
                                    static_cast<double>(d.latency_ns) / 1e6, extra));
  return d;
}

}  // namespace vmc
