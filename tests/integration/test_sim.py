#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclock-sim end to end: starts the simulator, waits for its "ready" line,
reads the page file per the ABI (python struct) and checks it against the
realtime clock, the fixture and the simulator's own ground truth.

Python cannot read the TSC, so the time checks are built from the page alone:
 - the page's anchor time vs CLOCK_REALTIME when python first sees the new
   page (millisecond-level, independent of the simulator's claims);
 - one page extrapolated to the next page's counter_value (nanosecond-level:
   tests the calibration and that drift is applied to both offset and period).
Environment: VMC_BIN (binaries), VMC_SOURCE, VMC_FIXTURES.
"""
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("VMC_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SIM = os.path.join(BIN, "vmclock-sim")
SOURCE = os.environ.get("VMC_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
FIXTURES = os.environ.get("VMC_FIXTURES", os.path.join(SOURCE, "tests/fixtures"))

# Linux vmclock ABI (include/uapi/linux/vmclock-abi.h), little-endian, 112 bytes.
LAYOUT = struct.Struct("<IIHBBIQQ2sBBhBBQQQQQQQQQ")
assert LAYOUT.size == 112
FIELDS = ("magic size version counter_id time_type seq_count disruption_marker flags pad clock_status "
          "smearing tai_offset_sec leap_indicator shift counter_value period period_esterror_rate "
          "period_maxerror_rate time_sec time_frac esterror_ns maxerror_ns generation").split()
MAGIC = 0x4B4C4356
F_TAI_OFFSET_VALID = 1 << 0
F_SOON = 1 << 1
F_IMMINENT = 1 << 2
F_PERIOD_EST = 1 << 3
F_PERIOD_MAX = 1 << 4
F_TIME_EST = 1 << 5
F_TIME_MAX = 1 << 6
F_GEN = 1 << 8
F_NOTIFY = 1 << 9
COUNTER_IDS = {"arm_vcnt": 0, "x86_tsc": 1, "invalid": 0xFF}
STATUS = {"unknown": 0, "initializing": 1, "synchronized": 2, "freerunning": 3, "unreliable": 4}
TWO64 = 1 << 64


def rt_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def read_page(path, allow_odd=False, tries=2000):
    """A consistent copy: seq even and two reads identical (bounded)."""
    last = None
    for _ in range(tries):
        with open(path, "rb") as f:
            a = f.read(4096)
            f.seek(0)
            b = f.read(4096)
        p = dict(zip(FIELDS, LAYOUT.unpack_from(a)))
        last = p
        if a == b and (allow_odd or p["seq_count"] % 2 == 0):
            p["raw"] = a
            return p
        time.sleep(0.0005)
    raise AssertionError(f"no consistent even page in {path} after {tries} reads: {last}")


def page_time_at(p, counter):
    """Page time at `counter` in units of 2^-64 s (exact integers)."""
    delta = (counter - p["counter_value"]) & (TWO64 - 1)
    if delta >= 1 << 63:
        delta -= TWO64
    base = p["time_sec"] * TWO64 + p["time_frac"]
    step = (abs(delta) * p["period"]) >> p["shift"]
    return base + step if delta >= 0 else base - step


def units_to_ns(u):
    return u * 1_000_000_000 / TWO64


class Sim:
    """A running vmclock-sim with --json; reads its lines with a timeout."""

    def __init__(self, tmp, *args, page="page"):
        self.page = os.path.join(tmp, page)
        self.proc = subprocess.Popen([SIM, "--page", self.page, "--json", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.ready = self.wait_for("ready", 10)

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise AssertionError(f"no line from vmclock-sim in {timeout} s; stderr: {self.stderr_now()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"vmclock-sim closed stdout (rc {self.proc.poll()}); "
                                     f"stderr: {self.stderr_now()}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def wait_for(self, event, timeout):
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            j = self.line(max(0.01, deadline - time.monotonic()))
            if j["event"] == event:
                return j
        raise AssertionError(f"no {event} line")

    def stderr_now(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
        return rc


def wait_new_page(path, seq, timeout):
    """Polls until seq_count moves past `seq`; returns (page, realtime seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = read_page(path)
        seen = rt_ns()
        if p["seq_count"] != seq:
            return p, seen
        time.sleep(0.0002)
    raise AssertionError(f"page {path} not updated past seq {seq} in {timeout} s")


class SimTest(unittest.TestCase):
    def setUp(self):
        self.tmpobj = tempfile.TemporaryDirectory(prefix="vmc-sim-")
        self.tmp = self.tmpobj.name
        self.sims = []

    def tearDown(self):
        for s in self.sims:
            s.stop()
        self.tmpobj.cleanup()

    def start(self, *args, **kw):
        s = Sim(self.tmp, *args, **kw)
        self.sims.append(s)
        return s

    def test_ready_page_shape(self):
        s = self.start("--marker", "5", "--generation", "9")
        r = s.ready
        for key in ("page", "pid", "counter_period_s", "counter_period_frac_sec", "counter_period_shift",
                    "calibrated_period_s", "offset_ns", "drift_ppm", "marker", "generation", "status",
                    "realtime_ns", "seq", "time_type", "counter_id"):
            self.assertIn(key, r)
        self.assertEqual(r["page"], s.page)
        self.assertEqual(r["pid"], s.proc.pid)
        p = read_page(s.page)
        self.assertEqual(p["magic"], MAGIC)
        self.assertEqual(p["version"], 1)
        self.assertEqual(p["size"], 112)
        self.assertEqual(p["seq_count"] % 2, 0)
        self.assertEqual(p["counter_id"], COUNTER_IDS[r["native_counter"]])
        self.assertEqual(p["time_type"], 0)
        self.assertEqual(p["clock_status"], STATUS["synchronized"])
        self.assertEqual(p["disruption_marker"], 5)
        self.assertEqual(p["generation"], 9)
        want = F_GEN | F_TIME_MAX | F_TIME_EST | F_PERIOD_MAX | F_PERIOD_EST
        self.assertEqual(p["flags"], want)
        self.assertEqual(p["maxerror_ns"], 1000)
        self.assertEqual(p["esterror_ns"], 100)
        # >= 60 significant bits in the period, and what "ready" says.
        self.assertGreaterEqual(p["period"], 1 << 60)
        self.assertEqual(p["period"], r["counter_period_frac_sec"])
        self.assertEqual(p["shift"], r["counter_period_shift"])
        self.assertAlmostEqual(p["period"] / 2 ** (64 + p["shift"]), r["counter_period_s"], delta=1e-18)
        # 100 ppb of the period (default --period-maxerror-ppb).
        self.assertAlmostEqual(p["period_maxerror_rate"] / p["period"], 100e-9, delta=1e-15)
        self.assertEqual(len(p["raw"]), 4096)
        self.assertEqual(p["raw"][112:], bytes(4096 - 112))
        self.assertEqual(os.stat(s.page).st_mode & 0o777, 0o644)
        self.assertEqual(os.listdir(self.tmp), ["page"], "temporary file left behind")

    def test_offset_and_drift_vs_realtime(self):
        # Independent of the simulator's own numbers: the page's anchor time
        # minus the offset is the realtime at which it was written, which
        # is just before python saw it.
        offset = 2_500_000_000
        drift = 20000.0  # 2 %: 40 ms over 2 s, far above the polling jitter
        s = self.start("--offset-ns", str(offset), "--drift-ppm", str(drift), "--update-interval-ms", "20")
        p0 = read_page(s.page)
        first = None
        lags = []
        samples = []
        for _ in range(100):
            p, seen = wait_new_page(s.page, p0["seq_count"], 2)
            p0 = p
            t_ns = units_to_ns(p["time_sec"] * TWO64 + p["time_frac"])
            samples.append((seen, t_ns))
            if first is None:
                first = seen
            # Offset with drift since ready.
            want_offset = offset + drift * 1e-6 * (seen - s.ready["realtime_ns"])
            lags.append(seen - (t_ns - want_offset))
            if seen - first > 2_000_000_000:
                break
        lags.sort()
        median = lags[len(lags) // 2]
        self.assertGreater(lags[0], -2_000_000, f"page ahead of realtime+offset: {lags[:5]}")
        self.assertLess(median, 5_000_000, f"page behind realtime+offset: median lag {median} ns")
        (s0, t0), (s1, t1) = samples[0], samples[-1]
        rate = (t1 - t0) / (s1 - s0) - 1
        self.assertAlmostEqual(rate, drift * 1e-6, delta=0.003, msg=f"page rate - 1 = {rate}")
        # The period carries the drift too.
        p = read_page(s.page)
        ratio = (p["period"] / 2 ** (64 + p["shift"])) / s.ready["calibrated_period_s"]
        self.assertAlmostEqual(ratio, 1 + drift * 1e-6, delta=1e-6)

    def test_calibration_consistency(self):
        # Each page extrapolated to the next page's counter_value must give
        # the next page's time: bracket noise plus period error over one
        # interval. A period off by 1e-6, or drift missing from the period,
        # is microseconds here.
        s = self.start("--drift-ppm", "50", "--update-interval-ms", "500", "--offset-ns", "-3000000")
        prev, _ = wait_new_page(s.page, read_page(s.page)["seq_count"], 3)
        errs = []
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            cur, _ = wait_new_page(s.page, prev["seq_count"], 3)
            errs.append(units_to_ns(page_time_at(prev, cur["counter_value"]) -
                                    (cur["time_sec"] * TWO64 + cur["time_frac"])))
            prev = cur
        late = sorted(abs(e) for e in errs[4:])  # after ~2.5 s of calibration
        print(f"extrapolation errors (ns): {[round(e) for e in errs]}", file=sys.stderr)
        self.assertGreaterEqual(len(late), 5)
        self.assertLess(late[len(late) // 2], 150, f"median |error| {late[len(late) // 2]} ns")
        self.assertLess(late[-1], 2000, f"max |error| {late[-1]} ns")

    def test_sigusr1_migration(self):
        s = self.start("--update-interval-ms", "200", "--generation", "4")
        time.sleep(0.5)
        before = read_page(s.page)
        s.proc.send_signal(signal.SIGUSR1)
        m = s.wait_for("migration", 5)
        after = read_page(s.page)
        self.assertEqual(m["source"], "SIGUSR1")
        self.assertEqual(m["marker"], before["disruption_marker"] + 1)
        self.assertEqual(m["generation"], 5)
        self.assertEqual(after["disruption_marker"], before["disruption_marker"] + 1)
        self.assertEqual(after["generation"], 5)
        # The new drift runs from the step on: a slow build prints a few ns later.
        self.assertAlmostEqual(m["offset_ns"], 100_000, delta=1000)
        self.assertEqual(m["drift_ppm"], 20.0)
        # The page itself jumps by the step at the new anchor: the old page
        # extrapolated there is 100 us behind (drift changes only after it).
        if after["counter_value"] != before["counter_value"]:
            jump = units_to_ns((after["time_sec"] * TWO64 + after["time_frac"]) -
                               page_time_at(before, after["counter_value"]))
            self.assertAlmostEqual(jump, 100_000, delta=1_500, msg=f"jump {jump} ns")
        # The new period is 20 ppm longer than the calibrated one.
        ratio = (after["period"] / 2 ** (64 + after["shift"])) / s.ready["calibrated_period_s"]
        self.assertAlmostEqual(ratio, 1 + 20e-6, delta=2e-7)

    def test_sigterm_exits_zero_and_leaves_page(self):
        s = self.start()
        s.proc.send_signal(signal.SIGTERM)
        bye = s.wait_for("exit", 5)
        self.assertEqual(bye["reason"], "SIGTERM")
        self.assertEqual(s.proc.wait(5), 0)
        self.assertTrue(os.path.exists(s.page))
        self.assertEqual(read_page(s.page)["magic"], MAGIC)

    def test_duration_and_human_output(self):
        page = os.path.join(self.tmp, "h")
        r = subprocess.run([SIM, "--page", page, "--duration", "0.3"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("ready "), lines[0])
        self.assertIn("offset_ns=0", lines[0])
        self.assertTrue(lines[-1].startswith("exit "), lines[-1])
        self.assertIn("reason=duration", lines[-1])

    def test_disruption_only_matches_firecracker(self):
        with open(os.path.join(FIXTURES, "vmclock-firecracker-page.bin"), "rb") as f:
            fixture = f.read()
        s = self.start("--disruption-only", "--marker", "1", "--generation", "1")
        p = read_page(s.page)
        self.assertEqual(p["raw"], fixture)
        self.assertEqual(s.ready["status"], "unknown")
        self.assertEqual(s.ready["counter_id"], "invalid")
        # Not rewritten on its own; a restore bumps marker and generation only.
        time.sleep(1.2)
        self.assertEqual(read_page(s.page)["seq_count"], 2)
        s.proc.send_signal(signal.SIGUSR1)
        s.wait_for("migration", 5)
        q = read_page(s.page)
        self.assertEqual((q["disruption_marker"], q["generation"], q["seq_count"]), (2, 2, 4))
        want = bytearray(fixture)
        struct.pack_into("<I", want, 0x0C, 4)
        struct.pack_into("<Q", want, 0x10, 2)
        struct.pack_into("<Q", want, 0x68, 2)
        self.assertEqual(q["raw"], bytes(want))

    def test_tai_no_generation_foreign_counter(self):
        s = self.start("--time-type", "tai", "--tai-offset", "-37", "--no-generation", "--counter-id", "arm_vcnt",
                       "--status", "freerunning", "--leap", "pre-pos", "--smearing", "utc-sls", "--no-esterror")
        p = read_page(s.page)
        seen = rt_ns()
        self.assertEqual(p["size"], 104)
        self.assertEqual(p["time_type"], 1)
        self.assertEqual(p["tai_offset_sec"], -37)
        self.assertEqual(p["counter_id"], 0)
        self.assertEqual(p["clock_status"], STATUS["freerunning"])
        self.assertEqual(p["leap_indicator"], 1)
        self.assertEqual(p["smearing"], 2)
        self.assertEqual(p["flags"], F_TAI_OFFSET_VALID | F_TIME_MAX | F_PERIOD_MAX)
        self.assertEqual(p["generation"], 0)
        # TAI = UTC + 37 s.
        self.assertAlmostEqual(p["time_sec"] - seen / 1e9, 37, delta=2)

    def test_scenario_events(self):
        scen = os.path.join(self.tmp, "s.toml")
        with open(scen, "w") as f:
            f.write("""
migration_offset_step_ns = 7000
[[event]]
type = "status"
at = 0.3
status = "unreliable"
[[event]]
type = "migration"
at = 1.0
soon_ms = 400
imminent_ms = 200
bump_generation = false
[[event]]
type = "stuck_odd"
at = 1.3
duration_s = 0.4
[[event]]
type = "stop_updates"
at = 2.0
duration_s = 0.5
[[event]]
type = "leap"
at = 2.6
leap = "pre-neg"
after_s = 0.2
post_s = 0.2
[[event]]
type = "set"
at = 3.2
offset_ns = 42
counter_id = "invalid"
maxerror_ns = 9999
""")
        s = self.start("--scenario", scen, "--update-interval-ms", "50")
        self.assertEqual(s.ready["scenario"], scen)
        seen = []

        def next_event(name):
            j = s.wait_for(name, 5)
            seen.append(name)
            return j

        next_event("status")
        self.assertEqual(read_page(s.page)["clock_status"], STATUS["unreliable"])
        next_event("disruption_soon")
        self.assertEqual(read_page(s.page)["flags"] & (F_SOON | F_IMMINENT), F_SOON)
        next_event("disruption_imminent")
        self.assertEqual(read_page(s.page)["flags"] & (F_SOON | F_IMMINENT), F_SOON | F_IMMINENT)
        m = next_event("migration")
        p = read_page(s.page)
        self.assertEqual(p["flags"] & (F_SOON | F_IMMINENT), 0)
        self.assertEqual((p["disruption_marker"], p["generation"]), (1, 0))
        self.assertAlmostEqual(m["offset_ns"], 7000, delta=1000)
        next_event("stuck_odd")
        stuck = read_page(s.page, allow_odd=True)
        self.assertEqual(stuck["seq_count"] % 2, 1)
        time.sleep(0.15)
        self.assertEqual(read_page(s.page, allow_odd=True)["seq_count"], stuck["seq_count"])
        next_event("unstuck")
        self.assertEqual(read_page(s.page)["seq_count"] % 2, 0)
        next_event("stop_updates")
        seq = read_page(s.page)["seq_count"]
        time.sleep(0.3)
        self.assertEqual(read_page(s.page)["seq_count"], seq, "updated while stopped")
        next_event("resume_updates")
        next_event("leap_pending")
        self.assertEqual(read_page(s.page)["leap_indicator"], 2)
        next_event("leap")
        self.assertEqual(read_page(s.page)["leap_indicator"], 5)
        next_event("leap_clear")
        self.assertEqual(read_page(s.page)["leap_indicator"], 0)
        j = next_event("set")
        p = read_page(s.page)
        self.assertEqual(p["counter_id"], 0xFF)
        self.assertEqual(p["maxerror_ns"], 9999)
        self.assertEqual(j["counter_id"], "invalid")
        self.assertLess(abs(j["offset_ns"] - 42), 1000)

    def test_fast_updates(self):
        s = self.start("--update-interval-ms", "0.1")
        a = read_page(s.page)
        time.sleep(1.0)
        b = read_page(s.page)
        updates = (b["seq_count"] - a["seq_count"]) // 2
        print(f"0.1 ms interval: {updates} updates in 1 s", file=sys.stderr)
        self.assertGreater(updates, 1000)
        self.assertLessEqual(updates, 10_500)

    def test_bad_options_exit_64(self):
        page = os.path.join(self.tmp, "p")
        cases = [
            (["--page", page, "--drift-ppm", "fast"], ["--drift-ppm", "fast"]),
            (["--page", page, "--status", "happy"], ["--status", "happy"]),
            (["--page", page, "--time-type", "gps"], ["--time-type", "gps"]),
            (["--page", page, "--update-interval-ms", "0.01"], ["--update-interval-ms", "0.01"]),
            (["--page", page, "--leap", "sideways"], ["--leap", "sideways"]),
            (["--page", page, "--counter-id", "hpet"], ["--counter-id", "hpet"]),
            (["--page", page, "--tai-offset", "99999"], ["--tai-offset", "99999"]),
            (["--page", page, "--no-such-option"], ["--no-such-option"]),
            (["--offset-ns", "5"], ["--page"]),
        ]
        for args, says in cases:
            r = subprocess.run([SIM, *args], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 64, (args, r.stderr))
            for w in says:
                self.assertIn(w, r.stderr, args)
            self.assertFalse(os.path.exists(page))

    def test_bad_scenario_exit_78(self):
        page = os.path.join(self.tmp, "p")
        cases = [
            ('[[event]]\ntype = "migration"\nat = 1\nsmoon_ms = 3\n', ["event[0].smoon_ms", "3"]),
            ('[[event]]\ntype = "set"\nat = 1\noffset_ns = 1\n[[event]]\ntype = "status"\nat = 2\nstatus = "ok"\n',
             ["event[1].status", '"ok"']),
            ('[[event]]\ntype = "explode"\nat = 1\n', ["event[0].type", '"explode"']),
            ('[[event]]\ntype = "status"\nat = "soon"\nstatus = "unknown"\n', ["event[0].at", '"soon"']),
            ("[[event]\n", ["bad.toml:1"]),
        ]
        for text, says in cases:
            path = os.path.join(self.tmp, "bad.toml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([SIM, "--page", page, "--scenario", path], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 78, (text, r.stderr))
            self.assertIn(path, r.stderr)
            for w in says:
                self.assertIn(w, r.stderr, text)
            self.assertFalse(os.path.exists(page))
        r = subprocess.run([SIM, "--page", page, "--scenario", os.path.join(self.tmp, "missing.toml")],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn("missing.toml", r.stderr)

    def test_example_scenario_parses(self):
        # The shipped example must stay valid: run it for a moment.
        ex = os.path.join(SOURCE, "src/sim/scenarios/example.toml")
        s = self.start("--scenario", ex, "--duration", "0.5")
        self.assertEqual(s.wait_for("exit", 5)["reason"], "duration")


if __name__ == "__main__":
    unittest.main(verbosity=2)
