#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Load: vmclock-sim re-anchors the page 10,000 times a second while
vmclockd samples it at its fastest rate ([sampling] interval_ms = 10,
[source] watch_interval_ms = 1) for VMC_LOAD_SECONDS (default 60): zero
torn samples.

What a torn read looks like: every update re-anchors the page to a fresh
(counter, time) pair, so consecutive anchors are ~100 us apart in both
counter and time. A copy mixing fields of two updates (counter_value of
one, time_sec/time_frac_sec of the next, or a period with the wrong
anchor) puts the page's time off by the distance between the anchors:
tens to hundreds of microseconds. With a drift of 50 ppm the truth also
moves (3 ms a minute), so a sample whose system time does not belong to
its counter reading is off as well. Every datagram that reaches the SOCK
endpoint bound here is compared with the simulator's ground truth
(src/sim/README.md):

    offset(tv) = offset_ns + drift_ppm * 1e-6 * (tv - realtime_ns)

and must be within the error the daemon itself allows a sample
(max_error_ns, which bounds the page's maxerror plus half the bracket)
plus a margin for the simulator's own anchor. The daemon's status must
show no page error (a seqlock retry is not one: it is counted nowhere,
a read that gave up after 100 ms is).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Cleanup, Sim, TempDir, Vmclockd  # noqa: E402
from fault_helpers import LogMark, SockRecorder, TruthLine, proc_cpu_s, stop_and_exit_code  # noqa: E402

SECONDS = float(os.environ.get("VMC_LOAD_SECONDS", "60"))
OFFSET_NS = 1_234_567
DRIFT_PPM = 50.0
MAX_ERROR_NS = 5_000
# The simulator's anchor is a (counter, CLOCK_REALTIME) pair read within
# a narrow bracket (or its calibration line when preempted): its distance
# from the formula is well under a microsecond; 5 us covers a bad one.
TOL_NS = MAX_ERROR_NS + 5_000
INTERVAL_MS = 10


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


class Load(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def test_no_torn_samples_at_10k_updates_per_second(self):
        d = TempDir("load")
        self.c.add(d.cleanup)
        sim = Sim(d.join("page"), ["--offset-ns", OFFSET_NS, "--drift-ppm", DRIFT_PPM,
                                   "--update-interval-ms", "0.1"])
        self.c.add(sim.stop)
        rec = SockRecorder(d.join("vmc.sock"), rcvbuf=4 << 20)
        self.c.add(rec.close)
        vmc = Vmclockd(d.path, sim.page, {
            "source": {"watch_interval_ms": 1},
            "sampling": {"interval_ms": INTERVAL_MS, "max_error_ns": MAX_ERROR_NS},
            "chrony": {"sock": rec.path}})
        self.c.add(vmc.stop)
        mark = LogMark(vmc)
        vmc.start()
        t_start = time.monotonic()
        cpu0 = proc_cpu_s(vmc.proc.pid)
        print(f"load for {SECONDS:.0f} s: sim every 0.1 ms (offset {OFFSET_NS} ns, drift {DRIFT_PPM} ppm), "
              f"vmclockd every {INTERVAL_MS} ms, watch every 1 ms, max_error_ns {MAX_ERROR_NS}", flush=True)
        end = t_start + SECONDS
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            self.assertTrue(vmc.alive(), f"vmclockd died under load:\n{vmc.log()[-3000:]}")
            self.assertIsNone(sim.proc.poll(), f"vmclock-sim died under load:\n{sim.stderr()}")
        elapsed = time.monotonic() - t_start
        cpu1 = proc_cpu_s(vmc.proc.pid)
        time.sleep(1.2)  # one more status write
        st = vmc.status()
        n_sim0 = sim.ready.get("updates", 1)
        sim.stop()
        exit_ev = next((e for e in sim.events if e.get("event") == "exit"), None)
        code = stop_and_exit_code(vmc)

        samples = rec.since()
        truths = [TruthLine(e) for e in sim.events if "offset_ns" in e and "realtime_ns" in e
                  and e.get("event") in ("ready", "recalibrated")]

        def truth(tv):
            t = truths[0]
            for x in truths:
                if x.rt <= tv:
                    t = x
            return t.at(tv)

        devs = [(d["tv_ns"], d["offset"] * 1e9 - truth(d["tv_ns"])) for d in samples]
        absd = [abs(x) for _, x in devs]
        torn = [(tv, round(x)) for tv, x in devs if abs(x) > TOL_NS]
        upd = (exit_ev or {}).get("updates", 0) - n_sim0
        page_lines = mark.lines(r"vmclockd: page: (?!reading)")
        print(f"samples checked: {len(samples)} ({len(samples) / elapsed:.0f}/s, malformed {len(rec.bad)}); "
              f"|deviation from truth| p50 {pct(absd, 50):.0f} ns, p99 {pct(absd, 99):.0f} ns, "
              f"max {max(absd, default=float('nan')):.0f} ns; over {TOL_NS} ns: {len(torn)}", flush=True)
        print(f"simulator: {upd} updates ({upd / elapsed:.0f}/s); vmclockd: samples_sent {st['samples_sent']}, "
              f"samples_refused {st['samples_refused']}, page_errors {st['page_errors']}, state {st['state']} "
              f"({st['reason']}), CPU {(cpu1 - cpu0) / elapsed * 100:.0f}% of a core; exit code {code}", flush=True)
        if page_lines:
            print("page log lines:\n" + "\n".join("    " + l for l in page_lines[:10]), flush=True)

        self.assertEqual(torn, [], f"{len(torn)} samples off the page's truth by more than {TOL_NS} ns "
                                   f"(torn or mis-timed): (tv, deviation ns) {torn[:10]}")
        self.assertEqual(rec.bad, [], "malformed datagrams")
        self.assertEqual(st["page_errors"], 0, f"page errors under load: {page_lines}")
        self.assertEqual(page_lines, [], "page incidents logged under load")
        # At least a quarter of the nominal rate on a loaded machine.
        self.assertGreaterEqual(len(samples), int(elapsed * 1000 / INTERVAL_MS / 4),
                                f"only {len(samples)} samples in {elapsed:.0f} s")
        self.assertEqual(st["state"], "synced", st)
        self.assertEqual(code, 0, vmc.log()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
