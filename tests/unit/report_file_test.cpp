// SPDX-License-Identifier: Apache-2.0
// write_file_atomically (src/daemon/report_file.cpp): the temporary name
// is created new, so a symlink planted there (a status directory another
// user can write) is never written through, and a stale temporary left by
// a crash is replaced.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "report_file.h"
#include "temp_dir.h"

using namespace vmc;
using test::TempDir;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("a symlink planted at the temporary name: its target is untouched") {
  TempDir d;
  const std::string victim = d.path + "/victim", status = d.path + "/status.json";
  { std::ofstream(victim) << "precious"; }
  REQUIRE(::chmod(victim.c_str(), 0600) == 0);
  REQUIRE(::symlink(victim.c_str(), (status + ".tmp").c_str()) == 0);
  REQUIRE(write_file_atomically(status, "{\"state\": \"synced\"}\n").ok());
  CHECK(slurp(victim) == "precious");
  struct stat st{};
  REQUIRE(::stat(victim.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(slurp(status) == "{\"state\": \"synced\"}\n");
  REQUIRE(::lstat(status.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0644);
  CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(status + ".tmp")));
}

TEST_CASE("a stale temporary from a crash is replaced; the file is rewritten whole") {
  TempDir d;
  const std::string m = d.path + "/metrics.prom";
  { std::ofstream(m + ".tmp") << "half a file"; }
  REQUIRE(write_file_atomically(m, "a 1\n").ok());
  CHECK(slurp(m) == "a 1\n");
  REQUIRE(write_file_atomically(m, "a 2\n").ok());
  CHECK(slurp(m) == "a 2\n");
  CHECK_FALSE(std::filesystem::exists(m + ".tmp"));
}

TEST_CASE("a directory where the file would go: an error naming it") {
  TempDir d;
  const std::string m = d.path + "/nodir/status.json";
  auto r = write_file_atomically(m, "x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find(m + ".tmp") != std::string::npos);
}
