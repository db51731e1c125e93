// SPDX-License-Identifier: Apache-2.0
// Time source names and the bound checks of ptp_options.h.
#include "ptp_options.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace vmc::ptp {
namespace {

// IEEE 1588-2008 Table 7.
constexpr std::array<std::pair<std::string_view, uint8_t>, 7> kTimeSources = {{
    {"atomic_clock", time_source::atomic_clock},
    {"gnss", time_source::gnss},
    {"ptp", time_source::ptp},
    {"ntp", time_source::ntp},
    {"hand_set", time_source::hand_set},
    {"other", time_source::other},
    {"internal_oscillator", time_source::internal_oscillator},
}};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

Error out_of_range(std::string_view key, std::string value, std::string_view bounds) {
  return make_error(Errc::config, fmt::format("ptp4l.{} = {}: must be {}", key, value, bounds));
}

}  // namespace

Result<uint8_t> parse_time_source(std::string_view value, std::string_view key) {
  for (const auto& [n, code] : kTimeSources)
    if (iequal(value, n)) return code;
  std::string_view digits = value;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (!digits.empty() && ec == std::errc{} && end == digits.data() + digits.size() && v <= 0xff)
    return static_cast<uint8_t>(v);
  return make_error(Errc::config, fmt::format("{} = \"{}\": {}", key, value, time_source_expected()));
}

std::string time_source_expected() {
  std::string names;
  for (const auto& [n, code] : kTimeSources) names += fmt::format("{}{}", names.empty() ? "" : ", ", n);
  return "not a time source; use a number 0..255 or one of " + names;
}

std::string_view time_source_name(uint8_t code) {
  for (const auto& [n, c] : kTimeSources)
    if (c == code) return n;
  return "";
}

Status validate(const Ptp4lOptions& o) {
  using bounds::socket_path_bytes;
  if (o.uds_address.empty() || o.uds_address.size() > socket_path_bytes)
    return out_of_range("uds_address", fmt::format("\"{}\"", o.uds_address),
                        fmt::format("a socket path of 1 to {} bytes", socket_path_bytes));
  if (o.client_address.size() > socket_path_bytes)
    return out_of_range("client_address", fmt::format("\"{}\"", o.client_address),
                        fmt::format("at most {} bytes", socket_path_bytes));
  // Values beyond int64_t wrap negative here, and are refused as they should.
  auto in = [](auto v, Range r) { return r.contains(static_cast<int64_t>(v)); };
  auto span = [](Range r) { return fmt::format("{} .. {}", r.min, r.max); };
  auto seconds = [](int64_t ns) { return fmt::format("({} s)", ns / 1'000'000'000); };
  const Range locked = bounds::locked_maxerror_ns, holdover = bounds::holdover_maxerror_ns;
  if (!in(o.locked_maxerror_ns, locked))
    return out_of_range("locked_maxerror_ns", std::to_string(o.locked_maxerror_ns),
                        fmt::format("{} {}", span(locked), seconds(locked.max)));
  if (o.holdover_maxerror_ns < o.locked_maxerror_ns || !in(o.holdover_maxerror_ns, holdover))
    return out_of_range("holdover_maxerror_ns", std::to_string(o.holdover_maxerror_ns),
                        fmt::format("locked_maxerror_ns ({}) .. {} {}", o.locked_maxerror_ns, holdover.max,
                                    seconds(holdover.max)));
  if (!in(o.default_utc_offset, bounds::default_utc_offset))
    return out_of_range("default_utc_offset", std::to_string(o.default_utc_offset), span(bounds::default_utc_offset));
  if (!in(o.upgrade_hold_updates, bounds::upgrade_hold_updates))
    return out_of_range("upgrade_hold_updates", std::to_string(o.upgrade_hold_updates),
                        span(bounds::upgrade_hold_updates));
  if (!in(o.upgrade_hold.count(), bounds::upgrade_hold_ms))
    return out_of_range("upgrade_hold_ms", std::to_string(o.upgrade_hold.count()), span(bounds::upgrade_hold_ms));
  if (!in(o.check_interval.count(), bounds::check_interval_ms))
    return out_of_range("check_interval_ms", std::to_string(o.check_interval.count()), span(bounds::check_interval_ms));
  if (!in(o.retry_interval.count(), bounds::retry_interval_ms))
    return out_of_range("retry_interval_ms", std::to_string(o.retry_interval.count()), span(bounds::retry_interval_ms));
  if (!in(o.reply_timeout.count(), bounds::reply_timeout_ms))
    return out_of_range("reply_timeout_ms", std::to_string(o.reply_timeout.count()), span(bounds::reply_timeout_ms));
  return Ok{};
}

MappingOptions mapping_options(const Ptp4lOptions& o) {
  return {o.locked_maxerror_ns, o.holdover_maxerror_ns, o.default_utc_offset, o.time_source, o.ptp_timescale};
}

Hysteresis::Options hysteresis_options(const Ptp4lOptions& o) { return {o.upgrade_hold_updates, o.upgrade_hold}; }

}  // namespace vmc::ptp
