// SPDX-License-Identifier: Apache-2.0
#pragma once
// The status as Prometheus text, for node_exporter's textfile collector.
#include <string>

#include "status_view.h"

namespace vmc {

std::string metrics_text(const StatusView& v);

}  // namespace vmc
