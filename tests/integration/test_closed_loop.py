#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Closed loop: a real chronyd WITHOUT -x disciplines this machine's
CLOCK_REALTIME from vmclockd's samples, and the test measures the clock
against vmclock-sim --fixed-truth, a counter -> time line that the steering
cannot move (clock_vs_truth: bracketed counter reads, the simulator's own
line, never the page).

THIS TEST ADJUSTS THE MACHINE'S CLOCK. It needs root, refuses to run while
another time daemon is active, keeps chronyd within its rails (maxchange
1 ms, maxdrift and maxslewrate 100 ppm), stops at once if the clock gets
1 ms from the truth or the kernel's frequency 200 ppm from where it was,
and at the end steps the truth back to CLOCK_REALTIME's original line,
lets chronyd converge onto it, stops chronyd and puts the kernel's
frequency, tick and status back as they were.

Schedule (seconds after the simulator's ready line):
  short (CI): converge; 20 s measured; one migration (+100 us, +20 ppm,
              marker bump) with vmclockd's handling; the truth returned.
  long (tests/bench/run --only closed): 120 s measured; migrations with and
              without the handling, drift-only changes (+20 ppm, marker
              bump) with and without; the truth returned after each.
libvmclock's bound (page, then vmclockd's published segment) is checked
against the truth while chronyd slews the clock back after each event:
every answer must contain it.

Environment:
  VMC_CLOSED_LOOP         short (default) or long
  VMC_CLOSED_LOOP_SINK    sock (default) or shm
  VMC_CLOSED_LOOP_REPORT  write the figures there as JSON (tests/bench/run)
  VMC_REFCLOCK_OPTS       refclock options instead of the shipped snippet's
  VMC_CLOSED_LOOP_MEASURE_S  the converged stretch measured (default 20 s short, 120 s long)
  VMC_CLOSED_LOOP_MAXSLEWRATE  chronyd's maxslewrate, ppm (default 100; the rail moves with it)
"""
import ctypes
import ctypes.util
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (Chronyd, Cleanup, Sim, TempDir, Vmclockd, fmt_s, recovery_time,  # noqa: E402
                            refclock_line, remove_shm, shm_unit, stop_proc, toml_text, vmc_bin, wait_for)

MODE = os.environ.get("VMC_CLOSED_LOOP", "short")
SINK = os.environ.get("VMC_CLOSED_LOOP_SINK", "sock")
REPORT = os.environ.get("VMC_CLOSED_LOOP_REPORT")
OPTS = os.environ.get("VMC_REFCLOCK_OPTS")
SKIP = int(os.environ.get("VMC_SKIP_CODE", "77"))

TOL_S = 1e-6            # "within 1 us"
WINDOW_S = 15.0         # after each event, until the next
CONVERGE_S = 25.0       # from ready to the start of the measured stretch
MEASURE_S = float(os.environ.get("VMC_CLOSED_LOOP_MEASURE_S", {"short": 20.0, "long": 120.0}[MODE]))
MIGRATION = {"offset_step_ns": 100_000, "drift_step_ppm": 20}
DRIFT_ONLY = {"offset_step_ns": 0, "drift_step_ppm": 20}
# Rails: what chronyd may do (its own limits) and where the test pulls the plug.
MAX_OFFSET_NS = 1_000_000
MAX_PPM = 100
MAX_SLEW_PPM = float(os.environ.get("VMC_CLOSED_LOOP_MAXSLEWRATE", MAX_PPM))
ABORT_PPM = MAX_PPM + MAX_SLEW_PPM   # frequency plus slew
# Asserted. Measured on a 2-core shared VM (README, chrony snippets):
# recovery 4.7-5.0 s with the handling (chronyd slewing, not stepping),
# converged error 4-5 ns RMS, 13 ns at most.
ASSERT_RECOVERY_S = 8.0
ASSERT_CONVERGED_MAX_NS = 1000
ASSERT_RETURNED_NS = 5000

# Processes that steer CLOCK_REALTIME (comm names, 15 characters at most).
TIME_DAEMONS = {"chronyd", "ntpd", "ntpdate", "openntpd", "systemd-timesyn", "timemaster", "phc2sys", "sntp",
                "ptpd", "ptpd2", "htpdate", "vmtoolsd"}


# ------------------------------------------------------- the kernel's clock

class Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_pad", ctypes.c_int * 11)]


ADJ_FREQUENCY, ADJ_MAXERROR, ADJ_ESTERROR, ADJ_STATUS, ADJ_TICK = 0x0002, 0x0004, 0x0008, 0x0010, 0x4000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def adjtimex(t=None):
    t = t or Timex()
    if _libc.adjtimex(ctypes.byref(t)) < 0:
        raise OSError(ctypes.get_errno(), "adjtimex")
    return t


def rate_ppm(t):
    """The kernel's rate correction: tick (100 ppm per us at USER_HZ 100) plus freq (2^-16 ppm)."""
    return (t.tick - 10_000) * 100 + t.freq / 65536


