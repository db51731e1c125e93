// SPDX-License-Identifier: Apache-2.0
#include "reports.h"

#include <fmt/format.h>

#include "metrics_text.h"
#include "report_file.h"

namespace vmc {

void Reports::write(const DaemonSection& d, const StatusView& v, int64_t mono_ns) {
  next_ns_ = mono_ns + kIntervalNs;
  dirty_ = false;
  // Each text is made only for a file that is configured, and a recovery
  // line only when there is one: this runs every second.
  auto one = [&](const std::string& path, const char* key, auto&& text) {
    if (path.empty()) return;
    if (auto r = write_file_atomically(path, text()); !r)
      incidents_.fail("status", key, r.error().message);
    else if (incidents_.open(key))
      incidents_.recover("status", key, fmt::format("{} written again", path));
  };
  one(d.status_file, "status_file", [&] { return to_json(v).dump(2) + "\n"; });
  one(d.metrics_file, "metrics_file", [&] { return metrics_text(v); });
}

}  // namespace vmc
