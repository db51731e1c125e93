// SPDX-License-Identifier: Apache-2.0
// Scenario parsing and expansion, and the simulator's command line.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "options.h"
#include "page_file.h"
#include "scenario.h"

using namespace vmc;
using namespace vmc::sim;

namespace {

Error parse_err(const std::string& text) {
  auto s = parse_scenario(text, "bad.toml");
  REQUIRE_FALSE(s);
  return s.error();
}

Result<std::optional<SimConfig>> opts(std::vector<const char*> args) {
  args.insert(args.begin(), "vmclock-sim");
  return parse_options(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("the example scenario parses and expands in time order") {
  auto s = load_scenario(VMC_SOURCE_DIR "/src/sim/scenarios/example.toml");
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  CHECK(s->migration_offset_step_ns == std::optional<int64_t>(100000));
  REQUIRE(s->events.size() == 9);
  CHECK(s->events[0].kind == EventKind::migration);
  CHECK(s->events[0].offset_step_ns == std::optional<int64_t>(250000));
  CHECK(s->events[0].bump_generation == false);
  auto acts = expand(*s);
  for (size_t i = 1; i < acts.size(); ++i) CHECK(acts[i - 1].at_ns <= acts[i].at_ns);
  CHECK(name(acts.front().kind) == name(ActionKind::raise_soon));
  CHECK(acts.front().at_ns == 1'500'000'000);
}

TEST_CASE("expand: migration warnings, leap sequence, durations") {
  auto s = parse_scenario(R"(
[[event]]
type = "leap"
at = 1
leap = "pre-pos"
after_s = 3
post_s = 2
[[event]]
type = "migration"
at = 2
soon_ms = 1000
imminent_ms = 100
[[event]]
type = "stuck_odd"
at = 2.5
duration_s = 0.25
[[event]]
type = "leap"
at = 20
leap = "pre_neg"
[[event]]
type = "stop_updates"
at = 30
)",
                          "t.toml");
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  auto a = expand(*s);
  struct Want {
    int64_t at_ms;
    ActionKind kind;
    abi::LeapIndicator leap;
  };
  using L = abi::LeapIndicator;
  std::vector<Want> want = {
      {1000, ActionKind::leap_pending, L::pre_pos}, {1000, ActionKind::raise_soon, L::none},
      {1900, ActionKind::raise_imminent, L::none},  {2000, ActionKind::migrate, L::none},
      {2500, ActionKind::stuck_odd, L::none},       {2750, ActionKind::unstuck, L::none},
      {4000, ActionKind::leap_now, L::pos},         {5000, ActionKind::leap_post, L::post_pos},
      {7000, ActionKind::leap_clear, L::none},      {20000, ActionKind::leap_pending, L::pre_neg},
      {21000, ActionKind::leap_now, L::post_neg},   {22000, ActionKind::leap_clear, L::none},
      {30000, ActionKind::stop_updates, L::none},
  };
  REQUIRE(a.size() == want.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].at_ns == want[i].at_ms * 1'000'000);
    CHECK(name(a[i].kind) == name(want[i].kind));
    CHECK(a[i].leap == want[i].leap);
  }
  // Same instant: the file's order (the leap is event 0).
  CHECK(a[0].event == 0);
  CHECK(a[1].event == 1);
}

TEST_CASE("set and status events") {
  auto s = parse_scenario(R"(
[[event]]
type = "set"
at = 0
offset_ns = -5
drift_ppm = 1.5
time_type = "monotonic"
counter_id = "invalid"
maxerror_ns = 7
tai_offset = -37
smearing = "noon-linear"
[[event]]
type = "status"
at = 1
status = "unreliable"
)",
                          "t.toml");
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  const SetFields& f = s->events[0].set;
  CHECK(f.offset_ns == std::optional<int64_t>(-5));
  CHECK(f.drift_ppm == std::optional<double>(1.5));
  CHECK(f.time_type == abi::TimeType::monotonic);
  CHECK(f.counter_id == abi::CounterId::invalid);
  CHECK(f.maxerror_ns == std::optional<uint64_t>(7));
  CHECK(f.tai_offset == std::optional<int16_t>(-37));
  CHECK(f.smearing == abi::SmearingHint::noon_linear);
  CHECK(s->events[1].set.status == abi::ClockStatus::unreliable);
}

