#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chronyd killed and restarted under a running vmclockd that feeds both
sinks: the SOCK sink reconnects by itself and chrony selects the source
again ('*' in `chronyc -c sources`); the SHM sink keeps writing the segment
while chronyd is away (its count keeps increasing) and chrony reads it
again after the restart.

One chronyd with both refclock lines of chrony-refclock/vmclockd-*.conf;
the SHM one gets refid VMCM and noselect so that the SOCK one (VMC) is the
one chrony must select.
"""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (ChronyMon, Chronyd, Cleanup, ShmSegment, Sim, TempDir, Vmclockd,  # noqa: E402
                            refclock_line, remove_shm, selected_source, shm_unit, sources, tracking_error,
                            wait_for)

TOL_S = 1e-6
DOWN_S = 3.0


def sink(status, name):
    for s in status["sinks"]:
        if s["name"].startswith(name):
            return s
    raise AssertionError(f"no {name} sink in {status['sinks']}")


def source(ch, name):
    return next((s for s in sources(ch) if s["name"] == name), None)


class DaemonChronyRestart(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def test_restart(self):
        d = TempDir("drestart")
        self.c.add(d.cleanup)
        sim = Sim(d.join("page"), ["--offset-ns", 37_500])
        self.c.add(sim.stop)
        unit = shm_unit()
        remove_shm(unit)
        self.c.add(lambda: remove_shm(unit))
        path = d.join("vmc.sock")
        shm_line = refclock_line("shm", unit).replace("refid VMC", "refid VMCM") + " noselect"
        ch = Chronyd([refclock_line("sock", path), shm_line], tag="restart")
        self.c.add(ch.cleanup)
        ch.start()
        vmc = Vmclockd(d.path, sim.page, {"chrony": {"sock": path, "shm_unit": unit, "command_socket": ch.sock}})
        self.c.add(vmc.stop)
        vmc.start()
        mon = ChronyMon(ch)
        self.c.add(mon.close)
        seg = ShmSegment(unit)
        self.c.add(seg.detach)

        def near():
            _, e = tracking_error(mon, sim.truth_offset_s)
            return e is not None and abs(e) <= TOL_S

        wait_for(lambda: selected_source(ch, "VMC"), 20, what="chrony to select VMC (SOCK)")
        wait_for(lambda: (s := source(ch, "VMCM")) and s["reach"] != 0, 10, what="chrony to read VMCM (SHM)")
        wait_for(near, 10, interval=0.05, what="tracking within 1 us")
        st = vmc.status()
        self.assertTrue(sink(st, "sock")["ok"] and sink(st, "shm")["ok"], st["sinks"])
        print(f"before: sources {[(s['name'], s['state'], oct(s['reach'])) for s in sources(ch)]}, "
              f"sinks {[(s['name'], s['state']) for s in st['sinks']]}", flush=True)

        # chronyd killed: the command socket and refclock socket files stay.
        ch.stop(signal.SIGKILL)
        t_kill = time.monotonic()
        c0 = seg.read()["count"]
        sock_pub0 = sink(vmc.status(), "sock")["published"]
        time.sleep(DOWN_S)
        c1 = seg.read()
        st = vmc.status()
        print(f"chronyd down {DOWN_S:.0f} s: SHM count {c0} -> {c1['count']} (valid {c1['valid']}), "
              f"SOCK sink {sink(st, 'sock')['state']!r} ok={sink(st, 'sock')['ok']} "
              f"published {sock_pub0} -> {sink(st, 'sock')['published']}, vmclockd state {st['state']}", flush=True)
        self.assertTrue(vmc.alive(), vmc.log())
        # Two count increments per sample, 4 samples a second.
        self.assertGreaterEqual(c1["count"] - c0, 2 * int(DOWN_S * 4) - 4, "SHM sink stopped writing")
        self.assertEqual(c1["valid"], 1, "nothing consumed the last sample, it should still be valid")
        self.assertFalse(sink(st, "sock")["ok"], "SOCK sink claims to reach a dead chronyd")
        self.assertEqual(st["state"], "synced", st)
        self.assertRegex(vmc.log(), r"sock: .*(not reachable|retrying)")

        # Restarted: it rebinds the SOCK path and re-attaches the segment.
        os.unlink(ch.sock)
        ch.start()
        t_start = time.monotonic()
        wait_for(lambda: selected_source(ch, "VMC"), 20, what="chrony to select VMC again after its restart")
        t_sel = time.monotonic() - t_start
        wait_for(near, 10, interval=0.05, what="tracking within 1 us after the restart")
        t_near = time.monotonic() - t_start
        wait_for(lambda: (s := source(ch, "VMCM")) and s["reach"] != 0, 10, what="chrony to read VMCM again")
        c2 = seg.read()["count"]
        time.sleep(1.5)
        c3 = seg.read()["count"]
        st = vmc.status()
        print(f"restarted: VMC selected {t_sel:.2f} s after chronyd started ({time.monotonic() - t_kill:.1f} s "
              f"after the kill), tracking within 1 us after {t_near:.2f} s; SHM count {c2} -> {c3} in 1.5 s; "
              f"sources {[(s['name'], s['state'], oct(s['reach'])) for s in sources(ch)]}; "
              f"sinks {[(s['name'], s['state'], s['published']) for s in st['sinks']]}", flush=True)
        self.assertGreater(c3, c2)
        self.assertTrue(sink(st, "sock")["ok"], st["sinks"])
        self.assertGreater(sink(st, "sock")["published"], sock_pub0)
        self.assertRegex(vmc.log(), r"sock: sending samples to chronyd at [^\n]*\n(.*\n)*.*sock: sending samples")
        self.assertEqual(st["resets_sent"], 0)
        self.assertTrue(vmc.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
