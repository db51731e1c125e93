#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pages vmclockd must not feed to chrony: clock_status UNRELIABLE,
time_type MONOTONIC, maxerror over [sampling] max_error_ns. For each, the
test plays chronyd itself: it binds the SOCK refclock path (a datagram
socket) and reads the SHM segment vmclockd created. Nothing may arrive on
the socket, the segment's valid stays 0 and its count does not move, and
`vmclockctl status --json` says state "no-data" with a reason naming why.
A good page in the same setup is the control: samples do arrive.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (Cleanup, ShmSegment, Sim, SockCatcher, TempDir, Vmclockd,  # noqa: E402
                            parse_sock_sample, remove_shm, shm_unit, wait_for)

LISTEN_S = 3.0
SOCK_MAGIC = 0x534F434B


class DaemonRefuse(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def setup_case(self, tag, sim_args, k):
        d = TempDir(f"drefuse-{tag}")
        self.c.add(d.cleanup)
        sim = Sim(d.join("page"), sim_args)
        self.c.add(sim.stop)
        unit = shm_unit(k)
        remove_shm(unit)
        self.c.add(lambda: remove_shm(unit))
        catcher = SockCatcher(d.join("vmc.sock"))
        self.c.add(catcher.close)
        vmc = Vmclockd(d.path, sim.page, {"chrony": {"sock": catcher.path, "shm_unit": unit}})
        self.c.add(vmc.stop)
        vmc.start()
        seg = ShmSegment(unit)
        self.c.add(seg.detach)
        wait_for(lambda: seg.read(), 5, what="vmclockd to create the SHM segment")
        return vmc, catcher, seg

    def refused(self, tag, sim_args, word, k):
        vmc, catcher, seg = self.setup_case(tag, sim_args, k)
        wait_for(lambda: (s := vmc.status()) and s["state"] != "starting" and s, 5, what="a state")
        before = seg.read()
        got = catcher.collect(LISTEN_S)
        after = seg.read()
        rc, st = vmc.ctl_status()
        print(f"{tag}: {len(got)} datagrams in {LISTEN_S:.0f} s; SHM count {before['count']} -> {after['count']}, "
              f"valid {after['valid']}; vmclockctl status --json (rc {rc}): state {st.get('state')!r}, "
              f"reason {st.get('reason')!r}, samples_sent {st.get('samples_sent')}, "
              f"samples_refused {st.get('samples_refused')}", flush=True)
        self.assertEqual(got, [], f"{tag}: chrony's SOCK path got samples")
        self.assertEqual((before["valid"], after["valid"]), (0, 0), f"{tag}: SHM segment marked valid")
        self.assertEqual(after["count"], before["count"], f"{tag}: SHM segment written")
        self.assertEqual(st.get("state"), "no-data", st)
        self.assertIn(word, (st.get("reason") or "").lower(), st)
        self.assertEqual(st.get("samples_sent"), 0, st)
        self.assertGreater(st.get("samples_refused"), 0, st)
        self.assertTrue(vmc.alive())

    def test_unreliable(self):
        self.refused("unreliable", ["--status", "unreliable"], "unreliable", 1)

    def test_monotonic(self):
        self.refused("monotonic", ["--time-type", "monotonic"], "monotonic", 2)

    def test_maxerror(self):
        # The default limit is 100000 ns; the page says 200 us.
        self.refused("maxerror", ["--maxerror-ns", 200_000], "maxerror", 3)

    def test_control_good_page_is_fed(self):
        vmc, catcher, seg = self.setup_case("good", ["--offset-ns", 37_500], 4)
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 5, what="state synced")
        before = seg.read()
        got = catcher.collect(LISTEN_S)
        after = seg.read()
        samples = [parse_sock_sample(b) for b in got]
        rc, st = vmc.ctl_status()
        print(f"good: {len(got)} datagrams in {LISTEN_S:.0f} s (offsets "
              f"{sorted(round(s['offset'] * 1e6, 3) for s in samples)[:3]}... us); SHM count {before['count']} -> "
              f"{after['count']}, valid {after['valid']}; state {st.get('state')!r}", flush=True)
        self.assertGreaterEqual(len(got), int(LISTEN_S * 4) - 2)
        self.assertTrue(all(s and s["magic"] == SOCK_MAGIC and abs(s["offset"] - 37.5e-6) < 1e-6 for s in samples))
        self.assertGreater(after["count"], before["count"])
        self.assertEqual(after["valid"], 1)
        self.assertEqual(st.get("state"), "synced")


if __name__ == "__main__":
    unittest.main(verbosity=2)
