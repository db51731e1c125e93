# SPDX-License-Identifier: Apache-2.0
"""vmc-chrony-cmd tracking (REQ_TRACKING) against the real chronyd 4.3.

Each test runs its own unprivileged `chronyd -U -x -d` and compares what
`vmc-chrony-cmd --csv tracking` printed with `chronyc -c tracking` taken
just before and just after it: character for character where chronyc's
two lines agree, between them where a number moved on its own.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chrony_helpers import Chronyd, Feeder, remove_shm, shm_unit, snippet_refclock, vmc_bin, wait_for  # noqa: E402

OFFSET_US = 12.3


def tool(c, *args, timeout=10):
    r = subprocess.run([vmc_bin("vmc-chrony-cmd"), "--socket", c.sock, "--dir", c.dir, *args],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


class ChronyTracking(unittest.TestCase):
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for f in reversed(self.cleanups):
            f()

    def chronyd(self, lines, tag):
        c = Chronyd(lines, tag=tag)
        self.cleanups.append(c.cleanup)
        return c.start()

    def same_as_chronyc(self, c, tries=40):
        """Our --csv fields, checked against chronyc's lines around them.

        Kept once no clock update came between (same reference, stratum,
        ref time, leap): then each field must be chronyc's where its two
        lines agree, and between them where a number moved on its own (the
        root dispersion grows between updates, the correction slews)."""
        for _ in range(tries):
            before = c.chronyc("-c", "tracking").strip().split(",")
            rc, out, err = tool(c, "--csv", "tracking")
            after = c.chronyc("-c", "tracking").strip().split(",")
            self.assertEqual(rc, 0, err)
            if len(before) != 14 or len(after) != 14 or any(before[i] != after[i] for i in (0, 1, 2, 3, 13)):
                time.sleep(0.05)
                continue
            ours = out.strip().split(",")
            self.assertEqual(len(ours), 14, out)
            for i, (b, o, a) in enumerate(zip(before, ours, after)):
                if b == a:
                    self.assertEqual(o, b, f"field {i}: ours {out!r}, chronyc {','.join(before)!r}")
                else:
                    lo, hi = sorted((float(b), float(a)))
                    self.assertTrue(lo <= float(o) <= hi, f"field {i}: {o} not within chronyc's {b} .. {a}")
            return ours
        self.fail("a clock update came between chronyc and vmc-chrony-cmd every time")

    def test_unsynchronised(self):
        c = self.chronyd([], "trk-unsync")
        f = self.same_as_chronyc(c)
        self.assertEqual(f[0], "00000000")
        self.assertEqual(f[13], "Not synchronised")

    def test_refclock_selected(self):
        unit = shm_unit()
        remove_shm(unit)
        self.cleanups.append(lambda: remove_shm(unit))
        c = self.chronyd([snippet_refclock("vmclockd-shm.conf", unit)], "trk-shm")
        feed = Feeder(["--shm", str(unit), "--seconds", "40", "--rate", "4", "--offset-us", str(OFFSET_US)])
        self.cleanups.append(feed.close)
        wait_for(lambda: c.selected("VMC"), 20, what="chronyd to select VMC")
        time.sleep(3)  # a few clock updates: offsets, skew and interval non-zero
        f = self.same_as_chronyc(c)
        self.assertEqual(f[0], "564D4300")
        self.assertEqual(f[1], "VMC")
        self.assertEqual(f[2], "1")
        self.assertAlmostEqual(float(f[4]), OFFSET_US * 1e-6, delta=3e-6)

        # The human form: the same reference, the correction's sign spelled out.
        rc, out, err = tool(c, "tracking")
        self.assertEqual(rc, 0, err)
        self.assertIn("Reference ID    : 564D4300 (VMC)\n", out)
        self.assertIn("Address         : [UNSPEC]\n", out)
        line = next(l for l in out.splitlines() if l.startswith("System time"))
        self.assertTrue(line.endswith("seconds (slow of NTP time)"), line)
        self.assertAlmostEqual(float(line.split(":")[1].split()[0]), OFFSET_US * 1e-6, delta=3e-6)

    def test_ntp_source_selected(self):
        # A second chronyd serves `local stratum 5` on 127.0.0.1: the
        # reference then has an address and every number moves.
        port = 11000 + os.getpid() % 20000
        self.chronyd(["local stratum 5", f"port {port}", "bindaddress 127.0.0.1", "allow 127.0.0.1"], "trk-srv")
        c = self.chronyd([f"server 127.0.0.1 port {port} iburst minpoll -2 maxpoll -2"], "trk-ntp")
        wait_for(lambda: c.chronyc("-c", "sources").startswith("^,*"), 30, what="the NTP source selected")
        time.sleep(2)
        f = self.same_as_chronyc(c)
        self.assertEqual(f[0:3], ["7F000001", "127.0.0.1", "6"])
        rc, out, err = tool(c, "tracking")
        self.assertEqual(rc, 0, err)
        self.assertIn("Address         : 127.0.0.1\n", out)

    def test_no_chronyd_is_bounded(self):
        c = self.chronyd([], "trk-gone")
        c.stop()
        t0 = time.monotonic()
        rc, out, err = tool(c, "--tries", "3", "--interval-ms", "20", "tracking")
        self.assertEqual(rc, 75, err)  # Errc::temp_fail
        self.assertIn("TRACKING", err)
        self.assertEqual(out, "")
        self.assertLess(time.monotonic() - t0, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
