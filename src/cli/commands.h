#pragma once
// vmclockctl's commands that are not about the page itself.
#include <string>

namespace vmc::cli {

// `vmclockctl status`: the running daemon's status file, for people or --json.
int cmd_status(const std::string& path, bool as_json);
// `vmclockctl bound`: the interval libvmclock gives an application.
int cmd_bound(const std::string& page, const std::string& segment, bool as_json, int count, int interval_ms);

}  // namespace vmc::cli
