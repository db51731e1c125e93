#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclockd end to end, SHM and SOCK: vmclock-sim injects +37.5 us, vmclockd
feeds a throwaway chronyd (refclock line from chrony-refclock/vmclockd-*.conf),
and chrony's tracking reports that offset within 1 us once it selected the
source. Prints the converged error (RMS and max) over SAMPLE_S seconds.

Environment: VMC_BIN, VMC_SOURCE (set by ctest); VMC_SAMPLE_S (default 30).
"""
import math
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (ChronyMon, Chronyd, Cleanup, Sim, TempDir, Vmclockd, refclock_line, remove_shm,  # noqa: E402
                            shm_unit, tracking_point, wait_for)

OFFSET_NS = 37_500
TOL_S = 1e-6
SAMPLE_S = float(os.environ.get("VMC_SAMPLE_S", "30"))


class DaemonOffset(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def run_kind(self, kind):
        d = TempDir(f"doff-{kind}")
        self.c.add(d.cleanup)
        sim = Sim(d.join("page"), ["--offset-ns", OFFSET_NS, "--update-interval-ms", 1000])
        self.c.add(sim.stop)
        if kind == "shm":
            unit = shm_unit()
            remove_shm(unit)
            self.c.add(lambda: remove_shm(unit))
            line, sink = refclock_line("shm", unit), {"shm_unit": unit}
        else:
            path = d.join("vmc.sock")
            line, sink = refclock_line("sock", path), {"sock": path}
        chrony = Chronyd([line])
        self.c.add(chrony.cleanup)
        chrony.start()
        vmc = Vmclockd(d.path, sim.page, {"chrony": dict(sink, command_socket=chrony.sock)})
        self.c.add(vmc.stop)
        vmc.start()
        mon = ChronyMon(chrony)
        self.c.add(mon.close)
        print(f"{kind}: {line}", flush=True)

        t0 = time.monotonic()
        wait_for(lambda: chrony.selected("VMC"), 20, what=f"{kind}: chronyd to select VMC")
        t_sel = time.monotonic() - t0

        def near():
            at, t = tracking_point(mon)
            return t is not None and abs(t["system_time"] - sim.truth_offset_s(at)) <= TOL_S and t
        t = wait_for(near, 15, interval=0.05, what=f"{kind}: tracking within 1 us of +37.5 us")
        t_conv = time.monotonic() - t0
        print(f"{kind}: selected after {t_sel:.1f} s, within 1 us after {t_conv:.1f} s "
              f"(system_time {t['system_time'] * 1e6:.3f} us)", flush=True)

        errs = []
        end = time.monotonic() + SAMPLE_S
        while time.monotonic() < end:
            at, t = tracking_point(mon)
            if t is not None and t["refid"] == "VMC":
                errs.append(t["system_time"] - sim.truth_offset_s(at))
            time.sleep(0.2)
        self.assertGreater(len(errs), SAMPLE_S * 2, f"{kind}: too few tracking samples")
        rms = math.sqrt(sum(e * e for e in errs) / len(errs))
        mx = max(abs(e) for e in errs)
        mean = sum(errs) / len(errs)
        st = vmc.status()
        print(f"{kind}: converged error over {SAMPLE_S:.0f} s ({len(errs)} samples): "
              f"RMS {rms * 1e9:.1f} ns, max {mx * 1e9:.1f} ns, mean {mean * 1e9:+.1f} ns; "
              f"vmclockd state {st['state']}, samples_sent {st['samples_sent']}", flush=True)
        self.assertEqual(st["state"], "synced", st)
        self.assertLess(rms, TOL_S, f"{kind}: RMS error over 1 us")
        self.assertLess(mx, TOL_S, f"{kind}: an error over 1 us after convergence")

    def test_shm(self):
        self.run_kind("shm")

    def test_sock(self):
        self.run_kind("sock")


if __name__ == "__main__":
    unittest.main(verbosity=2)
