// SPDX-License-Identifier: Apache-2.0
#pragma once
// The simulator's ground truth, read back from its --json lines by the
// tests' own programs (bound_truth_check, clock_vs_truth): never from the
// page, so that the page's arithmetic is what gets checked.
//   truth(rt) = rt + offset_ns + drift_ppm * 1e-6 * (rt - realtime_ns)
// from the latest line with those fields; with --fixed-truth, rt is the
// frozen line's realtime at a counter value, not CLOCK_REALTIME.
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmc::test {

struct Truth {
  int64_t offset_ns = 0, realtime_ns = 0;
  double drift_ppm = 0;
  long double at(long double rt) const {
    return rt + offset_ns + drift_ppm * 1e-6L * (rt - static_cast<long double>(realtime_ns));
  }
};

// --fixed-truth's line: realtime = anchor_rt_ns + (counter - anchor_counter) * period.
struct Line {
  uint64_t anchor_counter = 0;
  int64_t anchor_rt_ns = 0;
  long double period_s = 0;
  long double rt_at(uint64_t c) const {
    return static_cast<long double>(anchor_rt_ns) +
           static_cast<long double>(static_cast<int64_t>(c - anchor_counter)) * period_s * 1e9L;
  }
};

class SimLog {
 public:
  explicit SimLog(std::string path) : path_(std::move(path)) {}
  // Reads the lines written since the last call.
  void poll() {
    std::ifstream in(path_);
    in.seekg(pos_);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // a partial last line: read it again next time
      pos_ = in.tellg();
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      if (j.contains("line_anchor_counter"))
        line_ = Line{j["line_anchor_counter"].get<uint64_t>(), j["line_anchor_realtime_ns"].get<int64_t>(),
                     j["line_period_s"].get<long double>()};
      if (!j.contains("marker") || !j.contains("offset_ns")) continue;
      Truth t{j["offset_ns"].get<int64_t>(), j["realtime_ns"].get<int64_t>(), j["drift_ppm"].get<double>()};
      by_marker_[j["marker"].get<uint64_t>()] = t;
      timeline_.push_back(t);
    }
  }
  // The latest truth published under this marker.
  const Truth* find(uint64_t marker) const {
    auto it = by_marker_.find(marker);
    return it == by_marker_.end() ? nullptr : &it->second;
  }
  // The truth in force at `rt`: the latest line printed at or before it.
  const Truth* at(long double rt) const {
    for (auto it = timeline_.rbegin(); it != timeline_.rend(); ++it)
      if (static_cast<long double>(it->realtime_ns) <= rt) return &*it;
    return nullptr;
  }
  const std::optional<Line>& line() const { return line_; }

 private:
  std::string path_;
  std::streamoff pos_ = 0;
  std::map<uint64_t, Truth> by_marker_;
  std::vector<Truth> timeline_;
  std::optional<Line> line_;
};

}  // namespace vmc::test
