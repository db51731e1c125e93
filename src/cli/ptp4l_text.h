// SPDX-License-Identifier: Apache-2.0
#pragma once
// The ptp4l updater's report (ptp4l-plugin's to_json(UpdaterStatus), as
// the status file carries it) in lines for people, like the rest of
// `vmclockctl status`. Keys it does not find show as "-".
#include <nlohmann/json.hpp>
#include <string>

namespace vmc::cli {

// Lines starting "ptp4l", each ending in a newline; "" when `j` is not an object.
std::string ptp4l_to_text(const nlohmann::json& j);

}  // namespace vmc::cli
