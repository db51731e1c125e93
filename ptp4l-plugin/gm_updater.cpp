// SPDX-License-Identifier: Apache-2.0
#include "gm_updater.h"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

namespace vmc::ptp {
namespace {

constexpr std::array<std::pair<uint8_t, std::string_view>, 6> kFlagNames = {{
    {time_flag::leap_61, "LEAP_61"},
    {time_flag::leap_59, "LEAP_59"},
    {time_flag::utc_off_valid, "UTC_OFF_VALID"},
    {time_flag::ptp_timescale, "PTP_TIMESCALE"},
    {time_flag::time_traceable, "TIME_TRACEABLE"},
    {time_flag::freq_traceable, "FREQ_TRACEABLE"},
}};

}  // namespace

std::string describe(const GrandmasterSettings& s) {
  std::string flags;
  for (const auto& [bit, n] : kFlagNames)
    if (s.time_flags & bit) flags += (flags.empty() ? "" : "|") + std::string(n);
  return fmt::format("class {} accuracy {:#04x} variance {:#06x} utc_offset {} flags {} source {:#04x}",
                     s.quality.clock_class, s.quality.clock_accuracy, s.quality.offset_scaled_log_variance,
                     s.current_utc_offset, flags.empty() ? "none" : flags, s.time_source);
}

nlohmann::json to_json(const GrandmasterSettings& s) {
  nlohmann::json flags = nlohmann::json::array();
  for (const auto& [bit, n] : kFlagNames)
    if (s.time_flags & bit) flags.push_back(n);
  return {{"clock_class", s.quality.clock_class},
          {"clock_accuracy", s.quality.clock_accuracy},
          {"offset_scaled_log_variance", s.quality.offset_scaled_log_variance},
          {"current_utc_offset", s.current_utc_offset},
          {"time_flags", flags},
          {"time_source", s.time_source}};
}

nlohmann::json to_json(const UpdaterStatus& s) {
  return {{"state", s.state},
          {"grade", name(s.grade)},
          {"held_back", s.held_back},
          {"desired", to_json(s.desired)},
          {"applied", s.applied ? to_json(*s.applied) : nlohmann::json(nullptr)},
          {"gets_sent", s.gets_sent},
          {"sets_sent", s.sets_sent},
          {"reapplied", s.reapplied},
          {"last_error", s.last_error},
          {"ptp4l_identity", s.ptp4l_identity}};
}

Result<GrandmasterUpdater> GrandmasterUpdater::create(const Ptp4lOptions& opts, LogFn log) {
  if (auto st = validate(opts); !st) return st.error();
  auto client = PmcClient::open({opts.uds_address, opts.client_address, opts.domain_number});
  if (!client) return client.error();
  return GrandmasterUpdater(opts, std::move(*client), std::move(log));
}

GrandmasterUpdater::GrandmasterUpdater(const Ptp4lOptions& opts, PmcClient client, LogFn log)
    : opts_(opts),
      mapping_(mapping_options(opts)),
      hysteresis_(hysteresis_options(opts)),
      client_(std::move(client)),
      log_(std::move(log)) {}

void GrandmasterUpdater::tick(const ClockView& view, TimePoint now) {
  Mapped m = map_clock(view, mapping_);
  GrandmasterSettings desired = hysteresis_.update(m.settings, now);
  status_.grade = m.grade;
  status_.desired = desired;
  status_.held_back = desired.quality != m.settings.quality;
  bool changed = !in_sync_ || !status_.applied || *status_.applied != desired;
  // In sync: act on a change at once, else only to check. Out of sync
  // (absent, error): every retry_interval, however often the wish changes.
  if (next_check_ && now < *next_check_ && (!in_sync_ || !changed)) return;
  sync(desired, now);
}

void GrandmasterUpdater::sync(const GrandmasterSettings& desired, TimePoint now) {
  ++status_.gets_sent;
  auto current = client_.get_grandmaster_settings(opts_.reply_timeout);
  if (!current) return fail(current.error(), now);
  status_.ptp4l_identity = to_string(client_.last_responder());

  if (*current != desired) {
    if (in_sync_ && status_.applied && *current == *status_.applied) {
      // Only our wish changed.
    } else if (in_sync_ && status_.applied) {
      ++status_.reapplied;
      log_line(log_, fmt::format("ptp4l: settings changed behind our back (restart?): now {}; re-applying", describe(*current)));
    }
    ++status_.sets_sent;
    auto echoed = client_.set_grandmaster_settings(desired, opts_.reply_timeout);
    if (!echoed) return fail(echoed.error(), now);
    if (*echoed != desired)
      return fail(make_error(Errc::data, fmt::format("ptp4l: SET GRANDMASTER_SETTINGS_NP {} answered {}",
                                                     describe(desired), describe(*echoed))),
                  now);
  }
  if (!status_.applied || *status_.applied != desired || status_.state != "applied")
    log_line(log_, fmt::format("ptp4l: announcing {} ({}{})", describe(desired), name(status_.grade),
                               status_.held_back ? ", upgrade held back by hysteresis" : ""));
  status_.applied = desired;
  status_.state = "applied";
  in_sync_ = true;
  next_check_ = now + opts_.check_interval;
}

void GrandmasterUpdater::fail(const Error& e, TimePoint now) {
  std::string state = e.code == Errc::no_input ? "absent" : "error";
  if (state != status_.state || e.message != status_.last_error)
    log_line(log_, state == "absent" ? fmt::format("{}; retrying every {} ms", e.message, opts_.retry_interval.count())
                                         : e.message);
  status_.state = std::move(state);
  status_.last_error = e.message;
  in_sync_ = false;
  next_check_ = now + opts_.retry_interval;
}

Status GrandmasterUpdater::withdraw() {
  GrandmasterSettings s = map_clock(ClockView{}, mapping_).settings;
  ++status_.sets_sent;
  auto echoed = client_.set_grandmaster_settings(s, opts_.reply_timeout);
  in_sync_ = false;
  if (!echoed) return echoed.error();
  status_.applied = *echoed;
  log_line(log_, fmt::format("ptp4l: withdrawn: announcing {}", describe(*echoed)));
  return Ok{};
}

}  // namespace vmc::ptp
