// SPDX-License-Identifier: Apache-2.0
#pragma once
// Giving up root for good: vmclockd opens the vmclock device and attaches
// chrony's SHM segment as root (when it is started as root at all), then
// becomes an unprivileged user with no capabilities left anywhere.
//
// Under systemd the unit already starts the daemon as User=vmclockd with an
// empty CapabilityBoundingSet, and this is a no-op that says so.
#include <string>
#include <vector>

#include "result.h"

namespace vmc {

// If the effective uid is 0: initgroups, setresgid, drop every capability
// from the bounding and ambient sets, lock the securebits that would let
// root regain them (NOROOT, NO_CAP_AMBIENT_RAISE), set no_new_privs,
// setresuid to `user`, clear the effective, permitted and inheritable sets,
// then verify: uids and gids read back, cap_get_proc() empty, every
// capability absent from PR_CAPBSET_READ and PR_CAP_AMBIENT, setuid(0)
// refused. Any step that fails, or anything that remains, is an Errc::os
// error naming the step and errno (an unknown user is Errc::config; `user`
// resolving to uid 0 is Errc::config too).
//
// If not root: nothing is changed, and the note says so.
//
// The note (one line, no trailing newline) says what was done; when `note`
// is null it is written to stderr instead.
Status drop_privileges(const std::string& user, std::string* note = nullptr);

// Files made as root before the drop that `user` goes on writing (the
// bound segment): given to that user and its group, so that this run and
// a later start as `user` (the unit's User=) can still write them. No-op
// when not root. A symlink is never followed.
Status hand_over(const std::string& user, const std::vector<std::string>& paths);

// The paths among `paths` that `user` could not open for reading, or, for
// one that does not exist yet, whose directory it could not search: what
// the daemon would fail to open again after the drop (the page when it is
// replaced, the configuration on a reload). Tried for real, in a child that
// becomes `user`; when not root, nothing is tried and nothing returned.
Result<std::vector<std::string>> unreadable_by(const std::string& user, const std::vector<std::string>& paths);

// The capability sets of the calling thread as the kernel reports them in
// /proc/self/status (CapInh, CapPrm, CapEff, CapBnd, CapAmb), for checks.
struct CapSets {
  unsigned long long inh = 0, prm = 0, eff = 0, bnd = 0, amb = 0;
};
Result<CapSets> read_proc_capsets(const std::string& status_path = "/proc/self/status");

}  // namespace vmc
