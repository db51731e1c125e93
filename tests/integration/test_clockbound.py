#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""AWS ClockBound's v2 segment, read by a client written from ClockBound's
protocol (clockbound_client.c, not vmclockd's code).

- torn: clockbound_hammer rewrites the segment through vmclockd's
  publisher as fast as it can while the client reads it a million times and
  more: no copy mixes two records, no generation is odd or zero.
- truth: vmclock-sim (drift, three migrations, a FREERUNNING page) under
  vmclockd, killed and restarted: every answer the client computes the way
  ClockBound's clients do (status ageing, bound growth, the page's marker
  checked on every call) contains the simulator's truth; the first call
  after each marker change is Unknown or Disrupted; the client's one
  mapping keeps working across the restart. A trace beside vmclockctl
  bound (libvmclock) shows both through a migration.
- second writer: a second vmclockd is refused and the first keeps the
  segment; a foreign writer (standing in for ClockBound's daemon, which
  rewrites every second) makes vmclockd leave the segment to it.
- clean stop: what is left is FreeRunning (clients age it to Unknown), not
  Synchronized.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import TempDir, Vmclockd, stop_proc, vmc_bin, wait_for  # noqa: E402

SCENARIO = """
migration_offset_step_ns = 100000
migration_drift_step_ppm = 2

[[event]]
type = "migration"
at = 6.0

[[event]]
type = "status"
at = 9.0
status = "freerunning"

[[event]]
type = "status"
at = 12.0
status = "synchronized"

[[event]]
type = "migration"
at = 22.0
offset_step_ns = -250000
drift_step_ppm = -4

[[event]]
type = "migration"
at = 30.0
"""
KILL_AT = 15.0      # SIGKILL: the segment just ages in the clients' hands
RESTART_AT = 25.0   # a migration at 22 s happened while it was dead
END_AT = 34.0


