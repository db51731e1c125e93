// SPDX-License-Identifier: Apache-2.0
#pragma once
// The [ptp4l] section of the daemon's Config as the plugin's options: the
// one conversion, used to validate the file, to build the updater and to
// tell whether a reload changed what the updater needs.
#include <optional>

#include "config.h"
#include "ptp_options.h"

namespace vmc {

// nullopt iff cfg has no [ptp4l]. Also decides the reply socket when
// ptp4l.client_address is empty (it depends on chrony.client_dir), so a
// reload compares ptp4l_options(old) != ptp4l_options(new), not the
// sections alone. cfg's values are those parse_config() accepted.
std::optional<ptp::Ptp4lOptions> ptp4l_options(const Config& cfg);

}  // namespace vmc
