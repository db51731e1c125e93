// SPDX-License-Identifier: Apache-2.0
#include "privdrop.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace vmc {
namespace {

Error os_error(const std::string& step, int err) {
  return make_error(Errc::os, fmt::format("drop_privileges: {} failed: {} (errno {})", step,
                                          std::strerror(err), err));
}

Error leftover(const std::string& what) {
  return make_error(Errc::os, fmt::format("drop_privileges: verification failed: {}", what));
}

struct CapFree {
  void operator()(void* p) const { cap_free(p); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

struct Account {
  std::string name;
  uid_t uid;
  gid_t gid;
};

Result<Account> lookup(const std::string& user) {
  long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(sz > 0 ? static_cast<size_t>(sz) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc;
  while ((rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE)
    buf.resize(buf.size() * 2);
  if (rc != 0) return os_error(fmt::format("getpwnam_r(\"{}\")", user), rc);
  if (!found)
    return make_error(Errc::config,
                      fmt::format("drop_privileges: user '{}' does not exist (the package creates "
                                  "it with systemd-sysusers; or set [daemon] user)",
                                  user));
  if (pw.pw_uid == 0 || pw.pw_gid == 0)
    return make_error(Errc::config,
                      fmt::format("drop_privileges: user '{}' has uid {} gid {}: refusing to run "
                                  "as root, name an unprivileged user",
                                  user, pw.pw_uid, pw.pw_gid));
  return Account{pw.pw_name, pw.pw_uid, pw.pw_gid};
}

}  // namespace

Status hand_over(const std::string& user, const std::vector<std::string>& paths) {
  if (::geteuid() != 0 || paths.empty()) return Ok{};
  auto a = lookup(user);
  if (!a) return a.error();
  for (const auto& p : paths) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || ::fchown(fd, a->uid, a->gid) != 0) {
      const int e = errno;
      if (fd >= 0) ::close(fd);
      return make_error(Errc::os, fmt::format("{}: cannot give it to {} (uid {}): {}", p, user, a->uid,
                                              std::strerror(e)));
    }
    ::close(fd);
  }
  return Ok{};
}

Result<std::vector<std::string>> unreadable_by(const std::string& user, const std::vector<std::string>& paths) {
  std::vector<std::string> bad;
  if (::geteuid() != 0 || paths.empty()) return bad;
  auto a = lookup(user);
  if (!a) return a.error();
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  while (getgrouplist(a->name.c_str(), a->gid, groups.data(), &n) < 0) groups.resize(static_cast<size_t>(n));
  groups.resize(static_cast<size_t>(n));
  std::vector<std::string> dirs;
  for (const auto& p : paths) {
    const auto slash = p.rfind('/');
    dirs.push_back(slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash));
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return os_error("pipe2", errno);
  const pid_t child = ::fork();
  if (child < 0) {
    const int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return os_error("fork", e);
  }
  if (child == 0) {
    // Only async-signal-safe calls from here on: one byte per path.
    ::close(fds[0]);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(a->gid, a->gid, a->gid) != 0 ||
        ::setresuid(a->uid, a->uid, a->uid) != 0)
      ::_exit(1);
    for (size_t i = 0; i < paths.size(); ++i) {
      const int fd = ::open(paths[i].c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      const bool ok = fd >= 0 || (errno == ENOENT && ::access(dirs[i].c_str(), X_OK) == 0);
      if (fd >= 0) ::close(fd);
      const char c = ok ? 'y' : 'n';
      if (::write(fds[1], &c, 1) != 1) ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string answers;
  char buf[64];
  for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    answers.append(buf, static_cast<size_t>(r));
  }
  ::close(fds[0]);
  int wst = 0;
  while (::waitpid(child, &wst, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0 || answers.size() != paths.size())
    return make_error(Errc::os, fmt::format("drop_privileges: could not try the files as user '{}'", user));
  for (size_t i = 0; i < paths.size(); ++i)
    if (answers[i] != 'y') bad.push_back(paths[i]);
  return bad;
}

namespace {

// Everything that must hold once privileges are gone.
Status verify(const Account& a) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0) return os_error("getresuid", errno);
  if (ru != a.uid || eu != a.uid || su != a.uid)
    return leftover(fmt::format("uids are {}/{}/{}, want {}", ru, eu, su, a.uid));
  if (getresgid(&rg, &eg, &sg) != 0) return os_error("getresgid", errno);
  if (rg != a.gid || eg != a.gid || sg != a.gid)
    return leftover(fmt::format("gids are {}/{}/{}, want {}", rg, eg, sg, a.gid));
  int ngroups = getgroups(0, nullptr);
  if (ngroups < 0) return os_error("getgroups", errno);
  std::vector<gid_t> groups(static_cast<size_t>(ngroups));
  if (getgroups(ngroups, groups.data()) < 0) return os_error("getgroups", errno);
  for (gid_t g : groups)
    if (g == 0) return leftover("supplementary group 0 (root) is still present");

  CapPtr now(cap_get_proc());
  if (!now) return os_error("cap_get_proc", errno);
  const cap_value_t max = cap_max_bits();
  for (cap_value_t c = 0; c < max; ++c) {
    for (cap_flag_t set : {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE}) {
      cap_flag_value_t v = CAP_CLEAR;
      if (cap_get_flag(now.get(), c, set, &v) != 0)
        return os_error(fmt::format("cap_get_flag({})", c), errno);
      if (v != CAP_CLEAR) {
        char* n = cap_to_name(c);
        std::string name = n ? n : std::to_string(c);
        cap_free(n);
        const char* sname = set == CAP_EFFECTIVE ? "effective" : set == CAP_PERMITTED ? "permitted"
                                                                                      : "inheritable";
        return leftover(fmt::format("{} is still in the {} set", name, sname));
      }
    }
    int b = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (b < 0) return os_error(fmt::format("prctl(PR_CAPBSET_READ, {})", c), errno);
    if (b != 0) return leftover(fmt::format("capability {} is still in the bounding set", c));
    int am = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
    if (am < 0 && errno != EINVAL)
      return os_error(fmt::format("prctl(PR_CAP_AMBIENT_IS_SET, {})", c), errno);
    if (am > 0) return leftover(fmt::format("capability {} is still in the ambient set", c));
  }
  // The classic test: root must be out of reach.
  if (setuid(0) == 0 || seteuid(0) == 0) return leftover("setuid(0) succeeded");
  return Ok{};
}

}  // namespace

Status drop_privileges(const std::string& user, std::string* note) {
  auto say = [&](const std::string& s) {
    if (note)
      *note = s;
    else
      std::fprintf(stderr, "%s\n", s.c_str());
  };
  if (geteuid() != 0) {
    // Started as that user already (systemd's User=): nothing to say.
    if (auto a = lookup(user); a && a->uid == geteuid() && a->uid == getuid()) {
      if (note) note->clear();
      return Ok{};
    }
    say(fmt::format("not running as root (uid {} euid {}): privileges left as they are, "
                    "user '{}' not applied",
                    getuid(), geteuid(), user));
    return Ok{};
  }
  auto acct = lookup(user);
  if (!acct) return acct.error();
  const Account& a = *acct;

  if (initgroups(a.name.c_str(), a.gid) != 0)
    return os_error(fmt::format("initgroups(\"{}\", {})", a.name, a.gid), errno);
  if (setresgid(a.gid, a.gid, a.gid) != 0)
    return os_error(fmt::format("setresgid({})", a.gid), errno);

  // Needs CAP_SETPCAP, so before setuid.
  const cap_value_t max = cap_max_bits();
  for (cap_value_t c = 0; c < max; ++c) {
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0 && cap_drop_bound(c) != 0)
      return os_error(fmt::format("cap_drop_bound({})", c), errno);
  }
  if (cap_reset_ambient() != 0 && errno != EINVAL) return os_error("cap_reset_ambient", errno);
  // Root (uid 0 or a setuid-root binary) can never bring capabilities back,
  // and nothing can be raised into the ambient set. Not SECBIT_NO_SETUID_FIXUP:
  // the fixup is what empties the permitted set at setuid below.
  const unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                        SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  if (cap_set_secbits(bits) != 0) return os_error("cap_set_secbits", errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return os_error("prctl(PR_SET_NO_NEW_PRIVS)", errno);

  if (setresuid(a.uid, a.uid, a.uid) != 0)
    return os_error(fmt::format("setresuid({})", a.uid), errno);

  CapPtr empty(cap_init());
  if (!empty) return os_error("cap_init", errno);
  if (cap_clear(empty.get()) != 0) return os_error("cap_clear", errno);
  if (cap_set_proc(empty.get()) != 0) return os_error("cap_set_proc(empty)", errno);

  if (auto v = verify(a); !v) return v;
  say(fmt::format("dropped privileges: now user '{}' (uid {} gid {}), no capabilities left", a.name,
                  a.uid, a.gid));
  return Ok{};
}

Result<CapSets> read_proc_capsets(const std::string& status_path) {
  std::ifstream in(status_path);
  if (!in)
    return make_error(Errc::no_input, fmt::format("read_proc_capsets: cannot open {}", status_path));
  CapSets s;
  int seen = 0;
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    unsigned long long* dst = key == "CapInh"   ? &s.inh
                              : key == "CapPrm" ? &s.prm
                              : key == "CapEff" ? &s.eff
                              : key == "CapBnd" ? &s.bnd
                              : key == "CapAmb" ? &s.amb
                                                : nullptr;
    if (!dst) continue;
    std::istringstream v(line.substr(colon + 1));
    v >> std::hex >> *dst;
    if (!v)
      return make_error(Errc::data, fmt::format("read_proc_capsets: bad line '{}' in {}", line,
                                                status_path));
    ++seen;
  }
  if (seen < 4)  // CapAmb is missing on kernels before 4.3
    return make_error(Errc::data,
                      fmt::format("read_proc_capsets: no Cap* lines in {}", status_path));
  return s;
}

}  // namespace vmc