def client(*args, timeout=120):
    r = subprocess.run([vmc_bin("clockbound_client"), *args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def start_sim(d, scenario=None, args=()):
    page, simlog = d.join("page"), d.join("sim.jsonl")
    extra = []
    if scenario:
        with open(d.join("scenario.toml"), "w") as f:
            f.write(scenario)
        extra = ["--scenario", d.join("scenario.toml")]
    with open(simlog, "w") as out:
        sim = subprocess.Popen([vmc_bin("vmclock-sim"), "--page", page, "--json", "--drift-ppm", "3",
                                "--offset-ns", "40000", *extra, *args], stdout=out, stderr=subprocess.STDOUT)

    def ready():
        with open(simlog) as f:
            return '"event":"ready"' in f.read()
    wait_for(ready, 15, what="vmclock-sim ready")
    return sim, page, simlog


def header(path):
    with open(path, "rb") as f:
        b = f.read(80)
    m0, m1, size, version, gen = struct.unpack_from("=IIIHH", b, 0)
    marker, = struct.unpack_from("=Q", b, 56)
    status, = struct.unpack_from("=i", b, 68)
    return {"magic": (m0, m1), "segsize": size, "version": version, "generation": gen, "marker": marker,
            "status": status, "support": b[72], "mode": os.stat(path).st_mode & 0o7777}


class ClockBoundSegment(unittest.TestCase):
    def test_no_torn_read_under_a_writer_as_fast_as_it_can(self):
        d = TempDir("cb-torn")
        try:
            seg = d.join("shm0")
            hammer = subprocess.Popen([vmc_bin("clockbound_hammer"), "--segment", seg, "--seconds", "12"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: os.path.exists(seg) and header(seg)["generation"] > 0, 10, what="the hammer's first write")
            rc, out, err = client("torn", "--segment", seg, "--seconds", "10")
            hout, _ = hammer.communicate(timeout=30)
            r = json.loads(out)
            print(f"torn: {out.strip()} writer {hout.strip()}", flush=True)
            self.assertEqual(rc, 0, f"{out} {err}")
            self.assertEqual(r["torn"], 0)
            self.assertEqual(r["bad_generation"], 0)
            self.assertGreaterEqual(r["reads"], 1_000_000)
            # Copies of changed records, each checked against the pattern.
            self.assertGreater(r["fresh_copies"], 100, "the reader saw the writer's records change too seldom")
            self.assertEqual(hammer.returncode, 0)
            h = header(seg)
            self.assertEqual(h["magic"], (0x414D5A4E, 0x43420200))
            self.assertEqual((h["segsize"], h["version"]), (80, 2))
            self.assertEqual(h["mode"], 0o644)
        finally:
            d.cleanup()

    def test_every_answer_contains_the_truth(self):
        d = TempDir("cb-truth")
        procs = []
        daemon = None
        try:
            sim, page, simlog = start_sim(d, SCENARIO)
            procs.append(sim)
            ready = time.monotonic()
            seg = d.join("clockbound", "shm0")  # its directory made by vmclockd
            daemon = Vmclockd(d.path, page, {"bound": {"stale_after_ms": 1000},
                                             "clockbound": {"segment": seg}}).start()
            wait_for(lambda: os.path.exists(seg) and header(seg)["status"] == 1, 10,
                     what="the ClockBound segment Synchronized")
            self.assertEqual(os.stat(os.path.dirname(seg)).st_mode & 0o7777, 0o755)
            h = header(seg)
            self.assertEqual(h["support"], 1, "a watched page must make clients check its marker")
            self.assertEqual(h["mode"], 0o644)
            st = daemon.status()["bound"]["clockbound"]
            self.assertEqual(st, {"segment": seg, "state": "publishing"})
            out = subprocess.run([vmc_bin("vmclockctl"), "status", "--status-file", daemon.status_file],
                                 capture_output=True, text=True, timeout=10).stdout
            self.assertIn(f"clockbound   {seg}: publishing", out)
            seconds = END_AT - (time.monotonic() - ready)
            truth_started = time.monotonic() - ready
            truth = subprocess.Popen([vmc_bin("clockbound_client"), "truth", "--segment", seg, "--page", page,
                                      "--sim-log", simlog, "--seconds", f"{seconds:.1f}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(truth)
            def at(t):
                time.sleep(max(0.0, ready + t - time.monotonic()))
            # Side by side, every 100 ms around the first migration (6 s):
            # ClockBound's client and vmclock_now() (vmclockctl bound).
            at(4.5)
            trace = subprocess.Popen([vmc_bin("clockbound_client"), "trace", "--segment", seg, "--page", page,
                                      "--seconds", "3", "--every-ms", "100"], stdout=subprocess.PIPE, text=True)
            procs.append(trace)
            bound = subprocess.Popen([vmc_bin("vmclockctl"), "--page", page, "bound", "--segment",
                                      d.join("vmclockd.bound"), "--count", "30", "--interval-ms", "100", "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(bound)
            at(KILL_AT)
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(timeout=5)
            killed_at = time.monotonic() - ready
            at(RESTART_AT)
            daemon.start()
            restarted_at = time.monotonic() - ready

            tout, _ = trace.communicate(timeout=30)
            bout, berr = bound.communicate(timeout=30)
            lines = [ln.split() for ln in tout.strip().splitlines()]
            answers = [json.loads(ln) for ln in bout.strip().splitlines() if ln.startswith("{")]
            print("around the first migration (every 100 ms):", flush=True)
            print(f"  {'ClockBound client':>32} | vmclock_now()", flush=True)
            for i, cb in enumerate(lines):
                lv = answers[i] if i < len(answers) else {}
                print(f"  {cb[1]:>14} ±{int(cb[2]):>12} ns | {lv.get('status', '-'):>14} "
                      f"±{lv.get('bound_ns', '-')} ns", flush=True)

            out, err = truth.communicate(timeout=END_AT + 60)
            self.assertIn(truth.returncode, (0, 1), f"the client failed: {err}")
            r = json.loads(out.strip().splitlines()[-1])
            print(f"truth: {json.dumps({k: v for k, v in r.items() if k != 'transitions'})}", flush=True)
            print(f"transitions (s after the client started, status): {r['transitions']}", flush=True)
            self.assertEqual(r["misses"], 0, f"an interval without the truth: {r['first_miss']}")
            self.assertEqual(r["errors"]["malformed"], 0)
            # What a real client returns as an error, not a wrong answer: a
            # call preempted for over 20 ms between its clock and the segment.
            self.assertLessEqual(r["errors"]["causality"], r["calls"] // 1_000_000)
            self.assertGreater(r["checked"], 100000)
            # Three migrations; the first call after each is not bounded.
            self.assertEqual(r["marker_changes"], 3)
            self.assertEqual(r["marker_changes_not_bounded"], 3)
            self.assertGreater(r["by_status"]["freerunning"], 0, "the page's FREERUNNING, or the dead daemon's "
                               "ageing, never reached the client")
            # In the test's time (s after the simulator was ready).
            tr = [(t + truth_started, st) for t, st in r["transitions"]]
            # Synchronized again after the restart, through the mapping the
            # client made before it: the segment was reused in place.
            self.assertTrue(any(t > restarted_at and st == "synchronized" for t, st in tr),
                            f"not Synchronized after the restart at {restarted_at:.1f} s: {tr}")
            # While dead: aged to FreeRunning 5 s after its last write; from
            # the migration at 22 s until the restart, never a bound.
            self.assertTrue(any(killed_at + 4 < t < 22 and st == "freerunning" for t, st in tr),
                            f"no ageing to FreeRunning while dead: {tr}")
            before = [st for t, st in tr if t < 22.5]
            during = [st for t, st in tr if 22.5 <= t < restarted_at]
            self.assertEqual(before[-1] if not during else during[-1], "unknown", tr)
            self.assertNotIn("synchronized", during, tr)
            self.assertNotIn("freerunning", during, tr)
            self.assertLessEqual(r["wider_than_10ms"], r["checked"] // 10_000)
        finally:
            for p in procs:
                stop_proc(p)
            if daemon:
                daemon.stop()
            d.cleanup()

    def test_a_second_writer_is_refused(self):
        d = TempDir("cb-second")
        procs, daemons = [], []
        try:
            sim, page, _ = start_sim(d)
            procs.append(sim)
            seg = d.join("shm0")
            first = Vmclockd(d.path, page, {"clockbound": {"segment": seg}}, tag="first").start()
            daemons.append(first)
            wait_for(lambda: os.path.exists(seg) and header(seg)["status"] == 1, 10, what="the first writer")
            second = Vmclockd(d.path, page, {"clockbound": {"segment": seg}}, tag="second").start()
            daemons.append(second)
            second.wait_log(r"another vmclockd publishes there", 10)
            g0 = header(seg)["generation"]
            time.sleep(2)
            self.assertTrue(second.alive(), "the refused writer must keep running")
            self.assertNotEqual(header(seg)["generation"], g0, "the first writer stopped writing")
            rc, out, err = client("truth", "--segment", seg, "--page", page, "--sim-log", d.join("sim.jsonl"),
                                  "--seconds", "2")
            r = json.loads(out)
            self.assertEqual((rc, r["misses"], r["errors"]["malformed"]), (0, 0, 0), err)
            self.assertGreater(r["by_status"]["synchronized"], 0)
            self.assertEqual(second.log().count("another vmclockd publishes there"), 1, second.log())
            # The refused one says so in its status.
            wait_for(lambda: (second.status() or {}).get("bound"), 5, what="the second's bound status")
            st = second.status()["bound"]["clockbound"]
            self.assertEqual(st["segment"], seg)
            self.assertTrue(st["state"].startswith("not open: "), st)
            self.assertIn("another vmclockd", st["state"])
        finally:
            for x in daemons:
                x.stop()
            for p in procs:
                stop_proc(p)
            d.cleanup()

    def test_a_foreign_writer_keeps_its_segment(self):
        """A process writing the segment every second, as ClockBound's
        daemon does: vmclockd watches before its first write, sees the
        generation move, and leaves the segment alone."""
        d = TempDir("cb-foreign")
        procs, daemon = [], None
        stop = threading.Event()
        try:
            sim, page, _ = start_sim(d)
            procs.append(sim)
            seg = d.join("shm0")
            body_marker = 0xC10CB0
            with open(seg, "wb") as f:
                f.write(struct.pack("=IIIHH", 0x414D5A4E, 0x43420200, 80, 2, 2) + bytes(64))

            def foreign():
                fd = os.open(seg, os.O_RDWR)
                try:
                    for _ in range(60):
                        if stop.is_set():
                            break
                        gen, = struct.unpack("=H", os.pread(fd, 2, 14))
                        os.pwrite(fd, struct.pack("=H", gen + 1), 14)
                        os.pwrite(fd, struct.pack("=Q", body_marker), 56)
                        os.pwrite(fd, struct.pack("=H", (gen + 2) & 0xFFFF or 2), 14)
                        stop.wait(1.0)
                finally:
                    os.close(fd)
            t = threading.Thread(target=foreign, daemon=True)
            t.start()
            daemon = Vmclockd(d.path, page, {"clockbound": {"segment": seg}}).start()
            daemon.wait_log(r"another process writes it", 10)
            time.sleep(1.5)
            self.assertEqual(header(seg)["marker"], body_marker, "vmclockd wrote over the other writer's segment")
            self.assertTrue(daemon.alive())
            self.assertEqual(daemon.log().count("another process writes it"), 1)
            wait_for(lambda: (daemon.status() or {}).get("bound", {}).get("clockbound"), 5, what="status")
            self.assertTrue(daemon.status()["bound"]["clockbound"]["state"].startswith("refused"))
        finally:
            stop.set()
            if daemon:
                daemon.stop()
            for p in procs:
                stop_proc(p)
            d.cleanup()

    def test_a_clean_stop_leaves_freerunning(self):
        d = TempDir("cb-stop")
        procs, daemon = [], None
        try:
            sim, page, simlog = start_sim(d)
            procs.append(sim)
            seg = d.join("shm0")
            daemon = Vmclockd(d.path, page, {"clockbound": {"segment": seg}}).start()
            wait_for(lambda: os.path.exists(seg) and header(seg)["status"] == 1, 10, what="Synchronized")
            daemon.stop()
            daemon = None
            self.assertEqual(header(seg)["status"], 2, "a stopped daemon left a Synchronized")
            rc, out, err = client("truth", "--segment", seg, "--page", page, "--sim-log", simlog, "--seconds", "1")
            r = json.loads(out)
            self.assertEqual((rc, r["misses"], r["errors"]["malformed"]), (0, 0, 0), err)
            self.assertEqual(r["by_status"]["synchronized"], 0)
            self.assertGreater(r["by_status"]["freerunning"], 0)
        finally:
            if daemon:
                daemon.stop()
            for p in procs:
                stop_proc(p)
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
