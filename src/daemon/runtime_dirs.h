// SPDX-License-Identifier: Apache-2.0
#pragma once
// The directories vmclockd writes in (its status file's, the bound
// segment's, the command client sockets'): the package's tmpfiles.d makes
// them; a run by hand makes the missing ones itself, with the modes the
// package gives them, so that a host without the package does not fail
// at the first bind.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "result.h"

namespace vmc {

struct RuntimeDir {
  std::string path;
  unsigned mode = 0755;
  // For the client sockets' directory: chrony's group, so that chronyd
  // (and nobody else) can reach the sockets vmclockd binds there.
  std::optional<gid_t> group;
  bool operator==(const RuntimeDir&) const = default;
};

// What `cfg` writes in, each directory once, in a fixed order; `chrony_gid`
// is chrony's group when the host has one (chrony_group()).
std::vector<RuntimeDir> runtime_dirs(const Config& cfg, std::optional<gid_t> chrony_gid);
// The gid of "_chrony" (Debian) or "chrony" (Fedora, RHEL), if either exists.
std::optional<gid_t> chrony_group();
// Creates each missing directory and its missing parents (0755, root's),
// logging one line each; never follows a symlink at a name it made.
// Returns what it created, parents first. Errc::os naming the path.
Result<std::vector<std::string>> make_missing_dirs(const std::vector<RuntimeDir>& dirs);
// Gives directories made as root to `user` (its uid only: the group
// chosen above stays), so that it can write in them after the privilege
// drop. Errc::config for an unknown user, Errc::os otherwise.
Status give_dirs_to(const std::string& user, const std::vector<std::string>& dirs);

}  // namespace vmc
