#pragma once
// The page for machines (JSON keyed by the kernel header's field names,
// raw numbers, a `decoded` object with names; absent fields are null) and
// for people (one field per line, raw and decoded).
#include <nlohmann/json.hpp>
#include <string>

#include "page.h"
#include "units.h"

namespace vmc {

nlohmann::json page_to_json(const Page& p);
std::string page_to_text(const Page& p);
std::string flags_to_text(abi::Flags f);
// "2026-11-23T18:57:06.123456789Z" for people.
std::string format_utc(Time64 t);
std::string format_utc(SysTime t);

}  // namespace vmc
