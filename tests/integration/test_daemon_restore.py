#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshot restore, the Firecracker case: the page is disruption-only
(vmclock-sim --disruption-only), time comes from NTP (a small NTPv4 server
inside this test on 127.0.0.1 serving the system time plus an offset).

Two chronyds on the same server (`server 127.0.0.1 port N iburst minpoll 4
maxpoll 6`), one with vmclockd watching the page, one alone. After both
settled, the guest "is restored": the server's offset jumps by 2 s and the
page's marker and generation change (SIGUSR1). Measured: how long until
each chronyd's tracking offset is within 1 ms of the truth (2 s) for good.
The chronyd alone is capped at CAP_S.

Environment: VMC_RESTORE_CAP_S (default 120), VMC_RESTORE_MAKESTEP (0/1,
default 0: chronyd -x cannot step, see the report).
"""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (ChronyMon, Chronyd, Cleanup, NtpServer, Sim, TempDir, Vmclockd,  # noqa: E402
                            fmt_s, recovery_time, selected_source, tracking_error, wait_for)

JUMP_S = 2.0
TOL_S = 1e-3
CAP_S = float(os.environ.get("VMC_RESTORE_CAP_S", "120"))
MAKESTEP = os.environ.get("VMC_RESTORE_MAKESTEP", "0") == "1"
STABLE_S = 10.0      # a recovery counts once it held this long (or to the cap)
TARGET_S = 6.0       # issue 4: with vmclockd
TARGET_RATIO = 10.0  # issue 4: at least 10x faster than chronyd alone


class DaemonRestore(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def test_restore(self):
        d = TempDir("drestore")
        self.c.add(d.cleanup)
        ntp = NtpServer()
        self.c.add(ntp.stop)
        sim = Sim(d.join("page"), ["--disruption-only", "--marker", 1, "--generation", 1])
        self.c.add(sim.stop)
        line = f"server 127.0.0.1 port {ntp.port} iburst minpoll 4 maxpoll 6"
        ch_v = Chronyd([line], tag="restore-vmc")
        self.c.add(ch_v.cleanup)
        ch_a = Chronyd([line], tag="restore-alone")
        self.c.add(ch_a.cleanup)
        ch_v.start()
        ch_a.start()
        vmc = Vmclockd(d.path, sim.page, {"chrony": {"command_socket": ch_v.sock, "makestep": MAKESTEP}})
        self.c.add(vmc.stop)
        vmc.start()
        mons = {"vmclockd": ChronyMon(ch_v), "alone": ChronyMon(ch_a)}
        for m in mons.values():
            self.c.add(m.close)

        truth = {"offset": 0.0}

        def err(name):
            return tracking_error(mons[name], lambda rt: truth["offset"])[1]

        t0 = time.monotonic()
        for name, ch in (("vmclockd", ch_v), ("alone", ch_a)):
            wait_for(lambda: selected_source(ch, "127.0.0.1"), 30, what=f"{name}: chronyd to select the NTP server")
            wait_for(lambda: (e := err(name)) is not None and abs(e) < TOL_S, 20,
                     what=f"{name}: tracking within 1 ms of the server")
        print(f"both chronyds synchronized to the NTP server (port {ntp.port}) after "
              f"{time.monotonic() - t0:.1f} s; vmclockd state {vmc.status()['state']} "
              f"({vmc.status()['reason']})", flush=True)
        time.sleep(3)

        # The restore: the network's time is 2 s ahead, the page says so.
        ntp.set_offset(JUMP_S)
        truth["offset"] = JUMP_S
        t_jump = time.clock_gettime_ns(time.CLOCK_REALTIME)
        ev = sim.signal_and_wait(signal.SIGUSR1, "migration")
        print(f"restore: server +{JUMP_S} s, page marker {ev['marker']} generation {ev['generation']}", flush=True)

        pts = {"vmclockd": [], "alone": []}
        done = {}
        deadline = time.monotonic() + CAP_S
        while time.monotonic() < deadline and len(done) < 2:
            for name in pts:
                if name in done:
                    continue
                at, e = tracking_error(mons[name], lambda rt: truth["offset"])
                pts[name].append(((at - t_jump) / 1e9, e))
                r, _ = recovery_time(pts[name], TOL_S)
                if r is not None and pts[name][-1][0] - r >= STABLE_S:
                    done[name] = r
            time.sleep(0.1)
        res = {name: recovery_time(p, TOL_S) for name, p in pts.items()}
        for name, p in pts.items():
            worst = max((abs(e) for _, e in p if e is not None), default=None)
            # The largest overshoot past the truth (chrony alone overshoots).
            over = max((e for _, e in p if e is not None and e > 0), default=0.0)
            print(f"{name}: within 1 ms of the 2 s jump for good after {fmt_s(res[name][0], CAP_S)} "
                  f"(first within {fmt_s(res[name][1], CAP_S)}; worst error {worst:.6f} s, "
                  f"overshoot up to {over:.6f} s; {len(p)} samples)", flush=True)
        if os.environ.get("VMC_TRACE"):
            for name, p in pts.items():
                print(f"trace {name}: " + " ".join(f"{t:.1f}:{'-' if e is None else f'{e:.4f}'}" for t, e in p))
        st = vmc.status()
        if MAKESTEP:
            print(f"chronyd (vmclockd) log: {ch_v.read_log().splitlines()[-3:]}", flush=True)
        print(f"vmclockd: disruptions_seen {st['disruptions_seen']}, resets_sent {st['resets_sent']}, "
              f"reset latency {st['last_disruption'] and st['last_disruption']['reset_latency_ns']} ns; "
              f"log: {[l for l in vmc.log().splitlines() if 'chrony' in l or 'disruption' in l]}", flush=True)
        r_v, r_a = res["vmclockd"][0], res["alone"][0]
        ratio = (r_a if r_a is not None else CAP_S) / r_v if r_v else None
        print(f"speed-up: {'>= ' if r_a is None else ''}{ratio:.1f}x" if ratio else "speed-up: n/a", flush=True)
        self.assertEqual((st["disruptions_seen"], st["resets_sent"]), (1, 1), st)
        self.assertIsNotNone(r_v, "chrony with vmclockd never came within 1 ms of the truth")
        self.assertLessEqual(r_v, TARGET_S)
        self.assertGreaterEqual(ratio, TARGET_RATIO)


if __name__ == "__main__":
    unittest.main(verbosity=2)
