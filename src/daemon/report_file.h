// SPDX-License-Identifier: Apache-2.0
#pragma once
// Files the daemon publishes for others to read: the JSON status for
// vmclockctl and the Prometheus text for node_exporter. Written to a
// temporary name and renamed, so a reader never sees half a file; a full
// disk is an error for the caller to report, never a crash. The temporary
// is created new (O_EXCL|O_NOFOLLOW): a stale one is removed first, and
// nothing at that name is ever written through.
#include <string>
#include <string_view>

#include "result.h"

namespace vmc {

Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode = 0644);

}  // namespace vmc