TEST_CASE("bad scenarios name the file, the event, the key and the value") {
  struct Case {
    const char* text;
    std::vector<std::string> says;
  };
  std::vector<Case> cases = {
      {"[[event]]\ntype = \"migration\"\nat = 1\ncolour = \"red\"\n", {"bad.toml", "event[0].colour", "\"red\""}},
      {"[[event]]\ntype = \"set\"\nat = 1\noffset_ns = 1\n[[event]]\ntype = \"teleport\"\nat = 2\n",
       {"event[1].type", "\"teleport\""}},
      {"[[event]]\ntype = \"status\"\nat = -1\nstatus = \"unknown\"\n", {"event[0].at", "-1"}},
      {"[[event]]\ntype = \"status\"\nstatus = \"unknown\"\n", {"event[0]", "at", "missing"}},
      {"[[event]]\ntype = \"status\"\nat = 1\nstatus = \"fine\"\n", {"event[0].status", "\"fine\""}},
      {"[[event]]\ntype = \"set\"\nat = 1\ndrift_ppm = \"fast\"\n", {"event[0].drift_ppm", "\"fast\"", "number"}},
      {"[[event]]\ntype = \"set\"\nat = 1\ndrift_ppm = 1e9\n", {"event[0].drift_ppm"}},
      {"[[event]]\ntype = \"set\"\nat = 1\n", {"event[0]", "missing"}},
      {"[[event]]\ntype = \"migration\"\nat = 1\nsoon_ms = 2000\n", {"event[0].soon_ms", "2000", "before ready"}},
      {"[[event]]\ntype = \"leap\"\nat = 1\nleap = \"pos\"\n", {"event[0].leap", "\"pos\""}},
      {"[[event]]\ntype = \"resume_updates\"\nat = 1\nduration_s = 1\n", {"event[0].duration_s"}},
      {"[[event]]\ntype = \"set\"\nat = 1\ntai_offset = 40000\n", {"event[0].tai_offset", "40000"}},
      {"speed = 3\n", {"speed", "unknown key"}},
      {"event = 3\n", {"event", "3"}},
      {"[[event]\ntype = 1\n", {"bad.toml:1"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    Error e = parse_err(c.text);
    CHECK(e.code == Errc::config);
    for (const auto& w : c.says) {
      CAPTURE(w);
      CAPTURE(e.message);
      CHECK(e.message.find(w) != std::string::npos);
    }
  }
  auto missing = load_scenario("/nonexistent/x.toml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::config);
  CHECK(missing.error().message.find("/nonexistent/x.toml") != std::string::npos);
}

TEST_CASE("options: defaults and the disruption-only shape") {
  auto o = opts({"--page", "/tmp/p"});
  REQUIRE(o);
  REQUIRE(*o);
  const SimConfig& c = **o;
  CHECK(c.update_interval_ns == 1'000'000'000);
  CHECK(c.host.size == 112);
  CHECK(c.host.status == abi::ClockStatus::synchronized);
  CHECK(c.host.maxerror_ns == std::optional<uint64_t>(1000));
  CHECK(c.host.period_maxerror_ppb == std::optional<double>(100));
  CHECK(c.migration_offset_step_ns == 100'000);
  CHECK_FALSE(c.migration_offset_step_given);

  auto d = opts({"--page", "/tmp/p", "--disruption-only"});
  REQUIRE(d);
  REQUIRE(*d);
  CHECK((*d)->host.size == 4096);
  CHECK((*d)->host.counter_id == abi::CounterId::invalid);
  CHECK((*d)->host.status == abi::ClockStatus::unknown);
  CHECK((*d)->host.notification_present);
  CHECK_FALSE((*d)->host.maxerror_ns);

  auto t = opts({"--page", "/tmp/p", "--time-type", "tai", "--tai-offset", "-37", "--no-generation",
                 "--update-interval-ms", "0.1", "--no-maxerror", "--migration-drift-step-ppm", "3"});
  REQUIRE(t);
  REQUIRE(*t);
  CHECK((*t)->host.tai_offset == std::optional<int16_t>(-37));
  CHECK((*t)->host.size == 104);
  CHECK_FALSE((*t)->host.generation_present);
  CHECK((*t)->update_interval_ns == 100'000);
  CHECK_FALSE((*t)->host.maxerror_ns);
  CHECK_FALSE((*t)->host.period_maxerror_ppb);
  CHECK((*t)->host.esterror_ns);
  CHECK((*t)->migration_drift_step_given);

  // A 64 KiB page (arm64 kernels with 64 KiB pages need size >= 65536).
  auto big = opts({"--page", "/tmp/p", "--size", "65536"});
  REQUIRE(big);
  REQUIRE(*big);
  CHECK((*big)->host.size == 65536);
  CHECK(sim::PageFile::file_bytes(65536) == 65536);
  CHECK(sim::PageFile::file_bytes(112) == 4096);
  CHECK(sim::PageFile::file_bytes(4097) == 8192);
}

TEST_CASE("options: bad values are usage errors naming the option and the value") {
  struct Case {
    std::vector<const char*> args;
    std::vector<std::string> says;
  };
  std::vector<Case> cases = {
      {{"--page", "p", "--drift-ppm", "abc"}, {"--drift-ppm", "abc"}},
      {{"--page", "p", "--drift-ppm", "200000"}, {"--drift-ppm", "200000"}},
      {{"--page", "p", "--status", "fine"}, {"--status", "fine"}},
      {{"--page", "p", "--time-type", "gps"}, {"--time-type", "gps"}},
      {{"--page", "p", "--leap", "maybe"}, {"--leap", "maybe"}},
      {{"--page", "p", "--counter-id", "hpet"}, {"--counter-id", "hpet"}},
      {{"--page", "p", "--smearing", "wide"}, {"--smearing", "wide"}},
      {{"--page", "p", "--update-interval-ms", "0"}, {"--update-interval-ms", "0"}},
      {{"--page", "p", "--tai-offset", "70000"}, {"--tai-offset", "70000"}},
      {{"--page", "p", "--size", "100"}, {"--size", "100"}},
      {{"--page", "p", "--size", "65537"}, {"--size", "65537", "65536"}},
      {{"--page", "p", "--size", "104"}, {"--size", "104", "--no-generation"}},
      {{"--page", "p", "--no-generation", "--generation", "2"}, {"--generation", "--no-generation"}},
      {{"--page", "p", "--disruption-only", "--maxerror-ns", "5"}, {"--maxerror-ns", "5", "--disruption-only"}},
      {{"--page", "p", "--duration", "-1"}, {"--duration", "-1"}},
      {{"--offset-ns", "1"}, {"--page"}},
      {{"--page", "p", "--frobnicate"}, {"--frobnicate"}},
  };
  for (const auto& c : cases) {
    auto r = opts(c.args);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::usage);
    for (const auto& w : c.says) {
      CAPTURE(w);
      CAPTURE(r.error().message);
      CHECK(r.error().message.find(w) != std::string::npos);
    }
  }
}
