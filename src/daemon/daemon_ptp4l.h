// SPDX-License-Identifier: Apache-2.0
#pragma once
// The daemon's side of ptp4l: turns what the daemon knows into the
// mapping's input (ptp4l-plugin/ptp_mapping.h) and drives the grandmaster
// updater once per loop.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "config.h"
#include "page.h"
#include "config_ptp4l.h"
#include "result.h"
#include "cross_timestamp.h"

namespace vmc {

class Ptp4lFeed {
 public:
  static Result<std::unique_ptr<Ptp4lFeed>> create(const Config& cfg);
  virtual ~Ptp4lFeed() = default;
  virtual void on_disruption() = 0;
  // `sample`: the page's latest sample the daemon can vouch for (time
  // usable, any maxerror), or none.
  virtual void tick(bool disrupted, const std::optional<Page>& page, const std::optional<Sample>& sample,
                    int64_t mono_ns) = 0;
  virtual nlohmann::json status_json() const = 0;
};

}  // namespace vmc
