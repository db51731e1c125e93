// SPDX-License-Identifier: Apache-2.0
#pragma once
// The page for machines (JSON keyed by the kernel header's field names,
// raw numbers, a `decoded` object with names; absent fields are null) and
// for people (one field per line, raw and decoded).
#include <nlohmann/json.hpp>
#include <string>

#include "page.h"
#include "units.h"
#include "utc_format.h"

namespace vmc {

nlohmann::json page_to_json(const Page& p);
std::string page_to_text(const Page& p);
std::string flags_to_text(abi::Flags f);

}  // namespace vmc
