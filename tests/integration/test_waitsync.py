#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclockctl waitsync against a simulated page: 0 once libvmclock's answer
is SYNCHRONIZED (not before), 75 on a timeout, and a disruption while it
waits does not end the wait. The daemon's segment is absent at first and
appears later: waited for, not an error."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import TempDir, Vmclockd, stop_proc, vmc_bin, wait_for  # noqa: E402


def sim(d, status, scenario=None):
    page, log = d.join("page"), d.join("sim.jsonl")
    args = [vmc_bin("vmclock-sim"), "--page", page, "--json", "--status", status]
    if scenario:
        with open(d.join("scenario.toml"), "w") as f:
            f.write(scenario)
        args += ["--scenario", d.join("scenario.toml")]
    with open(log, "w") as out:
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def ready():
        with open(log) as f:
            return '"event":"ready"' in f.read()
    wait_for(ready, 15, what="vmclock-sim ready")
    return p, page


def waitsync(page, segment, *args):
    return subprocess.Popen([vmc_bin("vmclockctl"), "--page", page, "waitsync", "--segment", segment, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class WaitSync(unittest.TestCase):
    def test_returns_once_synchronized_through_a_disruption(self):
        # FREERUNNING (not yet synchronized), a migration at 2 s, then
        # SYNCHRONIZED at 4 s: it must return then, not before.
        d = TempDir("waitsync")
        procs, daemon = [], None
        try:
            s, page = sim(d, "freerunning", """
[[event]]
type = "migration"
at = 2.0

[[event]]
type = "status"
at = 4.0
status = "synchronized"
""")
            procs.append(s)
            t0 = time.monotonic()
            seg = d.join("vmclockd.bound")
            w = waitsync(page, seg, "--timeout", "30", "--json")
            procs.append(w)
            time.sleep(1.0)
            self.assertIsNone(w.poll(), "returned while the page was FREERUNNING")
            daemon = Vmclockd(d.path, page).start()  # the segment appears while it waits
            out, err = w.communicate(timeout=40)
            waited = time.monotonic() - t0
            print(f"waitsync: rc {w.returncode} after {waited:.1f} s: {out.strip()}", flush=True)
            self.assertEqual(w.returncode, 0, err)
            r = json.loads(out)
            self.assertTrue(r["synchronized"])
            self.assertEqual(r["status"], "synchronized")
            self.assertGreater(waited, 3.5, "returned before the page said SYNCHRONIZED")
            self.assertLess(waited, 10)
        finally:
            for p in procs:
                stop_proc(p)
            if daemon:
                daemon.stop()
            d.cleanup()

    def test_times_out_with_75(self):
        d = TempDir("waitsync-timeout")
        procs = []
        try:
            s, page = sim(d, "unreliable")
            procs.append(s)
            t0 = time.monotonic()
            w = waitsync(page, d.join("absent"), "--timeout", "6")
            procs.append(w)
            out, err = w.communicate(timeout=30)
            waited = time.monotonic() - t0
            print(f"waitsync: rc {w.returncode} after {waited:.1f} s; stderr:\n{err}", flush=True)
            self.assertEqual(w.returncode, 75)
            self.assertGreaterEqual(waited, 6.0)
            self.assertIn("timed out", err)
            # A person sees progress while it waits (every 5 s).
            self.assertIn("vmclockctl waitsync: 5 s: unknown", err)
        finally:
            for p in procs:
                stop_proc(p)
            d.cleanup()

    def test_a_bound_wider_than_max_bound_is_not_enough(self):
        d = TempDir("waitsync-wide")
        procs = []
        try:
            s, page = sim(d, "synchronized")
            procs.append(s)
            w = waitsync(page, "", "--timeout", "1.5", "--max-bound", "10", "--json")
            procs.append(w)
            out, _ = w.communicate(timeout=30)
            r = json.loads(out)
            self.assertEqual(w.returncode, 75)
            self.assertEqual(r["status"], "synchronized")
            self.assertIn("wider than --max-bound", r["why"])
            w = waitsync(page, "", "--timeout", "5", "--json")
            procs.append(w)
            out, err = w.communicate(timeout=30)
            self.assertEqual(w.returncode, 0, err)
        finally:
            for p in procs:
                stop_proc(p)
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
