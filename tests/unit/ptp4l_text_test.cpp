// SPDX-License-Identifier: Apache-2.0
// The ptp4l part of `vmclockctl status` is lines for people, not raw JSON
// (src/cli/ptp4l_text.h; issue 14).
#include <doctest/doctest.h>

#include "ptp4l_text.h"

using nlohmann::json;
using vmc::cli::ptp4l_to_text;

TEST_CASE("the updater's report as lines: state, wanted and applied settings, counts") {
  json gm{{"clock_class", 6}, {"clock_accuracy", 33}, {"offset_scaled_log_variance", 20061},
          {"current_utc_offset", 37}, {"time_flags", {"PTP_TIMESCALE", "TIME_TRACEABLE"}}, {"time_source", 160}};
  json j{{"state", "applied"}, {"grade", "locked"}, {"held_back", false}, {"desired", gm}, {"applied", gm},
         {"gets_sent", 3}, {"sets_sent", 1}, {"reapplied", 0}, {"last_error", ""},
         {"ptp4l_identity", "cac1c4.fffe.2d5dc6-0"}};
  CHECK(ptp4l_to_text(j) ==
        "ptp4l        applied, grade locked, clock cac1c4.fffe.2d5dc6-0\n"
        "ptp4l wants  class 6, accuracy 33, variance 20061, UTC offset 37, flags PTP_TIMESCALE,TIME_TRACEABLE, "
        "time source 160\n"
        "ptp4l has    class 6, accuracy 33, variance 20061, UTC offset 37, flags PTP_TIMESCALE,TIME_TRACEABLE, "
        "time source 160\n"
        "ptp4l sent   3 GET, 1 SET, reapplied 0\n");
  CHECK(ptp4l_to_text(j).find('{') == std::string::npos);
}

TEST_CASE("nothing applied yet, an error, a held-back upgrade; missing keys as '-'") {
  json j{{"state", "absent"}, {"grade", "holdover"}, {"held_back", true}, {"applied", nullptr},
         {"last_error", "ptp4l is not running"}};
  const std::string t = ptp4l_to_text(j);
  CHECK(t.find("ptp4l        absent, grade holdover (upgrade held back), clock -\n") == 0);
  CHECK(t.find("ptp4l has    none\n") != std::string::npos);
  CHECK(t.find("ptp4l wants  none\n") != std::string::npos);
  CHECK(t.find("ptp4l sent   - GET, - SET, reapplied -, last error: ptp4l is not running\n") != std::string::npos);
  CHECK(ptp4l_to_text(json()) == "");
  CHECK(ptp4l_to_text(json::array()) == "");
}
