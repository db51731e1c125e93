#pragma once
// The [ptp4l] section of the daemon's Config as the plugin's options: one
// conversion, used to validate the file and to build the updater.
#include "config.h"
#include "ptp_options.h"

namespace vmc {

ptp::Ptp4lOptions ptp4l_options(const Config& cfg);

}  // namespace vmc
