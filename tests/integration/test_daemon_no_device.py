#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""No page is a stated, supported condition (issue 12 item 5).

1. vmclockd on a /dev/vmclock* path that does not exist keeps running and
   says once, in one log line, in its status (page.missing) and through
   `vmclockctl status` (human and --json) what /sys shows: a vmclock device
   without a driver, or none from the hypervisor (the fake-tree cases are
   the unit test device_presence_test). `vmclockctl dump` on the same path
   prints the same explanation after its open error.
2. vmclockd on a page file that does not exist yet says only the open
   error, and picks the page up without a restart when vmclock-sim creates
   it: a disruption-only page (the daemon then tracks the marker: a
   migration is seen) and a page with time (the daemon gets synced).
"""
import glob
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Cleanup, Sim, TempDir, Vmclockd, vmc_bin, wait_for  # noqa: E402

ABSENT = "/dev/vmclock-test-absent"
DEVICE_KINDS = {"no-driver", "driver-not-bound", "no-misc-device", "no-device"}
# Sample ticks (250 ms) the daemon runs through while the page is missing:
# the open is retried on each, the line must not be repeated.
QUIET_S = 1.5


def ctl(*args):
    r = subprocess.run([vmc_bin("vmclockctl"), *args], capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout, r.stderr


def count_lines(log, pattern):
    return len([l for l in log.splitlines() if re.search(pattern, l)])


class DaemonNoDevice(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def daemon(self, tag, page=None):
        """vmclockd on `page`, by default `page` in its own directory (absent)."""
        d = TempDir(f"dnodev-{tag}")
        self.c.add(d.cleanup)
        vmc = Vmclockd(d.path, page or d.join("page"))
        self.c.add(vmc.stop)
        vmc.start()
        wait_for(lambda: (s := vmc.status()) and s["state"] != "starting" and s, 5, what="a state")
        # The open is retried on every sample tick meanwhile: one line, still.
        time.sleep(QUIET_S)
        return vmc, vmc.status()

    def test_absent_device_says_why_from_sys(self):
        self.assertFalse(os.path.exists(ABSENT), f"{ABSENT} exists here")
        vmc, st = self.daemon("dev", ABSENT)
        m = st["page"]["missing"]
        print(f"status on this machine: state {st['state']!r}, reason {st['reason']!r}, page.missing {m}", flush=True)
        self.assertEqual((st["state"], st["page"]["kind"]), ("no-data", "closed"), st)
        self.assertIsNotNone(m, st)
        if os.path.isdir("/sys/bus/platform/devices"):
            self.assertIn(m["reason"], DEVICE_KINDS, m)
            offered = glob.glob("/sys/bus/acpi/devices/AMZNC10C:*") + glob.glob("/sys/bus/platform/devices/AMZNC10C:*")
            self.assertEqual(m["reason"] == "no-device", not offered, (m, offered))
            self.assertTrue(m["sysfs"], m)
        else:
            self.assertEqual((m["reason"], m["sysfs"]), ("cannot-open", None), m)

        line = (rf"page: {re.escape(ABSENT)}: cannot open: No such file or directory"
                + (rf": {re.escape(m['detail'])} \[{re.escape(m['sysfs'])}\]" if m["sysfs"] else "")
                + "; waiting for it")
        self.assertEqual(count_lines(vmc.log(), line), 1, f"one line /{line}/ in:\n{vmc.log()}")
        self.assertEqual(count_lines(vmc.log(), r"page: .*waiting for it"), 1, vmc.log())

        rc, out, err = ctl("status", "--status-file", vmc.status_file)
        print("vmclockctl status:\n" + out, flush=True)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"page         {ABSENT} (closed)", out)
        if m["sysfs"]:
            self.assertIn(f"missing      {m['reason']}: {m['detail']}\n", out)
            self.assertIn(f"sysfs        {m['sysfs']}\n", out)
        rc, js = vmc.ctl_status()
        self.assertEqual(rc, 0, js)
        self.assertEqual(js["page"]["missing"], m, js)

        rc, out, err = ctl("--page", ABSENT, "dump")
        print(f"vmclockctl dump: rc {rc}: {err.strip()}", flush=True)
        self.assertEqual(rc, 66, err)
        self.assertIn(f"{ABSENT}: cannot open: No such file or directory", err)
        self.assertIn(m["detail"], err)
        self.assertTrue(vmc.alive())

    def picked_up(self, tag, sim_args):
        """A daemon waiting for a page file; vmclock-sim then creates it."""
        vmc, st = self.daemon(tag)
        page = vmc.sections["source"]["page"]
        m = st["page"]["missing"]
        self.assertEqual((st["state"], st["page"]["kind"]), ("no-data", "closed"), st)
        self.assertEqual(m, {"reason": "cannot-open", "detail": f"{page}: cannot open: No such file or directory",
                             "sysfs": None}, st)
        self.assertEqual(st["reason"], m["detail"], st)
        rc, out, _ = ctl("status", "--status-file", vmc.status_file)
        self.assertNotIn("missing ", out)  # a page file: the reason line says it all
        self.assertEqual(count_lines(vmc.log(), rf"page: {re.escape(page)}: cannot open: No such file or directory; "
                                                r"waiting for it$"), 1, vmc.log())
        pid = vmc.proc.pid

        sim = Sim(page, sim_args)
        self.c.add(sim.stop)
        st = wait_for(lambda: (s := vmc.status()) and s["page"]["kind"] == "file" and s, 5,
                      what="vmclockd to open the page")
        print(f"{tag}: picked up: state {st['state']!r}, reason {st['reason']!r}, page {st['page']}", flush=True)
        self.assertIsNone(st["page"]["missing"], st)
        self.assertEqual(st["pid"], pid)
        vmc.wait_log(rf"page: {re.escape(page)} is back", 2)
        return vmc, sim

    def test_disruption_only_page_appears(self):
        vmc, sim = self.picked_up("fc", ["--disruption-only"])
        st = wait_for(lambda: (s := vmc.status()) and s["page"]["disruption_marker"] == 0 and s, 5, what="marker 0")
        self.assertEqual(st["state"], "watching", st)  # a disruption-only page: the marker watched
        self.assertIn("disruption-only", st["reason"], st)
        sim.migrate()
        st = wait_for(lambda: (s := vmc.status()) and s["disruptions_seen"] == 1 and s, 5,
                      what="the migration after the pickup")
        self.assertEqual(st["page"]["disruption_marker"], 1, st)
        vmc.wait_log(r"disruption: disruption_marker 0 -> 1", 2)
        self.assertTrue(vmc.alive())

    def test_page_with_time_appears(self):
        vmc, _ = self.picked_up("time", [])
        st = wait_for(lambda: (s := vmc.status()) and s["state"] == "synced" and s, 5, what="state synced")
        self.assertIsNone(st["reason"], st)
        self.assertIsNotNone(st["last_sample"], st)
        self.assertTrue(vmc.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
