#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fault injection against a running vmclockd (issue 7, hardening).

Each case breaks one thing under the daemon and checks what it emits:
its log (stderr), its status file (and `vmclockctl status --json`), and
every datagram that reaches a SOCK refclock endpoint the test binds itself
(or a real throwaway chronyd). For every case:

- no crash: the process stays up, and exits 0 on SIGTERM at the end;
- no sample it cannot vouch for: no datagram whose system time (tv) falls
  inside the window where the page was bad (truncated, removed, stuck odd,
  foreign counter), and every datagram carries the offset of the page that
  was live at its tv (the simulators' offsets are milliseconds apart, so a
  stale or torn sample matches none of them);
- recovery without a restart: samples flow again once the fault is gone;
- one log line per incident, not one per sample (counted and bounded).

Cases: page file truncated (50 bytes, 0 bytes), replaced by rename (idle
and live), removed and recreated; seq_count stuck odd; the page's time
jumping backwards (in place and by replacement); counter_id switching to
INVALID and to a foreign counter and back; chronyd killed and restarted;
SIGHUP storm; status file on a full file system. ptp4l stopped and
restarted under vmclockd is test_ptp_grandmaster.py's and
test_ptp_updater.py's (they need network namespaces).
"""
import json
import os
import platform
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (Chronyd, Cleanup, Sim, TempDir, Vmclockd, refclock_line,  # noqa: E402
                            rt_ns, selected_source, wait_for)
from fault_helpers import (LogMark, SockRecorder, fill_fs, in_window, mount_tmpfs,  # noqa: E402
                           proc_cpu_s, sim_wait_stopped, stop_and_exit_code, umount, write_scenario)

MS = 1_000_000
# A sample's offset may be off the simulator's truth by the page's own
# error and half the daemon's clock_gettime bracket (maxerror limit 100 us
# by default); the simulators below sit milliseconds apart.
TOL_NS = 50_000
INTERVAL_MS = 100
# How many lines one incident may take: the failure (and, for a file
# that changes again while broken, a second wording), plus the state line.
MAX_LINES_PER_INCIDENT = 3
RECOVERY_RX = re.compile(r"reads again|state synced|is back|written again|sending samples")


def fmt_lines(lines):
    return "\n".join("    " + l for l in lines) or "    (none)"


class Faults(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()
        self.d = TempDir("faults")
        self.c.add(self.d.cleanup)

    def tearDown(self):
        self.c.run()

    # ------------------------------------------------------------ plumbing

    def sim(self, offset_ns, *args, page=None):
        s = Sim(page or self.d.join("page"), ["--offset-ns", offset_ns, *args])
        self.c.add(s.stop)
        return s

    def daemon(self, sections=None, sock=True):
        rec = None
        secs = {"sampling": {"interval_ms": INTERVAL_MS, "best_of": 4}}
        if sock:
            path = self.d.join("vmc.sock")
            rec = SockRecorder(path)
            self.c.add(rec.close)
            secs["chrony"] = {"sock": path}
        for k, v in (sections or {}).items():
            secs.setdefault(k, {}).update(v)
        vmc = Vmclockd(self.d.path, self.d.join("page"), secs)
        vmc.status_file = vmc.sections["daemon"]["status_file"]
        self.c.add(vmc.stop)
        vmc.start()
        return vmc, rec

    def assert_alive(self, vmc, when):
        self.assertTrue(vmc.alive(), f"vmclockd died {when} (exit {vmc.proc.returncode}):\n{vmc.log()}")

    def assert_clean_exit(self, vmc):
        code = stop_and_exit_code(vmc)
        self.assertEqual(code, 0, f"vmclockd's exit code on SIGTERM: {code}\n{vmc.log()[-3000:]}")

    def assert_none_in(self, rec, start_ns, end_ns, what):
        bad = in_window(rec.since(), start_ns, end_ns)
        self.assertEqual(bad, [], f"{len(bad)} sample(s) reached the sink while {what} "
                                  f"(window {(end_ns - start_ns) / 1e9:.2f} s): {bad[:3]}")

    def assert_offsets(self, samples, expect_ns, what, tol=TOL_NS):
        """Every sample carries offset expect_ns (a number or a function of tv)."""
        f = expect_ns if callable(expect_ns) else (lambda tv: expect_ns)
        off = [(d["tv_ns"], d["offset"] * 1e9 - f(d["tv_ns"])) for d in samples]
        bad = [(tv, dev) for tv, dev in off if abs(dev) > tol]
        self.assertEqual(bad, [], f"{len(bad)} of {len(samples)} samples {what} are off the page's truth "
                                  f"by more than {tol} ns (tv, deviation ns): {bad[:5]}")
        return max((abs(dev) for _, dev in off), default=0.0)

    def assert_incident_lines(self, lines, what, limit=MAX_LINES_PER_INCIDENT, recover_limit=2):
        """The failure's lines (up to the first recovery line) and the
        recovery's lines, each bounded."""
        i = next((k for k, l in enumerate(lines) if RECOVERY_RX.search(l)), len(lines))
        fail, rec = lines[:i], lines[i:]
        print(f"  log lines for {what}: {len(fail)} for the failure, {len(rec)} for the recovery\n"
              f"{fmt_lines(lines)}", flush=True)
        self.assertLessEqual(len(fail), limit, f"{what}: {len(fail)} log lines, at most {limit} expected")
        self.assertLessEqual(len(rec), recover_limit,
                             f"{what}: {len(rec)} recovery log lines, at most {recover_limit} expected")
        return fail, rec

    # ---------------------------------------------------------------- 1

    def test_1_page_file_truncated_replaced_removed(self):
        page = self.d.join("page")
        s1 = self.sim(1 * MS)
        vmc, rec = self.daemon()
        first = rec.wait_new(s1.ready["realtime_ns"], 10, "a first sample")
        self.assertLess(abs(first["offset"] * 1e9 - 1 * MS), TOL_NS, first)

        # The host stops: the page stays, still valid (a stale anchor whose
        # maxerror grows 100 ns/s), so samples go on.
        sim_wait_stopped(s1)
        t_stop = rt_ns()
        rec.wait_new(t_stop + 300 * MS, 5, "samples from the idle page")

        # Truncated to 50 bytes, then to 0.
        mark = LogMark(vmc)
        os.truncate(page, 50)
        t_trunc = rt_ns()
        time.sleep(1.2)
        self.assert_alive(vmc, "after the page file was truncated to 50 bytes")
        st50 = vmc.status()
        os.truncate(page, 0)
        time.sleep(1.2)
        self.assert_alive(vmc, "after the page file was truncated to 0 bytes")
        code, ctl = vmc.ctl_status()
        st0 = vmc.status()
        trunc_lines = mark.lines()
        print(f"truncated: state {st50['state']!r} ({st50['reason']}), then {st0['state']!r} ({st0['reason']}), "
              f"page_errors {st0['page_errors']}; vmclockctl status exit {code}, state {ctl.get('state')!r}",
              flush=True)
        self.assertEqual(st50["state"], "no-data", st50)
        self.assertIn("truncated", json.dumps(st50) + json.dumps(st0) + mark.text())
        self.assertEqual(st0["state"], "no-data", st0)
        self.assertEqual(ctl.get("state"), "no-data", ctl)

        # Replaced: a new simulator renames a fresh page over it.
        mark2 = LogMark(vmc)
        t_s2 = rt_ns()
        s2 = self.sim(3 * MS)
        r2 = s2.ready["realtime_ns"]
        # Until the new simulator existed, nothing; then only its page
        # (renamed into place a moment before its ready line).
        self.assert_none_in(rec, t_trunc, t_s2, "the page file was truncated")
        back = rec.wait_new(r2, 10, "samples again after the truncated page was replaced",
                            pred=lambda d: abs(d["offset"] * 1e9 - 3 * MS) < TOL_NS)
        print(f"replaced after truncation: samples again {(back['rx_ns'] - r2) / 1e6:.0f} ms after the new "
              f"page was ready", flush=True)
        rec.wait_new(r2 + 500 * MS, 5, "samples from the replacing page")
        self.assert_incident_lines(trunc_lines, "the truncations (50 then 0 bytes)",
                                   limit=2 * MAX_LINES_PER_INCIDENT)
        rec_lines = mark2.lines()
        self.assertTrue(any("reads again" in l or "synced" in l for l in rec_lines), rec_lines)

        # Replaced while live: s3 renames its page over s2's, which goes on
        # updating the orphaned inode.
        t_s3 = rt_ns()
        s3 = self.sim(-2 * MS)
        r3 = s3.ready["realtime_ns"]
        rec.wait_new(r3, 10, "samples from the page that replaced the live one",
                     pred=lambda d: abs(d["offset"] * 1e9 + 2 * MS) < TOL_NS)
        sim_wait_stopped(s2)
        rec.wait_new(r3 + 1500 * MS, 5, "samples 1.5 s after the live page was replaced")
        late = [d for d in rec.since() if d["tv_ns"] > r3 + 1000 * MS]
        self.assertGreaterEqual(len(late), 3, late)
        self.assert_offsets(late, -2 * MS, "after the live page was replaced (> 1 s)")

        # Removed, then recreated.
        sim_wait_stopped(s3)
        mark3 = LogMark(vmc)
        os.unlink(page)
        t_rm = rt_ns()
        time.sleep(1.5)
        self.assert_alive(vmc, "after the page file was removed")
        st_rm = vmc.status()
        rm_lines = mark3.lines()
        self.assertEqual(st_rm["state"], "no-data", st_rm)
        t_s4 = rt_ns()
        s4 = self.sim(5 * MS)
        r4 = s4.ready["realtime_ns"]
        rec.wait_new(r4, 10, "samples after the page was recreated",
                     pred=lambda d: abs(d["offset"] * 1e9 - 5 * MS) < TOL_NS)
        rec.wait_new(r4 + 500 * MS, 5, "samples from the recreated page")
        self.assert_incident_lines(rm_lines, "the removal")
        # Between the removal and the new page, nothing from the old one.
        self.assert_none_in(rec, t_rm, t_s4, "the page file was removed")

        # Every sample, whole run: the offset of the page live at its tv.
        # Around a live replacement (s2's orphaned inode still updated
        # until the daemon's next refresh) either page is the truth.
        def truths(tv):
            if tv < t_trunc:
                return [1 * MS]
            if tv < t_s3:
                return [3 * MS]
            if tv < r3 + 1000 * MS:
                return [3 * MS, -2 * MS]
            if tv < t_rm:
                return [-2 * MS]
            return [5 * MS]
        allv = rec.since()
        wrong = [(d["tv_ns"], d["offset"] * 1e9, truths(d["tv_ns"])) for d in allv
                 if not any(abs(d["offset"] * 1e9 - w) <= TOL_NS for w in truths(d["tv_ns"]))]
        print(f"samples: {len(allv)} in all, malformed {len(rec.bad)}, off their page's truth: {len(wrong)}",
              flush=True)
        self.assertEqual(rec.bad, [])
        self.assertEqual(wrong, [], f"samples not matching the live page (tv, offset ns, expected): {wrong[:5]}")
        st = vmc.status()
        print(f"end: state {st['state']}, samples_sent {st['samples_sent']}, page_errors {st['page_errors']}",
              flush=True)
        self.assertEqual(st["state"], "synced", st)
        self.assert_clean_exit(vmc)

    # ---------------------------------------------------------------- 2

    def test_2_seq_count_stuck_odd(self):
        scen = write_scenario(self.d.join("stuck.toml"), [
            {"type": "stuck_odd", "at": 1.5, "duration_s": 2.0}])
        sim = self.sim(1 * MS, "--update-interval-ms", 50, "--scenario", scen)
        vmc, rec = self.daemon()
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        stuck = sim.wait_event("stuck_odd", 10)
        mark = LogMark(vmc)
        cpu0, t0 = proc_cpu_s(vmc.proc.pid), time.monotonic()
        time.sleep(1.0)
        st_mid = vmc.status()
        cpu1, t1 = proc_cpu_s(vmc.proc.pid), time.monotonic()
        unstuck = sim.wait_event("unstuck", 10)
        back = rec.wait_new(unstuck["realtime_ns"], 10, "samples again after seq_count is even again")
        lines = mark.lines()
        self.assert_alive(vmc, "with seq_count stuck odd")
        cpu_share = (cpu1 - cpu0) / (t1 - t0) if cpu0 is not None and cpu1 is not None else float("nan")
        print(f"stuck odd for {(unstuck['realtime_ns'] - stuck['realtime_ns']) / 1e9:.2f} s: state "
              f"{st_mid['state']!r} ({st_mid['reason']}), page_errors {st_mid['page_errors']}; daemon CPU while "
              f"stuck {cpu_share * 100:.0f}% of a core; samples again {(back['rx_ns'] - unstuck['realtime_ns']) / 1e6:.0f}"
              f" ms after the unstuck line", flush=True)
        self.assertEqual(st_mid["state"], "no-data", st_mid)
        self.assertIn("stuck odd", st_mid["reason"] or "", st_mid)
        # The unstuck page is published just before its line: a sample
        # from it may carry a tv a moment earlier.
        self.assert_none_in(rec, stuck["realtime_ns"], unstuck["realtime_ns"] - 50 * MS, "seq_count was stuck odd")
        self.assert_incident_lines(lines, "seq_count stuck odd")
        dev = self.assert_offsets(rec.since(), 1 * MS, "(whole run)")
        print(f"  {rec.count()} samples, all within {dev / 1e3:.1f} us of the page's truth", flush=True)
        self.assertEqual(vmc.status()["state"], "synced")
        self.assert_clean_exit(vmc)

    def test_2b_stuck_odd_does_not_spin(self):
        """A host that died mid-update leaves seq_count odd for good: the
        daemon must not spend a CPU on it (the kernel's 100 ms seqlock
        spin is per read; a daemon that starts one every watch tick burns a
        core for as long as the page stays stuck)."""
        scen = write_scenario(self.d.join("stuck.toml"), [{"type": "stuck_odd", "at": 2.0}])
        sim = self.sim(1 * MS, "--update-interval-ms", 50, "--scenario", scen)
        # The watch at 5 ms, not the default: the more watch ticks, the more
        # a spin per tick would show.
        vmc, rec = self.daemon({"source": {"watch_interval_ms": 5}})
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        cpu0, t0 = proc_cpu_s(vmc.proc.pid), time.monotonic()
        time.sleep(1.0)
        cpu1, t1 = proc_cpu_s(vmc.proc.pid), time.monotonic()
        sim.wait_event("stuck_odd", 10)
        time.sleep(0.5)
        cpu2, t2 = proc_cpu_s(vmc.proc.pid), time.monotonic()
        time.sleep(2.0)
        cpu3, t3 = proc_cpu_s(vmc.proc.pid), time.monotonic()
        self.assert_alive(vmc, "with seq_count stuck odd")
        base = (cpu1 - cpu0) / (t1 - t0)
        stuck = (cpu3 - cpu2) / (t3 - t2)
        print(f"vmclockd CPU: {base * 100:.0f}% of a core sampling a good page, {stuck * 100:.0f}% with "
              f"seq_count stuck odd (watch_interval_ms 5, interval_ms {INTERVAL_MS})", flush=True)
        self.assertLess(stuck, 0.25, "vmclockd busy-spins on a page whose seq_count stays odd: "
                                     "watch_tick() starts a 100 ms seqlock spin every watch interval")
        self.assert_clean_exit(vmc)

    # ---------------------------------------------------------------- 3

    def test_3_time_jumps_backwards(self):
        jump_at = 1.5
        scen = write_scenario(self.d.join("back.toml"), [
            {"type": "set", "at": jump_at, "offset_ns": -10_000_000_000}])
        sim = self.sim(2 * MS, "--update-interval-ms", 50, "--scenario", scen)
        vmc, rec = self.daemon()
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        ev = sim.wait_event("set", 10)
        t_set = ev["realtime_ns"]
        self.assertEqual(ev["offset_ns"], -10_000_000_000, ev)
        rec.wait_new(t_set, 10, "a sample 10 s back",
                     pred=lambda d: abs(d["offset"] * 1e9 + 10e9) < TOL_NS)
        time.sleep(1.0)
        # In place: before the line, +2 ms or (already) -10 s; after it only -10 s.
        before = [d for d in rec.since() if d["tv_ns"] <= t_set]
        after = [d for d in rec.since() if d["tv_ns"] > t_set]
        mixed = [d for d in before if not (abs(d["offset"] * 1e9 - 2 * MS) <= TOL_NS
                                           or abs(d["offset"] * 1e9 + 10e9) <= TOL_NS)]
        self.assertEqual(mixed, [], f"samples matching neither the old nor the new time: {mixed[:5]}")
        dev = self.assert_offsets(after, -10_000_000_000, "after the page's time went 10 s back (in place)")
        print(f"in place: {len(before)} samples before the jump, {len(after)} after, max deviation "
              f"{dev / 1e3:.1f} us; state {vmc.status()['state']}", flush=True)

        # By replacement: a new simulator 20 s behind renames its page over.
        sim_wait_stopped(sim)
        n_before = rec.count()
        sim2 = self.sim(-20_000_000_000)
        r2 = sim2.ready["realtime_ns"]
        rec.wait_new(r2, 10, "a sample 20 s back", pred=lambda d: abs(d["offset"] * 1e9 + 20e9) < TOL_NS)
        time.sleep(1.0)
        new = rec.since(n_before)
        bad = [d for d in new if not (abs(d["offset"] * 1e9 + 10e9) <= TOL_NS
                                      or abs(d["offset"] * 1e9 + 20e9) <= TOL_NS)]
        self.assertEqual(bad, [], f"samples matching neither page: {bad[:5]}")
        # The old (stopped, still valid) page may give one more sample
        # while the daemon has not yet looked at the path again.
        late = [d for d in new if d["tv_ns"] > r2 + 200 * MS]
        dev2 = self.assert_offsets(late, -20_000_000_000, "0.2 s after the replacing page's ready line")
        st = vmc.status()
        print(f"replaced: {len(late)} samples at -20 s, max deviation {dev2 / 1e3:.1f} us; state {st['state']}, "
              f"last offset {st['last_sample']['offset_ns']} ns, page_errors {st['page_errors']}", flush=True)
        self.assertEqual(st["state"], "synced", st)
        self.assertLess(abs(st["last_sample"]["offset_ns"] + 20_000_000_000), TOL_NS, st["last_sample"])
        self.assertEqual(rec.bad, [])
        self.assert_alive(vmc, "after the time jumps")
        self.assert_clean_exit(vmc)

    # ---------------------------------------------------------------- 4

    def test_4_counter_id_switching(self):
        foreign = "arm_vcnt" if platform.machine() in ("x86_64", "i686", "i386") else "x86_tsc"
        scen = write_scenario(self.d.join("counter.toml"), [
            {"type": "set", "at": 1.5, "counter_id": "invalid"},
            {"type": "set", "at": 3.0, "counter_id": foreign},
            {"type": "set", "at": 4.5, "counter_id": "native"}])
        sim = self.sim(1 * MS, "--update-interval-ms", 50, "--scenario", scen)
        vmc, rec = self.daemon()
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        mark = LogMark(vmc)
        e1 = sim.wait_event("set", 10)
        time.sleep(0.7)
        st_inv = vmc.status()
        e2 = sim.wait_event("set", 10, after=sim.events.index(e1) + 1)
        time.sleep(0.7)
        st_for = vmc.status()
        e3 = sim.wait_event("set", 10, after=sim.events.index(e2) + 1)
        self.assertEqual((e1["counter_id"], e2["counter_id"]), ("invalid", foreign), (e1, e2))
        back = rec.wait_new(e3["realtime_ns"], 10, "samples again after the native counter is back")
        lines = mark.lines()
        print(f"counter_id invalid: state {st_inv['state']!r} ({st_inv['reason']}); {foreign}: "
              f"{st_for['state']!r} ({st_for['reason']}); native again: samples after "
              f"{(back['rx_ns'] - e3['realtime_ns']) / 1e6:.0f} ms", flush=True)
        self.assertEqual(st_inv["state"], "watching", st_inv)  # counter INVALID: a disruption-only page
        self.assertEqual(st_for["state"], "no-data", st_for)
        self.assert_none_in(rec, e1["realtime_ns"], e3["realtime_ns"] - 50 * MS,
                            "the page's counter was INVALID or foreign")
        self.assert_incident_lines(lines, "counter_id invalid -> foreign -> native")
        self.assert_offsets(rec.since(), 1 * MS, "(whole run)")
        self.assert_alive(vmc, "after the counter_id changes")
        self.assertEqual(vmc.status()["state"], "synced")
        self.assert_clean_exit(vmc)

    # ---------------------------------------------------------------- 5

    def test_5_chronyd_killed_and_restarted(self):
        sim = self.sim(37_500)
        ch = Chronyd([refclock_line("sock", self.d.join("chrony-vmc.sock"))], tag="faults")
        self.c.add(ch.cleanup)
        ch.start()
        vmc, _ = self.daemon({"chrony": {"sock": self.d.join("chrony-vmc.sock"), "command_socket": ch.sock}},
                             sock=False)
        wait_for(lambda: selected_source(ch, "VMC"), 30, what="chrony to select VMC")
        sent0 = vmc.status()["samples_sent"]
        mark = LogMark(vmc)
        ch.stop(signal.SIGKILL)
        time.sleep(3.0)
        st = vmc.status()
        down_lines = mark.lines()
        self.assert_alive(vmc, "after chronyd was killed")
        print(f"chronyd killed: state {st['state']}, sink {st['sinks'][0]['state']!r}, samples_sent "
              f"{sent0} -> {st['samples_sent']}", flush=True)
        self.assertEqual(st["state"], "synced", st)
        self.assertFalse(st["sinks"][0]["ok"], st["sinks"])
        self.assert_incident_lines(down_lines, "chronyd gone (3 s, ~30 samples)")
        mark2 = LogMark(vmc)
        ch.start()
        t0 = time.monotonic()
        wait_for(lambda: selected_source(ch, "VMC"), 30, what="chrony to select VMC after its restart")
        t_sel = time.monotonic() - t0
        # The status file is rewritten once a second: wait for the sink's line.
        st = wait_for(lambda: (x := vmc.status()) and x["sinks"][0]["ok"] and x, 15, interval=0.1,
                      what="the SOCK sink reconnected in the status file")
        print(f"chronyd restarted: VMC selected after {t_sel:.1f} s, sink {st['sinks'][0]['state']!r}, "
              f"state {st['state']}", flush=True)
        self.assertTrue(st["sinks"][0]["ok"], st["sinks"])
        self.assertEqual(st["state"], "synced", st)
        self.assert_incident_lines(mark2.lines(), "chronyd back")
        self.assert_clean_exit(vmc)

    # ---------------------------------------------------------------- 6

    def test_6_sighup_storm(self):
        sim = self.sim(1 * MS)
        vmc, rec = self.daemon()
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        mark = LogMark(vmc)
        n_sig = 200
        t0 = rt_ns()
        m0 = time.monotonic()
        for i in range(n_sig):
            vmc.proc.send_signal(signal.SIGHUP)
            # 200 within 2 s, paced by the clock (a slow loop does not stretch it).
            wake = m0 + (i + 1) * 2.0 / n_sig
            time.sleep(max(0.0, wake - time.monotonic()))
        t1 = rt_ns()
        time.sleep(1.5)
        self.assert_alive(vmc, "after the SIGHUP storm")
        st = vmc.status()
        lines = mark.lines()
        during = [d for d in rec.since() if t0 <= d["tv_ns"] <= t1]
        tvs = [d["tv_ns"] for d in rec.since() if t0 - 500 * MS <= d["tv_ns"] <= t1 + 1000 * MS]
        gap = max((b - a for a, b in zip(tvs, tvs[1:])), default=None)
        other = [l for l in lines if "SIGHUP" not in l and "reloaded" not in l]
        print(f"{n_sig} SIGHUPs in {(t1 - t0) / 1e9:.2f} s: config_reloads {st['config_reloads']}, log lines "
              f"{len(lines)} ({len(other)} other than the reload pair), samples during the storm {len(during)}, "
              f"largest gap {None if gap is None else round(gap / 1e6)} ms, state {st['state']}", flush=True)
        if other:
            print(fmt_lines(other[:10]))
        self.assertGreaterEqual(st["config_reloads"], 1)
        self.assertLessEqual(st["config_reloads"], n_sig)
        # Bounded: at most the two lines of each reload that happened
        # (signals coalesce), nothing else (no sink rebuilt for an
        # unchanged config, no page incident).
        self.assertLessEqual(len(lines), 2 * st["config_reloads"] + 2, fmt_lines(lines[:10]))
        self.assertLessEqual(len(other), 1, fmt_lines(other))
        self.assertGreaterEqual(len(during), int((t1 - t0) / 1e9 * 1000 / INTERVAL_MS / 3),
                                "samples stopped during the SIGHUP storm")
        self.assertLess(gap, 1000 * MS, "a gap of over a second in the samples during the storm")
        self.assertEqual(st["state"], "synced", st)
        self.assert_offsets(rec.since(), 1 * MS, "(whole run)")
        self.assert_clean_exit(vmc)

    # ---------------------------------------------------------------- 7

    def test_7_status_file_disk_full(self):
        mnt = self.d.join("st")
        os.mkdir(mnt)
        ok, why = mount_tmpfs(mnt, "64k")
        if not ok:
            self.skipTest(f"cannot mount a tmpfs ({why}); the disk-full case needs one")
        self.c.add(lambda: umount(mnt))
        status_file = os.path.join(mnt, "status.json")
        sim = self.sim(1 * MS)
        vmc, rec = self.daemon({"daemon": {"status_file": status_file}})
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 10, what="status synced")
        mark = LogMark(vmc)
        filler, n = fill_fs(mnt)
        t_full = rt_ns()
        n0 = rec.count()
        time.sleep(3.5)
        self.assert_alive(vmc, "with its status file system full")
        n1 = rec.count()
        st_full = vmc.status()
        full_lines = mark.lines()
        print(f"tmpfs full ({n} bytes of filler): {n1 - n0} samples in 3.5 s; status file still readable: "
              f"{st_full is not None}, last updated {(t_full - (st_full or {}).get('updated_unix_ns', 0)) / 1e9:.1f} "
              f"s before the fill", flush=True)
        self.assertGreaterEqual(n1 - n0, 10, "samples stopped while the status file could not be written")
        self.assertIsNotNone(st_full, "the status file was lost (not replaced atomically)")
        self.assertLessEqual(st_full["updated_unix_ns"], t_full, "status file written on a full file system?")
        fail_lines = [l for l in full_lines if "status" in l.split("vmclockd:", 1)[-1][:10]]
        self.assert_incident_lines(full_lines, "status file on a full file system", limit=1)
        self.assertEqual(len(fail_lines), 1, fmt_lines(full_lines))
        self.assertRegex(fail_lines[0], r"No space left on device")

        mark2 = LogMark(vmc)
        os.unlink(filler)
        t_free = rt_ns()
        wait_for(lambda: (s := vmc.status()) and s["updated_unix_ns"] > t_free, 10,
                 what="the status file written again after space was freed")
        time.sleep(2.5)
        rec_lines = mark2.lines()
        self.assert_incident_lines(rec_lines, "space freed again", limit=0, recover_limit=1)
        self.assertRegex(rec_lines[0] if rec_lines else "", r"written again")
        code, ctl = vmc.ctl_status()
        print(f"recovered: vmclockctl status exit {code}, state {ctl.get('state')!r}, samples_sent "
              f"{ctl.get('samples_sent')}", flush=True)
        self.assertEqual(ctl.get("state"), "synced", ctl)
        self.assert_offsets(rec.since(), 1 * MS, "(whole run)")
        self.assert_clean_exit(vmc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
