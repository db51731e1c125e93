// SPDX-License-Identifier: Apache-2.0
// build_outputs() (src/daemon/outputs.cpp): a reload whose last step fails
// leaves every output exactly as it was (the same sink objects, the same
// command client, the same ptp4l feed), and a good reload rebuilds only
// the sections that changed. No chronyd or ptp4l is needed: the sinks and
// clients are built before their peers exist.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "config.h"
#include "outputs.h"
#include "temp_dir.h"

using namespace vmc;
using test::TempDir;

namespace {

Config base(const TempDir& d) {
  Config c;
  c.chrony.sock = d.path + "/chrony.sock";
  c.chrony.command_socket = d.path + "/chronyd.sock";
  c.chrony.client_dir = d.path;
  c.ptp4l.emplace();
  c.ptp4l->uds_address = d.path + "/ptp4l";
  c.ptp4l->client_address = d.path + "/pmc.sock";
  return c;
}

struct Same {
  const void *sink, *commands, *ptp;
  explicit Same(const Outputs& o)
      : sink(o.sinks.empty() ? nullptr : o.sinks[0].get()), commands(o.commands.get()), ptp(o.ptp.get()) {}
};

}  // namespace

TEST_CASE("a reload refused at its last step (ptp4l) changes no output") {
  TempDir d;
  const Config old = base(d);
  Outputs cur;
  {
    auto first = build_outputs(old, nullptr, cur);
    REQUIRE_MESSAGE(first, first.error().message);
    cur = std::move(*first);
  }
  REQUIRE(cur.sinks.size() == 1);
  REQUIRE(cur.commands);
  REQUIRE(cur.ptp);
  const Same before(cur);

  Config neu = old;
  neu.chrony.sock = d.path + "/other.sock";                  // built first, and fine
  neu.ptp4l->client_address = "/nonexistent-dir/pmc.sock";  // cannot be bound: the last step fails
  auto r = build_outputs(neu, &old, cur);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("/nonexistent-dir/pmc.sock") != std::string::npos);
  const Same after(cur);
  CHECK(after.sink == before.sink);
  CHECK(after.commands == before.commands);
  CHECK(after.ptp == before.ptp);
  CHECK(cur.sinks.size() == 1);
}

TEST_CASE("a good reload rebuilds exactly the sections that changed") {
  TempDir d;
  const Config old = base(d);
  Outputs cur;
  auto first = build_outputs(old, nullptr, cur);
  REQUIRE_MESSAGE(first, first.error().message);
  cur = std::move(*first);
  const Same before(cur);

  SUBCASE("nothing changed: every part kept") {
    auto r = build_outputs(old, &old, cur);
    REQUIRE(r);
    const Same after(*r);
    CHECK(after.sink == before.sink);
    CHECK(after.commands == before.commands);
    CHECK(after.ptp == before.ptp);
  }
  SUBCASE("[chrony] changed: sinks and command client new, the ptp4l feed kept") {
    Config neu = old;
    neu.chrony.sock = d.path + "/other.sock";
    neu.chrony.client_dir = d.path;  // ptp4l's default reply socket lives here: unchanged
    auto r = build_outputs(neu, &old, cur);
    REQUIRE_MESSAGE(r, r.error().message);
    const Same after(*r);
    CHECK(after.sink != nullptr);
    CHECK(after.sink != before.sink);
    CHECK(after.commands != before.commands);
    CHECK(after.ptp == before.ptp);
  }
  SUBCASE("[ptp4l] changed: a new feed, chrony's outputs kept") {
    Config neu = old;
    neu.ptp4l->client_address = d.path + "/pmc2.sock";
    auto r = build_outputs(neu, &old, cur);
    REQUIRE_MESSAGE(r, r.error().message);
    const Same after(*r);
    CHECK(after.sink == before.sink);
    CHECK(after.commands == before.commands);
    CHECK(after.ptp != nullptr);
    CHECK(after.ptp != before.ptp);
  }
  SUBCASE("[ptp4l] changed, same reply socket: the new feed keeps it when the old one goes") {
    Config neu = old;
    neu.ptp4l->domain_number = 24;
    auto r = build_outputs(neu, &old, cur);
    REQUIRE_MESSAGE(r, r.error().message);
    CHECK(Same(*r).ptp != before.ptp);
    cur = std::move(*r);  // the old feed is destroyed here
    CHECK(std::filesystem::exists(old.ptp4l->client_address));
  }
  SUBCASE("[ptp4l] removed: no feed") {
    Config neu = old;
    neu.ptp4l.reset();
    auto r = build_outputs(neu, &old, cur);
    REQUIRE(r);
    CHECK_FALSE(r->ptp);
    CHECK(Same(*r).sink == before.sink);
  }
  SUBCASE("resets turned off: no command client") {
    Config neu = old;
    neu.chrony.reset_on_disruption = false;
    auto r = build_outputs(neu, &old, cur);
    REQUIRE(r);
    CHECK_FALSE(r->commands);
    CHECK(r->sinks.size() == 1);
  }
}
