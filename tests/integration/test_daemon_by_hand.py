#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclockd run by hand (issue 14 item 3): as root, with only the keys the
README documents, on a host without the package (no /run/vmclockd: /run
is an empty tmpfs in a mount namespace of its own).

1. The missing runtime directories are made (one line each, the package's
   modes: /run/vmclockd 0755, the client sockets' 0750 with chrony's group
   when the host has one), and the daemon feeds the SOCK socket.
2. Privileges: when the user could not open the page and the configuration
   again, the drop is skipped with one line and the daemon feeds samples
   as root; when it could, the daemon drops to it and goes on writing its
   status (in the directories it was given) and feeding samples.
3. A client socket directory that cannot be made, and so a socket that
   cannot be bound, exits 71 (an OS error), never 66, which vmclockd(8)
   keeps for a configuration file it cannot open.

Needs root (a mount namespace, another user); skipped (77) otherwise.
"""
import grp
import json
import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (Cleanup, Sim, SockCatcher, TempDir, parse_sock_sample, stop_proc,  # noqa: E402
                            toml_text, vmc_bin, wait_for)

SKIP = int(os.environ.get("VMC_SKIP_CODE", "77"))
USER = "nobody"  # on every system; the README's key, another user than the package's
OS_ERROR = 71


def chrony_gid():
    for n in ("_chrony", "chrony"):
        try:
            return grp.getgrnam(n).gr_gid
        except KeyError:
            pass
    return None


def read_text(path):
    with open(path) as f:
        return f.read()


class ByHand(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def start(self, dir_mode, extra=None):
        d = TempDir("byhand")
        self.c.add(d.cleanup)
        os.chmod(d.path, dir_mode)
        sim = Sim(d.join("page"))
        self.c.add(sim.stop)
        catcher = SockCatcher(d.join("refclock.sock"))
        self.c.add(catcher.close)
        os.chmod(catcher.path, 0o666)
        # Only the README's keys; every other option at its default
        # (chrony.client_dir = /run/vmclockd/sockets among them).
        cfg = {"source": {"page": d.join("page")},
               "chrony": {"sock": catcher.path, "command_socket": "/run/chrony/chronyd.sock"},
               "daemon": {"status_file": "/run/vmclockd/status.json", "user": USER},
               "bound": {"segment": "/run/vmclockd/bound"}}
        for sec, kv in (extra or {}).items():
            cfg.setdefault(sec, {}).update(kv)
        conf = d.join("vmclockd.toml")
        with open(conf, "w") as f:
            f.write(toml_text(cfg))
        os.chmod(conf, 0o644)
        log = d.join("log")
        with open(log, "w") as lf:
            proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                 'mount -t tmpfs -o mode=0755 vmc-byhand /run && exec "$0" "$@"', vmc_bin("vmclockd"),
                 "--config", conf], stdout=lf, stderr=subprocess.STDOUT)
        self.c.add(lambda: stop_proc(proc))
        run = f"/proc/{proc.pid}/root/run"
        return proc, catcher, run, lambda: read_text(log)

    def samples(self, catcher, proc, log):
        got = [s for s in map(parse_sock_sample, catcher.collect(2.0)) if s]
        self.assertIsNone(proc.poll(), log())
        self.assertGreaterEqual(len(got), 4, log())
        return got

    def status(self, run):
        try:
            with open(f"{run}/vmclockd/status.json") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def check_made_dirs(self, run, log):
        wait_for(lambda: self.status(run), 10, what="the status file in the namespace's /run/vmclockd")
        top = os.stat(f"{run}/vmclockd")
        socks = os.stat(f"{run}/vmclockd/sockets")
        gid = chrony_gid()
        print(f"  /run/vmclockd {stat.S_IMODE(top.st_mode):04o}, sockets {stat.S_IMODE(socks.st_mode):04o} "
              f"gid {socks.st_gid}", flush=True)
        self.assertEqual(stat.S_IMODE(top.st_mode), 0o755)
        if gid is None:
            self.assertEqual(stat.S_IMODE(socks.st_mode), 0o755)
        else:
            self.assertEqual((stat.S_IMODE(socks.st_mode), socks.st_gid), (0o750, gid))
        made = [l for l in log().splitlines() if "did not exist: created it" in l]
        self.assertEqual(len(made), 2, log())

    def test_unreadable_page_keeps_root_and_feeds_sock(self):
        proc, catcher, run, log = self.start(0o700)
        self.samples(catcher, proc, log)
        self.check_made_dirs(run, log)
        skipped = [l for l in log().splitlines() if f"not switching to user '{USER}'" in l]
        print(f"  {skipped}", flush=True)
        self.assertEqual(len(skipped), 1, log())
        self.assertNotIn("dropped privileges", log())

    def test_readable_page_drops_and_goes_on(self):
        proc, catcher, run, log = self.start(0o755)
        wait_for(lambda: "dropped privileges" in log() or proc.poll() is not None, 10, what="the drop")
        self.assertIn(f"now user '{USER}'", log())
        self.check_made_dirs(run, log)
        first = self.status(run)["updated_unix_ns"]
        got = self.samples(catcher, proc, log)
        # After the drop: still written (its directory was given to the user).
        wait_for(lambda: (s := self.status(run)) and s["updated_unix_ns"] > first, 5, what="a later status")
        self.assertEqual(self.status(run)["state"], "synced", self.status(run))
        print(f"  {len(got)} SOCK samples after the drop", flush=True)

    def test_a_socket_that_cannot_be_bound_is_an_os_error(self):
        d = TempDir("byhand-bad")
        self.c.add(d.cleanup)
        blocker = d.join("file")
        open(blocker, "w").close()
        proc, _, _, log = self.start(0o755, {"chrony": {"client_dir": blocker + "/sub"}})
        rc = proc.wait(timeout=10)
        print(f"  exit {rc}: {log().strip().splitlines()[-1]}", flush=True)
        self.assertEqual(rc, OS_ERROR, log())
        # Said once when it could not be made, then by the bind that needs it.
        self.assertEqual(len([l for l in log().splitlines() if "runtime:" in l and blocker in l]), 1, log())
        self.assertRegex(log(), r"bind .*/file/sub/")

if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (a mount namespace, another user)")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
