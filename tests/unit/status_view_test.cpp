// SPDX-License-Identifier: Apache-2.0
// The status schema (src/daemon/status_view.cpp): what the daemon writes
// is what vmclockctl reads back, field for field; a file of another shape
// is refused naming the key.
#include <doctest/doctest.h>

#include "status_view.h"

using namespace vmc;
using nlohmann::json;

namespace {

StatusView full() {
  StatusView v;
  v.version = "0.1.0";
  v.pid = 4242;
  v.boot_id = "0f4a2b1c-0000-4000-8000-000000000001";
  v.start_ticks = 123456;
  v.updated = "2026-12-01T23:00:00.000000001Z";
  v.updated_unix_ns = 1'796'166'000'000'000'001;
  v.state = DaemonState::disrupted;
  v.reason = "disruption_marker 1 -> 2";
  v.config = "/etc/vmclockd.toml";
  v.settings = json{{"sampling.interval_ms", 250}, {"chrony.sock", "/run/chrony/vmclockd.sock"}};
  v.page = PageView{.path = "/dev/vmclock0", .kind = "device-mmap", .watch = "timer",
                    .watch_why = "the driver has no poll()", .seq_count = 10, .disruption_marker = 2,
                    .vm_generation_counter = std::nullopt, .clock_status = "SYNCHRONIZED", .time_type = "UTC",
                    .counter_id = "X86_TSC", .leap_indicator = "pre_pos", .smearing_hint = "undefined(7)",
                    .flags = 0x23,
                    .missing = PageMissingView{.reason = "no-driver", .detail = "no ptp_vmclock",
                                               .sysfs = "AMZNC10C:00 has no driver"}};
  v.last_sample = SampleView{.time = "t", .system_ns = -5, .offset_ns = -1200, .maxerror_ns = 40'000,
                             .esterror_ns = 7, .bracket_ns = 60, .leap = 1, .disruption_marker = 2};
  v.counters = {.samples_sent = 1, .samples_refused = 2, .disruptions_seen = 3, .resets_sent = 4,
                .resets_failed = 5, .page_errors = 6, .config_reloads = 7, .wakeups = 8, .notifications = 9};
  v.last_disruption = DisruptionView{.system_ns = 99, .old_marker = 1, .new_marker = 2, .reset_latency_ns = 1'500'000};
  v.sinks = {SinkView{.name = "sock", .ok = true, .state = "connected", .published = 9},
             SinkView{.name = "shm", .ok = false, .state = "waiting for chronyd", .failed = 1, .last_error = "x"}};
  v.ptp4l = json{{"class", 6}};
  v.bound = BoundView{.segment = "/run/vmclockd/bound", .source = "page", .status = "disrupted", .bound_ns = 0,
                      .max_drift_ppb = 15000, .as_of_ns = 5, .disruption_marker = 2, .why = "waiting",
                      .clockbound = PublishedView{"/run/clockbound/shm0", "publishing"}};
  return v;
}

}  // namespace

TEST_CASE("every field survives the file: the writer and the reader share one schema") {
  for (const StatusView& v : {full(), StatusView{}}) {
    const json j = json::parse(to_json(v).dump(2));
    auto back = status_from_json(j);
    REQUIRE_MESSAGE(back, back.error().message);
    CHECK(*back == v);
  }
}

TEST_CASE("the file keeps the keys people and scripts already read") {
  const json j = to_json(full());
  for (const char* k : {"version", "pid", "boot_id", "start_ticks", "updated", "updated_unix_ns", "state", "reason", "config", "settings", "page",
                        "last_sample", "samples_sent", "samples_refused", "disruptions_seen", "resets_sent",
                        "resets_failed", "page_errors", "config_reloads", "last_disruption", "sinks", "ptp4l", "bound"})
    CHECK_MESSAGE(j.contains(k), k);
  CHECK(j["state"] == "disrupted");
  CHECK(j["page"]["vm_generation_counter"].is_null());
  CHECK(j["page"]["leap_indicator"] == "pre_pos");
  CHECK(j["page"]["smearing_hint"] == "undefined(7)");
  CHECK(j["last_disruption"]["reset_latency_ns"] == 1'500'000);
  CHECK(to_json(StatusView{})["last_sample"].is_null());
  CHECK(j["page"]["missing"] == json{{"reason", "no-driver"}, {"detail", "no ptp_vmclock"},
                                     {"sysfs", "AMZNC10C:00 has no driver"}});
  CHECK(to_json(StatusView{})["page"]["missing"].is_null());
}

TEST_CASE("a page file that cannot be opened has no /sys part") {
  StatusView v;
  v.page.missing =
      PageMissingView{.reason = "cannot-open", .detail = "/tmp/page: cannot open: No such file", .sysfs = std::nullopt};
  const json j = to_json(v);
  CHECK(j["page"]["missing"]["sysfs"].is_null());
  auto back = status_from_json(j);
  REQUIRE_MESSAGE(back, back.error().message);
  CHECK(*back == v);
}

TEST_CASE("another shape is refused naming the key and the value") {
  json j = to_json(full());
  SUBCASE("missing") {
    j.erase("samples_sent");
    auto r = status_from_json(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::data);
    CHECK(r.error().message == "samples_sent: missing");
  }
  SUBCASE("wrong type, nested") {
    j["sinks"][1]["ok"] = "yes";
    auto r = status_from_json(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "sinks[1].ok = \"yes\": must be true or false");
  }
  SUBCASE("unknown state") {
    j["state"] = "dancing";
    auto r = status_from_json(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("state") == 0);
  }
  SUBCASE("negative counter") {
    j["page"]["seq_count"] = -1;
    CHECK_FALSE(status_from_json(j));
  }
}
