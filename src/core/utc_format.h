// SPDX-License-Identifier: Apache-2.0
#pragma once
// Times for people and for the status file: "2026-11-23T18:57:06.123456789Z".
#include <string>

#include "units.h"

namespace vmc {

std::string format_utc(Time64 t);
std::string format_utc(SysTime t);

}  // namespace vmc
