// SPDX-License-Identifier: Apache-2.0
// The ptp4l part of `vmclockctl status` for people (ptp4l_text.h).
#include "ptp4l_text.h"

#include <fmt/format.h>

namespace vmc::cli {
namespace {

using nlohmann::json;

std::string field(const json& j, const char* key) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>().empty() ? "-" : it->get<std::string>();
  if (it->is_array()) {
    std::string out;
    for (const auto& x : *it) out += (out.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
    return out.empty() ? "none" : out;
  }
  return it->dump();
}

std::string settings(const json& s) {
  if (!s.is_object()) return "none";
  return fmt::format("class {}, accuracy {}, variance {}, UTC offset {}, flags {}, time source {}",
                     field(s, "clock_class"), field(s, "clock_accuracy"), field(s, "offset_scaled_log_variance"),
                     field(s, "current_utc_offset"), field(s, "time_flags"), field(s, "time_source"));
}

}  // namespace

std::string ptp4l_to_text(const json& j) {
  if (!j.is_object()) return "";
  const bool held = j.contains("held_back") && j["held_back"].is_boolean() && j["held_back"].get<bool>();
  std::string out = fmt::format("ptp4l        {}, grade {}{}, clock {}\n", field(j, "state"), field(j, "grade"),
                                held ? " (upgrade held back)" : "", field(j, "ptp4l_identity"));
  out += fmt::format("ptp4l wants  {}\n", settings(j.value("desired", json())));
  out += fmt::format("ptp4l has    {}\n", settings(j.value("applied", json())));
  const std::string err = field(j, "last_error");
  out += fmt::format("ptp4l sent   {} GET, {} SET, reapplied {}{}\n", field(j, "gets_sent"), field(j, "sets_sent"),
                     field(j, "reapplied"), err == "-" ? "" : ", last error: " + err);
  return out;
}

}  // namespace vmc::cli
