#include <doctest/doctest.h>

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
