// SPDX-License-Identifier: Apache-2.0
// The runtime directories a run by hand makes (src/daemon/runtime_dirs.h):
// which ones a configuration needs, and making only the missing ones with
// the package's modes.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "runtime_dirs.h"
#include "temp_dir.h"

using namespace vmc;

namespace {
unsigned mode_of(const std::string& p) {
  struct stat st{};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("the defaults need /run/vmclockd and the client sockets' directory, chrony's group on it") {
  CHECK(runtime_dirs(default_config(), 105) ==
        std::vector<RuntimeDir>{{"/run/vmclockd", 0755, std::nullopt}, {"/run/vmclockd/sockets", 0750, 105}});
  CHECK(runtime_dirs(default_config(), std::nullopt) ==
        std::vector<RuntimeDir>{{"/run/vmclockd", 0755, std::nullopt}, {"/run/vmclockd/sockets", 0755, std::nullopt}});
}

TEST_CASE("nothing written, nothing needed; ptp4l's reply socket elsewhere adds its directory") {
  Config c = default_config();
  c.daemon.status_file = "";
  c.bound.segment = "";
  c.chrony.command_socket = "";
  CHECK(runtime_dirs(c, 105).empty());
  c.ptp4l = Ptp4lSection{};
  CHECK(runtime_dirs(c, 105) == std::vector<RuntimeDir>{{"/run/vmclockd/sockets", 0750, 105}});
  c.ptp4l->client_address = "/run/other/pmc.sock";
  CHECK(runtime_dirs(c, std::nullopt) == std::vector<RuntimeDir>{{"/run/other", 0755, std::nullopt}});
}

TEST_CASE("only the missing directories are made, parents first, with their modes") {
  test::TempDir t("rundirs");
  const std::string top = t.join("run/vmclockd"), socks = top + "/sockets";
  auto made = make_missing_dirs({{top, 0755, std::nullopt}, {socks, 0750, std::nullopt}});
  REQUIRE_MESSAGE(made, made.error().message);
  CHECK(*made == std::vector<std::string>{t.join("run"), top, socks});
  CHECK(mode_of(t.join("run")) == 0755);
  CHECK(mode_of(top) == 0755);
  CHECK(mode_of(socks) == 0750);
  // There now: left alone, its mode too.
  REQUIRE(::chmod(socks.c_str(), 0700) == 0);
  auto again = make_missing_dirs({{top, 0755, std::nullopt}, {socks, 0750, std::nullopt}});
  REQUIRE(again);
  CHECK(again->empty());
  CHECK(mode_of(socks) == 0700);
}

TEST_CASE("a file where a directory must go is an OS error naming it") {
  test::TempDir t("rundirs-bad");
  const std::string file = t.write("file", "x");
  for (const std::string& p : {file, file + "/sub"}) {
    auto made = make_missing_dirs({{p, 0755, std::nullopt}});
    REQUIRE_FALSE(made);
    CHECK(made.error().code == Errc::os);
    CHECK(made.error().message.find(file) == 0);
  }
}
