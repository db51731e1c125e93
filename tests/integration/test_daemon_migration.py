#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Live migration through vmclockd: SIGUSR1 on vmclock-sim steps the page's
offset by +100 us and its drift by +20 ppm and bumps marker and generation.

One simulator, two vmclockd + chronyd pairs in the same run: one with the
disruption handling ([chrony] reset_on_disruption = true: RESET_SOURCES +
BURST), one without. For each, the time from the migration until chrony's
tracking offset stays within 1 us of the truth (the sim's offset at that
instant: offset_ns + drift * elapsed, from its JSON migration line).

Environment (for experiments; defaults are what the test asserts on):
  VMC_MIGRATION_SINK   sock (default) or shm
  VMC_REFCLOCK_OPTS    refclock options instead of chrony-refclock/vmclockd-<sink>.conf's
  VMC_INTERVAL_MS      vmclockd [sampling] interval_ms (default: the daemon's, 250)
  VMC_MIGRATIONS       how many migrations to measure (default 2)
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (ChronyMon, Chronyd, Cleanup, Sim, TempDir, Vmclockd, fmt_s, refclock_line,  # noqa: E402
                            remove_shm, recovery_time, shm_unit, tracking_error, wait_for)

TOL_S = 1e-6
WINDOW_S = 12.0      # measured after each migration
SETTLE_S = 8.0       # after both are within 1 us, before the first migration
TARGET_S = 2.0       # issue 4's target with the handling
# The bound this test asserts for the handled recovery. The target (2 s)
# was reached with the shipped snippets (poll -2 filter 1, 4 Hz feeding);
# see the report in the commit message for the numbers of other options.
ASSERT_HANDLED_S = TARGET_S

SINK = os.environ.get("VMC_MIGRATION_SINK", "sock")
OPTS = os.environ.get("VMC_REFCLOCK_OPTS")
INTERVAL_MS = os.environ.get("VMC_INTERVAL_MS")
MIGRATIONS = int(os.environ.get("VMC_MIGRATIONS", "2"))


class DaemonMigration(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def pair(self, d, sim, name, handled, k):
        if SINK == "shm":
            unit = shm_unit(k)
            remove_shm(unit)
            self.c.add(lambda: remove_shm(unit))
            line, sink = refclock_line("shm", unit, OPTS), {"shm_unit": unit}
        else:
            path = d.join(f"{name}.vmc.sock")
            line, sink = refclock_line("sock", path, OPTS), {"sock": path}
        chrony = Chronyd([line], tag=f"mig-{name}")
        self.c.add(chrony.cleanup)
        chrony.start()
        sections = {"chrony": dict(sink, command_socket=chrony.sock, reset_on_disruption=handled)}
        if INTERVAL_MS:
            sections["sampling"] = {"interval_ms": int(INTERVAL_MS)}
        vmc = Vmclockd(d.path, sim.page, sections, tag=name)
        self.c.add(vmc.stop)
        vmc.start()
        mon = ChronyMon(chrony)
        self.c.add(mon.close)
        return line, chrony, vmc, mon

    def test_migration_recovery(self):
        d = TempDir("dmig")
        self.c.add(d.cleanup)
        sim = Sim(d.join("page"), ["--offset-ns", 37_500])
        self.c.add(sim.stop)
        line, ch_h, vmc_h, mon_h = self.pair(d, sim, "handled", True, 0)
        _, ch_u, vmc_u, mon_u = self.pair(d, sim, "unhandled", False, 1)
        print(f"{SINK}: {line}; interval_ms {INTERVAL_MS or 'default (250)'}", flush=True)

        def near(mon):
            _, err = tracking_error(mon, sim.truth_offset_s)
            return err is not None and abs(err) <= TOL_S
        for ch, mon in ((ch_h, mon_h), (ch_u, mon_u)):
            wait_for(lambda: ch.selected("VMC"), 20, what="chronyd to select VMC")
            wait_for(lambda: near(mon), 15, interval=0.05, what="tracking within 1 us before the migration")
        time.sleep(SETTLE_S)

        results = []
        for i in range(MIGRATIONS):
            ev = sim.migrate()
            pts = {"handled": [], "unhandled": []}
            end = time.monotonic() + WINDOW_S
            while time.monotonic() < end:
                for name, mon in (("handled", mon_h), ("unhandled", mon_u)):
                    at, err = tracking_error(mon, lambda rt: sim.truth_offset_s(rt, ev))
                    pts[name].append(((at - ev["realtime_ns"]) / 1e9, err))
                time.sleep(0.02)
            rh, fh = recovery_time(pts["handled"], TOL_S)
            ru, fu = recovery_time(pts["unhandled"], TOL_S)
            results.append((rh, ru))
            if os.environ.get("VMC_TRACE"):
                for name in pts:
                    print(f"trace {i + 1} {name}: " + " ".join(
                        f"{t:.2f}:{'-' if e is None else f'{e * 1e6:.2f}'}" for t, e in pts[name]), flush=True)
            print(f"migration {i + 1} (offset {ev['offset_ns'] / 1e3:.1f} us, drift {ev['drift_ppm']:.0f} ppm): "
                  f"within 1 us for good after {fmt_s(rh)} with the handling (first within {fmt_s(fh)}), "
                  f"{fmt_s(ru)} without (first within {fmt_s(fu)}); "
                  f"{sum(e is not None for _, e in pts['handled'])} usable tracking samples each in {WINDOW_S:.0f} s", flush=True)

        sh, su = vmc_h.status(), vmc_u.status()
        print(f"handled: resets_sent {sh['resets_sent']}, disruptions_seen {sh['disruptions_seen']}, "
              f"last reset latency {sh['last_disruption']['reset_latency_ns']} ns; "
              f"unhandled: resets_sent {su['resets_sent']}, disruptions_seen {su['disruptions_seen']}", flush=True)
        self.assertEqual((sh["disruptions_seen"], sh["resets_sent"]), (MIGRATIONS, MIGRATIONS), sh)
        self.assertEqual((su["disruptions_seen"], su["resets_sent"]), (MIGRATIONS, 0), su)
        for i, (rh, ru) in enumerate(results):
            self.assertIsNotNone(rh, f"migration {i + 1}: handled chrony not within 1 us after {WINDOW_S} s")
            self.assertLessEqual(rh, ASSERT_HANDLED_S, f"migration {i + 1}: handled recovery")
            # Without the handling chrony may not recover within the window at all.
            if ru is not None:
                self.assertLessEqual(rh, ru + 0.1, f"migration {i + 1}: handling slower than none")


if __name__ == "__main__":
    unittest.main(verbosity=2)
