// SPDX-License-Identifier: Apache-2.0
// ptp_options.h: time source names, defaults and the bounds validate() checks.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "ptp_options.h"

using namespace vmc;
using namespace vmc::ptp;

TEST_CASE("time_source: names, numbers, and errors naming key and value") {
  CHECK(*parse_time_source("atomic_clock") == 0x10);
  CHECK(*parse_time_source("GNSS") == 0x20);
  CHECK(*parse_time_source("ptp") == 0x40);
  CHECK(*parse_time_source("ntp") == 0x50);
  CHECK(*parse_time_source("hand_set") == 0x60);
  CHECK(*parse_time_source("other") == 0x90);
  CHECK(*parse_time_source("internal_oscillator") == 0xA0);
  CHECK(*parse_time_source("144") == 0x90);
  CHECK(*parse_time_source("0x20") == 0x20);
  CHECK(*parse_time_source("0") == 0);
  for (const char* bad : {"", "gps", "256", "0x", "0x100", "-1", "12a", " 16"}) {
    CAPTURE(bad);
    auto r = parse_time_source(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::config);
    CHECK(r.error().message.find("ptp4l.time_source") != std::string::npos);
    CHECK(r.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
  }
  CHECK(parse_time_source("x", "[ptp4l] time_source (line 7)").error().message.rfind("[ptp4l] time_source (line 7)", 0) == 0);
  CHECK(time_source_name(0x50) == "ntp");
  CHECK(time_source_name(0x91).empty());
}

TEST_CASE("defaults validate and map") {
  Ptp4lOptions o;
  CHECK(validate(o).ok());
  CHECK(o.uds_address == "/var/run/ptp4l");
  CHECK(o.time_source == 0x90);
  auto m = mapping_options(o);
  CHECK(m.holdover_maxerror_ns == o.holdover_maxerror_ns);
  CHECK(m.default_utc_offset == 37);
  CHECK(hysteresis_options(o).hold_updates == 3);
}

TEST_CASE("bounds: errors name the key") {
  auto err = [](auto mutate) {
    Ptp4lOptions o;
    mutate(o);
    auto st = validate(o);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Errc::config);
    return st.error().message;
  };
  CHECK(err([](auto& o) { o.uds_address = ""; }).find("ptp4l.uds_address") == 0);
  CHECK(err([](auto& o) { o.uds_address = std::string(200, 'a'); }).find("ptp4l.uds_address") == 0);
  CHECK(err([](auto& o) { o.holdover_maxerror_ns = 10; }).find("ptp4l.holdover_maxerror_ns = 10") == 0);
  CHECK(err([](auto& o) { o.locked_maxerror_ns = 0; }).find("ptp4l.locked_maxerror_ns") == 0);
  CHECK(err([](auto& o) { o.upgrade_hold_updates = 0; }).find("ptp4l.upgrade_hold_updates") == 0);
  CHECK(err([](auto& o) { o.reply_timeout = std::chrono::milliseconds{500}; }).find("ptp4l.reply_timeout_ms") == 0);
  CHECK(err([](auto& o) { o.check_interval = std::chrono::milliseconds{10}; }).find("ptp4l.check_interval_ms") == 0);
  CHECK(err([](auto& o) { o.default_utc_offset = -1; }).find("ptp4l.default_utc_offset") == 0);
}

TEST_CASE("defaults: the mapping's and the hysteresis's own, not copies") {
  const Ptp4lOptions o;
  const MappingOptions m = mapping_options(o), want{};
  CHECK(m.locked_maxerror_ns == want.locked_maxerror_ns);
  CHECK(m.holdover_maxerror_ns == want.holdover_maxerror_ns);
  CHECK(m.default_utc_offset == want.default_utc_offset);
  CHECK(m.time_source == want.time_source);
  CHECK(m.ptp_timescale == want.ptp_timescale);
  CHECK(hysteresis_options(o).hold_updates == Hysteresis::Options{}.hold_updates);
  CHECK(hysteresis_options(o).hold_time == Hysteresis::Options{}.hold_time);
  // And inside their own bounds.
  CHECK(bounds::locked_maxerror_ns.contains(static_cast<int64_t>(o.locked_maxerror_ns)));
  CHECK(bounds::check_interval_ms.contains(o.check_interval.count()));
  CHECK(bounds::reply_timeout_ms.contains(o.reply_timeout.count()));
}

TEST_CASE("bounds: each end is taken, one past it refused, with the range in the message") {
  using std::chrono::milliseconds;
  struct Case {
    const char* key;
    Range r;
    void (*set)(Ptp4lOptions&, int64_t);
  };
  const Case cases[] = {
      {"default_utc_offset", bounds::default_utc_offset,
       [](Ptp4lOptions& o, int64_t v) { o.default_utc_offset = static_cast<int16_t>(v); }},
      {"upgrade_hold_updates", bounds::upgrade_hold_updates,
       [](Ptp4lOptions& o, int64_t v) { o.upgrade_hold_updates = static_cast<uint32_t>(v); }},
      {"upgrade_hold_ms", bounds::upgrade_hold_ms,
       [](Ptp4lOptions& o, int64_t v) { o.upgrade_hold = milliseconds{v}; }},
      {"check_interval_ms", bounds::check_interval_ms,
       [](Ptp4lOptions& o, int64_t v) { o.check_interval = milliseconds{v}; }},
      {"retry_interval_ms", bounds::retry_interval_ms,
       [](Ptp4lOptions& o, int64_t v) { o.retry_interval = milliseconds{v}; }},
      {"reply_timeout_ms", bounds::reply_timeout_ms,
       [](Ptp4lOptions& o, int64_t v) { o.reply_timeout = milliseconds{v}; }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    for (int64_t v : {c.r.min, c.r.max}) {
      Ptp4lOptions o;
      c.set(o, v);
      CHECK(validate(o).ok());
    }
    for (int64_t v : {c.r.min - 1, c.r.max + 1}) {
      // upgrade_hold_updates is unsigned: min - 1 = 0 is still one past.
      Ptp4lOptions o;
      c.set(o, v);
      auto st = validate(o);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().message ==
            fmt::format("ptp4l.{} = {}: must be {} .. {}", c.key, v, c.r.min, c.r.max));
    }
  }
  Ptp4lOptions o;
  o.locked_maxerror_ns = 0;
  CHECK(validate(o).error().message == "ptp4l.locked_maxerror_ns = 0: must be 1 .. 10000000000 (10 s)");
  o = {};
  o.holdover_maxerror_ns = static_cast<uint64_t>(bounds::holdover_maxerror_ns.max) + 1;
  CHECK(validate(o).error().message ==
        "ptp4l.holdover_maxerror_ns = 1000000000001: must be locked_maxerror_ns (1000000) .. 1000000000000 (1000 s)");
  o = {};
  o.holdover_maxerror_ns = o.locked_maxerror_ns;  // equal is fine
  CHECK(validate(o).ok());
  o.uds_address = std::string(bounds::socket_path_bytes, 'a');
  CHECK(validate(o).ok());
  o.client_address = std::string(bounds::socket_path_bytes + 1, 'a');
  CHECK(validate(o).error().message.find("ptp4l.client_address") == 0);
}