def restore_clock(saved):
    t = Timex()
    t.modes = ADJ_FREQUENCY | ADJ_TICK | ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR
    t.freq, t.tick, t.status = saved.freq, saved.tick, saved.status
    t.maxerror, t.esterror = saved.maxerror, saved.esterror
    adjtimex(t)


def other_time_daemons():
    """[(pid, comm)] of processes that may be steering CLOCK_REALTIME."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if comm in TIME_DAEMONS and not (comm == "chronyd" and b"-x" in argv):
            found.append((int(pid), comm))
    return found


# ------------------------------------------------------------- the probe

class Probe:
    """clock_vs_truth over the whole run; its samples as (mono s, err ns)."""

    def __init__(self, sim_log, seconds):
        self.samples = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([vmc_bin("clock_vs_truth"), "--sim-log", sim_log, "--seconds", str(seconds),
                                      "--every-ms", "50", "--abort-beyond-ns", str(MAX_OFFSET_NS)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.samples.append((j["mono_ns"] / 1e9, j["err_ns"]))

    def between(self, t0, t1):
        with self.lock:
            return [(t, e) for t, e in self.samples if t0 <= t < t1]

    def latest(self):
        with self.lock:
            return self.samples[-1] if self.samples else None

    def stop(self):
        stop_proc(self.proc, timeout=5)
        self.reader.join(timeout=2)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


class Rails(threading.Thread):
    """Watches the kernel's rate correction every 100 ms: its largest move."""

    def __init__(self, saved):
        super().__init__(daemon=True)
        self.base = rate_ppm(saved)
        self.worst_ppm = 0.0
        self.broken = None
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.1):
            d = rate_ppm(adjtimex()) - self.base
            self.worst_ppm = max(self.worst_ppm, abs(d))
            if abs(d) > ABORT_PPM and not self.broken:
                self.broken = f"the kernel's frequency moved {d:+.1f} ppm (rail {ABORT_PPM} ppm)"


def stats_ns(errs):
    if not errs:
        return None
    rms = math.sqrt(sum(e * e for e in errs) / len(errs))
    return {"n": len(errs), "rms_ns": rms, "max_ns": max(abs(e) for e in errs), "mean_ns": sum(errs) / len(errs)}


# ----------------------------------------------------------------- test

