#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An honest `vmclockctl status` (issue 14 item 2).

A status file speaks for a daemon only while that daemon runs and rewrites
it. After a clean stop the file's last state is `stopped`; after SIGKILL
the pid is gone ("not running (last seen ...)"); under SIGSTOP the file
ages ("stale (last written N s ago)"). Each exits 69, in the human output
and with --json; a running daemon exits 0, again after SIGCONT.
"""
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Cleanup, Sim, TempDir, Vmclockd, vmc_bin, wait_for  # noqa: E402

UNAVAILABLE = 69


def ctl_human(vmc):
    r = subprocess.run([vmc_bin("vmclockctl"), "status", "--status-file", vmc.status_file],
                       capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout.splitlines()[0] if r.stdout else r.stderr


class StatusLiveness(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()
        d = TempDir("liveness")
        self.c.add(d.cleanup)
        self.d = d
        sim = Sim(d.join("page"))
        self.c.add(sim.stop)
        self.page = d.join("page")

    def tearDown(self):
        self.c.run()

    def running(self, tag):
        vmc = Vmclockd(self.d.path, self.page, tag=tag)
        self.c.add(vmc.stop)
        vmc.start()
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 10, what="state synced")
        rc, j = vmc.ctl_status()
        self.assertEqual(rc, 0, j)
        self.assertEqual((j["live"], j["liveness"], j["not_live"]), (True, "running", None), j)
        rc, line = ctl_human(vmc)
        self.assertEqual((rc, line.split()), (0, ["state", "synced"]))
        return vmc

    def assert_not_live(self, vmc, liveness, words):
        rc, j = vmc.ctl_status()
        print(f"  {liveness}: --json exit {rc}, not_live {j.get('not_live')!r}", flush=True)
        self.assertEqual(rc, UNAVAILABLE, j)
        self.assertEqual((j["live"], j["liveness"]), (False, liveness), j)
        self.assertIn(words, j["not_live"], j)
        rc, line = ctl_human(vmc)
        print(f"  {liveness}: human exit {rc}: {line}", flush=True)
        self.assertEqual(rc, UNAVAILABLE, line)
        self.assertIn(words, line)
        return j

    def test_clean_stop_says_stopped(self):
        vmc = self.running("clean")
        vmc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(vmc.proc.wait(timeout=10), 0, vmc.log())
        self.assertEqual(vmc.status()["state"], "stopped", vmc.status())
        j = self.assert_not_live(vmc, "stopped", "stopped")
        self.assertEqual(j["state"], "stopped", j)

    def test_sigkill_says_not_running_and_when_last_seen(self):
        vmc = self.running("kill")
        vmc.proc.kill()
        vmc.proc.wait(timeout=10)
        last = vmc.status()
        self.assertEqual(last["state"], "synced", last)
        self.assert_not_live(vmc, "not-running", f"not running (last seen {last['updated']})")

    def test_sigstop_says_stale_then_running_again(self):
        vmc = self.running("stop")
        vmc.proc.send_signal(signal.SIGSTOP)
        self.c.add(lambda: vmc.proc.send_signal(signal.SIGCONT))
        wait_for(lambda: vmc.ctl_status()[0] == UNAVAILABLE, 10, what="the status to go stale")
        self.assert_not_live(vmc, "stale", "stale (last written ")
        vmc.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: vmc.ctl_status()[0] == 0, 5, what="a fresh status after SIGCONT")
        self.assertEqual(ctl_human(vmc)[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
