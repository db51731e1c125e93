#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A 64 KiB page, as on arm64 kernels with 64 KiB pages (the device exists
there only when the page's size is at least 65536): vmclock-sim writes a
65536-byte page file whose size field is 65536, with a positive leap
pending under the NOON_LINEAR smearing hint. `vmclockctl dump` and
`vmclockctl now` must read it, and a throwaway vmclockd must sample it:
samples arrive on the SOCK path (playing chronyd) with the leap flag set
(insert), and the status shows the leap indicator and the hint, which
never refuse a page.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (Cleanup, Sim, SockCatcher, TempDir, Vmclockd, parse_sock_sample,  # noqa: E402
                            vmc_bin, wait_for)

PAGE_BYTES = 65536
SOCK_MAGIC = 0x534F434B
LEAP_INSERT = 1
LISTEN_S = 2.0


def ctl(*args):
    return subprocess.run([vmc_bin("vmclockctl"), *args], capture_output=True, text=True, timeout=10)


def dump_fields(text):
    """`vmclockctl dump`'s lines as {field: raw value}."""
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].split("  (")[0].strip()
    return out


class Page64K(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def test_64k_page_is_read_and_sampled(self):
        d = TempDir("p64k")
        self.c.add(d.cleanup)
        sim = Sim(d.join("page"), ["--size", PAGE_BYTES, "--leap", "pre-pos", "--smearing", "noon-linear"])
        self.c.add(sim.stop)
        self.assertEqual(sim.ready["size"], PAGE_BYTES, sim.ready)
        self.assertEqual(os.path.getsize(sim.page), PAGE_BYTES)

        r = ctl("--page", sim.page, "dump")
        self.assertEqual(r.returncode, 0, r.stderr)
        f = dump_fields(r.stdout)
        self.assertEqual(f.get("size"), str(PAGE_BYTES), r.stdout)
        self.assertEqual(f.get("leap_indicator"), "1", r.stdout)
        self.assertEqual(f.get("leap_second_smearing_hint"), "1", r.stdout)
        self.assertIn("noon_linear", r.stdout)
        self.assertNotIn("larger than", r.stdout + r.stderr)
        print("dump: " + " | ".join(l for l in r.stdout.splitlines()
                                     if l.split(None, 1)[0] in ("size", "leap_indicator",
                                                                "leap_second_smearing_hint", "time")), flush=True)

        r = ctl("--page", sim.page, "now")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        print("now: " + r.stdout.strip().replace("\n", " | "), flush=True)

        catcher = SockCatcher(d.join("vmc.sock"))
        self.c.add(catcher.close)
        vmc = Vmclockd(d.path, sim.page, {"chrony": {"sock": catcher.path}})
        self.c.add(vmc.stop)
        vmc.start()
        st = wait_for(lambda: (s := vmc.status()) and s["state"] == "synced" and s, 5, what="state synced")
        got = [parse_sock_sample(b) for b in catcher.collect(LISTEN_S)]
        self.assertGreaterEqual(len(got), int(LISTEN_S * 4) - 2)
        self.assertTrue(all(s and s["magic"] == SOCK_MAGIC for s in got), got)
        self.assertEqual({s["leap"] for s in got}, {LEAP_INSERT}, got)
        st = vmc.status()
        self.assertEqual(st["page"]["leap_indicator"], "pre_pos", st["page"])
        self.assertEqual(st["page"]["smearing_hint"], "noon_linear", st["page"])
        self.assertEqual(st["last_sample"]["leap"], LEAP_INSERT, st["last_sample"])
        self.assertGreater(st["samples_sent"], 0, st)
        r = ctl("status", "--status-file", vmc.status_file)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("leap         pre_pos, smearing hint noon_linear", r.stdout)
        print(f"vmclockd: state {st['state']!r}, {len(got)} SOCK samples in {LISTEN_S:.0f} s, leap flags "
              f"{sorted({s['leap'] for s in got})}, status page {st['page']}", flush=True)
        self.assertTrue(vmc.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