class ClosedLoop(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            print("SKIP: the closed loop steers CLOCK_REALTIME: needs root", flush=True)
            sys.exit(SKIP)
        others = other_time_daemons()
        # A refusal, not a skip: the suite asked for this test and cannot have it here.
        self.assertFalse(others, f"refusing to steer the clock while another time daemon runs: {others}; "
                                 "stop it, or leave this test out (ctest -E closed_loop)")
        self.c = Cleanup()
        self.saved = adjtimex()
        # Registered first, so it runs last: after chronyd has stopped.
        self.c.add(lambda: restore_clock(self.saved))

    def tearDown(self):
        self.c.run()

    def schedule(self):
        """[(name, at_s, event dict for the scenario, handled)] and the end."""
        t = CONVERGE_S + MEASURE_S
        plan = []
        steps = [("migration", MIGRATION, True)]
        if MODE == "long":
            steps += [("migration", MIGRATION, False), ("drift-only", DRIFT_ONLY, True),
                      ("drift-only", DRIFT_ONLY, False)]
        for name, step, handled in steps:
            plan.append((name, t, step, handled))
            t += WINDOW_S
            plan.append(("return", t, None, handled))
            t += WINDOW_S
        return plan, t

    def scenario(self, d, plan):
        lines = []
        for name, at, step, _ in plan:
            if step is None:
                # Back onto CLOCK_REALTIME's original line, as a host's own
                # correction: no marker bump, chronyd just follows.
                lines += ["[[event]]", 'type = "set"', f"at = {at}", "offset_ns = 0", "drift_ppm = 0", ""]
            else:
                lines += ["[[event]]", 'type = "migration"', f"at = {at}",
                          f"offset_step_ns = {step['offset_step_ns']}", f"drift_step_ppm = {step['drift_step_ppm']}",
                          "bump_marker = true", "bump_generation = true", ""]
        path = d.join("closed_loop.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def vmclockd_sections(self, sink, chrony, handled):
        return {"chrony": dict(sink, command_socket=chrony.sock, reset_on_disruption=handled)}

    def start_bound_check(self, sim_log, page, segment, seconds, published, pause_us=0):
        args = [vmc_bin("bound_truth_check"), "--sim-log", sim_log, "--page", page, "--segment", segment,
                "--seconds", f"{seconds:.1f}", "--pause-us", str(pause_us)] + (["--published-only"] if published else [])
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.c.add(lambda: p.poll() is None and p.kill())
        return p, seconds, ("published" if published else "page")

    def finish_bound_check(self, started, when):
        p, seconds, source = started
        out, err = p.communicate(timeout=seconds + 30)
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.fail(f"bound_truth_check: exit {p.returncode}: {out} {err}")
        r["source"], r["when"] = source, when
        return r

    def bound_check(self, sim_log, page, segment, seconds, published):
        return self.finish_bound_check(self.start_bound_check(sim_log, page, segment, seconds, published),
                                       "while chronyd slews back")

    def test_closed_loop(self):
        others = other_time_daemons()
        self.assertFalse(others, f"another time daemon started: {others}")
        d = TempDir("closed")
        self.c.add(d.cleanup)
        plan, end_s = self.schedule()
        scen = self.scenario(d, plan)
        sim_log = d.join("sim.jsonl")
        sim = Sim(d.join("page"), ["--fixed-truth", "--scenario", scen], ready_timeout=30, log_path=sim_log)
        self.c.add(sim.stop)
        ready = sim.ready["_mono"]
        self.assertEqual(sim.ready.get("truth"), "fixed", sim.ready)

        if SINK == "shm":
            unit = shm_unit(0)
            remove_shm(unit)
            self.c.add(lambda: remove_shm(unit))
            line, sink = refclock_line("shm", unit, OPTS), {"shm_unit": unit}
        else:
            path = d.join("vmc.sock")
            line, sink = refclock_line("sock", path, OPTS), {"sock": path}
        rails = [f"maxdrift {MAX_PPM + abs(rate_ppm(self.saved)):.0f}", f"maxslewrate {MAX_SLEW_PPM}",
                 f"maxchange {MAX_OFFSET_NS / 1e9} 0 -1"]
        chrony = Chronyd([line] + rails, tag="closed", steer=True)
        self.c.add(chrony.cleanup)
        chrony.start()
        vmc = Vmclockd(d.path, sim.page, self.vmclockd_sections(sink, chrony, True), tag="closed")
        self.c.add(vmc.stop)
        vmc.start()
        print(f"{SINK}: {line}; rails: {'; '.join(rails)}; mode {MODE}, {end_s:.0f} s of schedule", flush=True)

        probe = Probe(sim_log, end_s + 30)
        self.c.add(probe.stop)
        guard = Rails(self.saved)
        guard.start()
        self.c.add(guard.done.set)

        def wait_until(t_rel):
            """Sleeps until ready + t_rel, minding the rails."""
            while time.monotonic() < ready + t_rel:
                if probe.proc.poll() is not None:
                    self.fail(f"clock_vs_truth stopped: {probe.stop()}")
                self.assertIsNone(guard.broken, guard.broken)
                time.sleep(0.05)

        report = {"mode": MODE, "sink": SINK, "refclock": line, "rails": rails}
        wait_for(lambda: chrony.selected("VMC"), 30, what="chronyd to select VMC")
        wait_until(CONVERGE_S + MEASURE_S)
        conv = stats_ns([e for _, e in probe.between(ready + CONVERGE_S, ready + CONVERGE_S + MEASURE_S)])
        report["converged"] = conv
        print(f"converged: |CLOCK_REALTIME - truth| over {MEASURE_S:.0f} s: RMS {conv['rms_ns']:.1f} ns, "
              f"max {conv['max_ns']:.1f} ns, mean {conv['mean_ns']:+.1f} ns ({conv['n']} samples)", flush=True)

        events, bounds = [], []
        handled_now, seen = True, 0
        for name, at, step, handled in plan:
            if handled != handled_now:
                # Switched in the quiet end of the last window, before the event.
                wait_until(at - 5)
                vmc.sections["chrony"]["reset_on_disruption"] = handled
                vmc.write_config(toml_text(vmc.sections))
                vmc.proc.send_signal(signal.SIGHUP)
                vmc.wait_log(r"SIGHUP: reloaded", 10)
                handled_now = handled
            paced = []
            if step is not None:
                # Across the disruption and the recovery, paced (200 us
                # apart) so as not to take a core from chronyd and vmclockd.
                wait_until(at - 1)
                seg = vmc.sections["bound"]["segment"]
                paced = [self.start_bound_check(sim_log, sim.page, seg, WINDOW_S - 1.5, pub, pause_us=200)
                         for pub in (False, True)]
            wait_until(at)
            ev = sim.wait_event("migration" if step else "set", 5, after=seen)
            with sim.cond:
                seen = sim.events.index(ev) + 1
            t_ev = ev["_mono"]
            if step is None:
                # The slew back: libvmclock's answers must hold the truth throughout.
                half = (WINDOW_S - 3) / 2
                wait_until(at + 1)
                bounds.append(self.bound_check(sim_log, sim.page, vmc.sections["bound"]["segment"], half, False))
                bounds.append(self.bound_check(sim_log, sim.page, vmc.sections["bound"]["segment"], half, True))
                if bounds[-1]["checked"] == 0:
                    print(f"published bound not usable: {vmc.status()['bound']}; state {vmc.status()['state']}\n"
                          + "\n".join(vmc.log().splitlines()[-12:]), flush=True)
            wait_until(at + WINDOW_S - 0.05)
            bounds += [self.finish_bound_check(p, f"across the {name}") for p in paced]
            pts = [(t - t_ev, e * 1e-9) for t, e in probe.between(t_ev, ready + at + WINDOW_S)]
            good, first = recovery_time(pts, TOL_S)
            tail = stats_ns([e * 1e9 for t, e in pts if good is not None and t >= good])
            events.append({"name": name, "handled": handled, "recovered_s": good, "first_within_s": first,
                           "offset_ns": ev["offset_ns"], "drift_ppm": ev["drift_ppm"], "samples": len(pts),
                           "after": tail})
            print(f"{name} ({'with' if handled else 'without'} vmclockd's handling; truth now offset "
                  f"{ev['offset_ns'] / 1e3:+.1f} us, drift {ev['drift_ppm']:+.0f} ppm): within 1 us for good after "
                  f"{fmt_s(good)} (first within {fmt_s(first)}; {len(pts)} samples)", flush=True)
        for b in bounds:
            print(f"libvmclock bound ({b['source']}, {b['when']}): {b['checked']} answers checked, "
                  f"{b['misses']} misses, narrowest {b['narrowest_bound_ns']} ns, worst margin "
                  f"{b['worst_margin_ns']:.0f} ns; by status {b['by_status']}", flush=True)
        report["events"] = events
        report["bound"] = bounds
        status = vmc.status()
        report["vmclockd"] = {k: status.get(k) for k in ("disruptions_seen", "resets_sent")}

        # Give the clock back: chronyd has converged onto the original line
        # (the last "return"); stop it and put the kernel's settings back.
        chrony.stop()
        restore_clock(self.saved)
        time.sleep(2)
        last = probe.latest()
        report["returned_ns"] = last[1] if last else None
        report["rails_worst_ppm"] = guard.worst_ppm
        print(f"clock returned: CLOCK_REALTIME - original line {last[1]:+.1f} ns 2 s after chronyd stopped and "
              f"the kernel's frequency was restored; largest frequency move {guard.worst_ppm:.1f} ppm", flush=True)
        if REPORT:
            with open(REPORT, "w") as f:
                json.dump(report, f, indent=1)

        self.assertIsNone(guard.broken, guard.broken)
        self.assertLessEqual(conv["max_ns"], ASSERT_CONVERGED_MAX_NS, conv)
        for e in events:
            self.assertIsNotNone(e["recovered_s"], f"{e['name']}: not within 1 us for good after {WINDOW_S} s")
            if e["handled"] and e["name"] != "return":
                self.assertLessEqual(e["recovered_s"], ASSERT_RECOVERY_S, e)
        for b in bounds:
            self.assertGreater(b["checked"], 1000, b)
            self.assertEqual(b["misses"], 0, b)
        n_disrupt = sum(1 for _, _, step, _ in plan if step)
        self.assertEqual(status["disruptions_seen"], n_disrupt, status)
        self.assertEqual(status["resets_sent"], sum(1 for _, _, step, h in plan if step and h), status)
        self.assertIsNotNone(last)
        self.assertLessEqual(abs(last[1]), ASSERT_RETURNED_NS, "the clock was not returned to its line")


if __name__ == "__main__":
    unittest.main(verbosity=2)
