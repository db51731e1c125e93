// SPDX-License-Identifier: Apache-2.0
#include "page_json.h"

#include <fmt/format.h>
#include <time.h>

#include "validity.h"

namespace vmc {
std::string flags_to_text(abi::Flags f) {
  std::string out;
  uint64_t known = 0;
  for (auto fl : abi::kAllFlags) {
    known |= static_cast<uint64_t>(fl);
    if (f.has(fl)) out += (out.empty() ? "" : "|") + std::string(abi::name(fl));
  }
  if (f.raw & ~known) out += fmt::format("{}undefined({:#x})", out.empty() ? "" : "|", f.raw & ~known);
  return out.empty() ? "none" : out;
}

nlohmann::json page_to_json(const Page& p) {
  using nlohmann::json;
  json j;
  j["magic"] = p.magic;
  j["size"] = p.size;
  j["version"] = p.version;
  j["counter_id"] = static_cast<int>(p.counter_id);
  j["time_type"] = static_cast<int>(p.time_type);
  j["seq_count"] = p.seq_count;
  j["disruption_marker"] = p.disruption_marker;
  j["flags"] = p.flags.raw;
  j["clock_status"] = static_cast<int>(p.clock_status);
  j["leap_second_smearing_hint"] = static_cast<int>(p.smearing_hint);
  j["tai_offset_sec"] = p.tai_offset_sec;
  j["leap_indicator"] = static_cast<int>(p.leap_indicator);
  j["counter_period_shift"] = p.counter_period_shift;
  j["counter_value"] = p.counter_value;
  j["counter_period_frac_sec"] = p.counter_period_frac_sec;
  j["counter_period_esterror_rate_frac_sec"] = p.counter_period_esterror_rate_frac_sec;
  j["counter_period_maxerror_rate_frac_sec"] = p.counter_period_maxerror_rate_frac_sec;
  j["time_sec"] = p.time_sec;
  j["time_frac_sec"] = p.time_frac_sec;
  j["time_esterror_nanosec"] = p.time_esterror_nanosec;
  j["time_maxerror_nanosec"] = p.time_maxerror_nanosec;
  j["vm_generation_counter"] = p.vm_generation_counter ? json(*p.vm_generation_counter) : json(nullptr);
  json d;
  d["magic"] = p.magic == abi::kMagic ? "VCLK" : "invalid";
  d["counter_id"] = abi::name_or_undefined(p.counter_id);
  d["time_type"] = abi::name_or_undefined(p.time_type);
  d["clock_status"] = abi::name_or_undefined(p.clock_status);
  d["leap_second_smearing_hint"] = abi::name_or_undefined(p.smearing_hint);
  d["leap_indicator"] = abi::name_or_undefined(p.leap_indicator);
  json flags = json::array();
  for (auto f : abi::kAllFlags)
    if (p.flags.has(f)) flags.push_back(std::string(abi::name(f)));
  d["flags"] = flags;
  Validity v = assess(p);
  d["usable"] = v.ok();
  d["unusable_reason"] = v.ok() ? json(nullptr) : json(std::string(name(v.reason)));
  d["tai_convention"] = std::string(name(v.tai_convention));
  j["decoded"] = d;
  return j;
}

std::string page_to_text(const Page& p) {
  std::string o;
  auto line = [&](std::string_view k, auto raw, std::string dec = {}) {
    o += fmt::format("{:<40} {}{}\n", k, raw, dec.empty() ? "" : "  (" + dec + ")");
  };
  line("magic", fmt::format("{:#010x}", p.magic), p.magic == abi::kMagic ? "VCLK" : "invalid");
  line("size", p.size);
  line("version", p.version);
  line("counter_id", static_cast<int>(p.counter_id), abi::name_or_undefined(p.counter_id));
  line("time_type", static_cast<int>(p.time_type), abi::name_or_undefined(p.time_type));
  line("seq_count", p.seq_count);
  line("disruption_marker", p.disruption_marker);
  line("flags", fmt::format("{:#x}", p.flags.raw), flags_to_text(p.flags));
  line("clock_status", static_cast<int>(p.clock_status), abi::name_or_undefined(p.clock_status));
  line("leap_second_smearing_hint", static_cast<int>(p.smearing_hint), abi::name_or_undefined(p.smearing_hint));
  line("tai_offset_sec", p.tai_offset_sec);
  line("leap_indicator", static_cast<int>(p.leap_indicator), abi::name_or_undefined(p.leap_indicator));
  line("counter_period_shift", static_cast<int>(p.counter_period_shift));
  line("counter_value", p.counter_value);
  line("counter_period_frac_sec", p.counter_period_frac_sec);
  line("counter_period_esterror_rate_frac_sec", p.counter_period_esterror_rate_frac_sec);
  line("counter_period_maxerror_rate_frac_sec", p.counter_period_maxerror_rate_frac_sec);
  line("time_sec", p.time_sec);
  line("time_frac_sec", p.time_frac_sec, fmt::format("{} ns", Frac64{p.time_frac_sec}.to_ns_floor().count));
  line("time_esterror_nanosec", p.time_esterror_nanosec);
  line("time_maxerror_nanosec", p.time_maxerror_nanosec);
  if (p.vm_generation_counter) line("vm_generation_counter", *p.vm_generation_counter);
  else line("vm_generation_counter", "absent");
  Validity v = assess(p);
  o += fmt::format("{:<40} {}\n", "time data", v.ok() ? "usable" : describe(v.reason, p));
  if (v.tai_convention != TaiConvention::not_applicable)
    o += fmt::format("{:<40} {}\n", "tai_offset convention", name(v.tai_convention));
  return o;
}

}  // namespace vmc
