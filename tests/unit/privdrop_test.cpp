// SPDX-License-Identifier: Apache-2.0
// drop_privileges() for real: each case runs in a forked child (a process
// cannot get root back, and the test runner must keep it), which reports
// through its exit code and stderr. The cases that need root are the suite
// "root": ctest runs it as its own entry (unit.privdrop_test.root), which
// reports Skipped when not root; doctest skips them then too.
#include <doctest/doctest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "privdrop.h"
#include "temp_dir.h"

namespace {

// Runs body in a child; its return value is the child's exit code.
int in_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(body());
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFEXITED(st));
  return WEXITSTATUS(st);
}

}  // namespace

TEST_SUITE("root" * doctest::skip(geteuid() != 0)) {

TEST_CASE("drop_privileges as root ends as nobody with no capabilities anywhere") {
  passwd* nb = getpwnam("nobody");
  REQUIRE_MESSAGE(nb != nullptr, "the test needs the user nobody");
  const uid_t want_uid = nb->pw_uid;
  int code = in_child([&] {
    auto before = vmc::read_proc_capsets();
    if (!before || before->bnd == 0) {
      std::fprintf(stderr, "child: no capabilities to start with\n");
      return 10;
    }
    std::string note;
    auto st = vmc::drop_privileges("nobody", &note);
    if (!st) {
      std::fprintf(stderr, "child: %s\n", st.error().message.c_str());
      return 11;
    }
    if (note.find("nobody") == std::string::npos) return 12;
    auto caps = vmc::read_proc_capsets();
    if (!caps) {
      std::fprintf(stderr, "child: %s\n", caps.error().message.c_str());
      return 13;
    }
    if (caps->eff || caps->prm || caps->bnd || caps->inh || caps->amb) {
      std::fprintf(stderr, "child: CapEff %llx CapPrm %llx CapBnd %llx CapInh %llx CapAmb %llx\n",
                   caps->eff, caps->prm, caps->bnd, caps->inh, caps->amb);
      return 14;
    }
    if (getuid() != want_uid || geteuid() != want_uid) return 15;
    if (getgid() == 0 || getegid() == 0) return 16;
    if (setuid(0) == 0) return 17;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 18;
    return 0;
  });
  CHECK(code == 0);
}

TEST_CASE("drop_privileges refuses an unknown user and root itself") {
  int code = in_child([] {
    auto st = vmc::drop_privileges("no-such-user-vmclockd-test");
    if (st || st.error().code != vmc::Errc::config) return 20;
    if (st.error().message.find("no-such-user-vmclockd-test") == std::string::npos) return 21;
    auto r = vmc::drop_privileges("root");
    if (r || r.error().code != vmc::Errc::config) return 22;
    // Nothing changed by the refusals.
    if (geteuid() != 0) return 23;
    auto caps = vmc::read_proc_capsets();
    if (!caps || caps->bnd == 0) return 24;
    return 0;
  });
  CHECK(code == 0);
}

TEST_CASE("unreadable_by tries the paths as the user: what it could not open again") {
  vmc::test::TempDir open_dir("privdrop-open"), closed_dir("privdrop-closed");
  REQUIRE(::chmod(open_dir.path.c_str(), 0755) == 0);
  REQUIRE(::chmod(closed_dir.path.c_str(), 0700) == 0);
  const std::string readable = open_dir.write("page", "x"), hidden = closed_dir.write("page", "x");
  const std::string root_only = open_dir.write("root-only", "x");
  REQUIRE(::chmod(readable.c_str(), 0644) == 0);
  REQUIRE(::chmod(root_only.c_str(), 0600) == 0);
  const std::string later = open_dir.join("not-yet"), later_hidden = closed_dir.join("not-yet");
  auto r = vmc::unreadable_by("nobody", {readable, hidden, root_only, later, later_hidden});
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(*r == std::vector<std::string>{hidden, root_only, later_hidden});
  // Still root, nothing changed here.
  CHECK(geteuid() == 0);
  CHECK(vmc::unreadable_by("nobody", {readable})->empty());
  auto unknown = vmc::unreadable_by("no-such-user-vmclockd-test", {readable});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == vmc::Errc::config);
}

}  // TEST_SUITE("root")

TEST_CASE("drop_privileges when not root changes nothing and says so") {
  auto run = [] {
    const uid_t uid = getuid();
    auto before = vmc::read_proc_capsets();
    std::string note;
    // Another user than the one it runs as: it says it cannot apply it.
    auto st = vmc::drop_privileges("root", &note);
    if (!st) return 30;
    if (note.find("not running as root") == std::string::npos) return 31;
    // The user it already is (systemd's User=): nothing to say.
    if (const passwd* me = getpwuid(uid); me) {
      note = "x";
      if (!vmc::drop_privileges(me->pw_name, &note) || !note.empty()) return 34;
    }
    if (getuid() != uid) return 32;
    auto after = vmc::read_proc_capsets();
    if (!before || !after || before->bnd != after->bnd) return 33;
    return 0;
  };
  if (geteuid() != 0) {
    CHECK(run() == 0);
    return;
  }
  // As root: become nobody by hand first, then ask again.
  passwd* nb = getpwnam("nobody");
  REQUIRE(nb != nullptr);
  const uid_t u = nb->pw_uid;
  const gid_t g = nb->pw_gid;
  int code = in_child([&] {
    if (setgroups(0, nullptr) != 0 || setresgid(g, g, g) != 0 || setresuid(u, u, u) != 0) return 40;
    return run();
  });
  CHECK(code == 0);
}

TEST_CASE("read_proc_capsets parses /proc/self/status") {
  auto caps = vmc::read_proc_capsets();
  REQUIRE(caps.ok());
  auto missing = vmc::read_proc_capsets("/nonexistent/status");
  CHECK_FALSE(missing.ok());
}
