// SPDX-License-Identifier: Apache-2.0
// Making the runtime directories a run by hand lacks (runtime_dirs.h).
#include "runtime_dirs.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "fd.h"
#include "logging.h"

namespace vmc {
namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

Error os_error(const std::string& what, const std::string& path, int e) {
  return make_error(Errc::os, fmt::format("{}: {}: {}", path, what, std::strerror(e)));
}

}  // namespace

std::vector<RuntimeDir> runtime_dirs(const Config& cfg, std::optional<gid_t> chrony_gid) {
  std::vector<RuntimeDir> out;
  auto add = [&](RuntimeDir d) {
    for (const auto& x : out)
      if (x.path == d.path) return;
    out.push_back(std::move(d));
  };
  if (!cfg.daemon.status_file.empty()) add({parent_of(cfg.daemon.status_file)});
  if (!cfg.bound.segment.empty()) add({parent_of(cfg.bound.segment)});
  const bool ptp4l_replies_there = cfg.ptp4l && cfg.ptp4l->client_address.empty();
  if (!cfg.chrony.command_socket.empty() || ptp4l_replies_there)
    add(chrony_gid ? RuntimeDir{cfg.chrony.client_dir, 0750, chrony_gid} : RuntimeDir{cfg.chrony.client_dir});
  if (cfg.ptp4l && !cfg.ptp4l->client_address.empty()) add({parent_of(cfg.ptp4l->client_address)});
  return out;
}

std::optional<gid_t> chrony_group() {
  for (const char* n : {"_chrony", "chrony"})
    if (const group* g = ::getgrnam(n)) return g->gr_gid;
  return std::nullopt;
}

Result<std::vector<std::string>> make_missing_dirs(const std::vector<RuntimeDir>& dirs) {
  std::vector<std::string> made;
  for (const auto& d : dirs) {
    // The missing ancestors, outermost first.
    std::vector<std::string> missing;
    for (std::string p = d.path; p != "/"; p = parent_of(p)) {
      struct stat st{};
      if (::lstat(p.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return make_error(Errc::os, fmt::format("{}: exists and is not a directory", p));
        break;
      }
      if (errno != ENOENT) return os_error("cannot look at it", p, errno);
      missing.insert(missing.begin(), p);
    }
    for (const auto& p : missing) {
      const bool last = p == d.path;
      const unsigned mode = last ? d.mode : 0755;
      if (::mkdir(p.c_str(), 0700) != 0) return os_error("cannot create it", p, errno);
      // Through the directory itself, never through a name swapped since.
      Fd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return os_error("cannot open what was created", p, errno);
      if (last && d.group && ::fchown(fd.get(), static_cast<uid_t>(-1), *d.group) != 0)
        return os_error(fmt::format("cannot give it to group {}", *d.group), p, errno);
      if (::fchmod(fd.get(), mode) != 0) return os_error("cannot set its mode", p, errno);
      log::notice("runtime", fmt::format("{} did not exist: created it, mode {:04o}{}", p, mode,
                                         last && d.group ? fmt::format(", group {} (chrony's)", *d.group) : ""));
      made.push_back(p);
    }
  }
  return made;
}

Status give_dirs_to(const std::string& user, const std::vector<std::string>& dirs) {
  if (::geteuid() != 0 || dirs.empty()) return Ok{};
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return make_error(Errc::config, fmt::format("user '{}' does not exist", user));
  for (const auto& p : dirs) {
    Fd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd || ::fchown(fd.get(), pw->pw_uid, static_cast<gid_t>(-1)) != 0)
      return os_error(fmt::format("cannot give it to {} (uid {})", user, pw->pw_uid), p, errno);
  }
  return Ok{};
}

}  // namespace vmc
