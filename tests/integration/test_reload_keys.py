#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every key `vmclockd --print-options` lists is honoured by a reload.

For each key the daemon is sent SIGHUP with a file that changes that one
key (and nothing else) from a base file. After each reload the status
file's `settings` must equal exactly what the file says, for every key,
and where the key has an effect that can be seen from outside (a sample
rate, a socket or file that appears, a refused sample, a log line), that
effect is checked too. The table below must name every key the daemon
prints: a key added to the daemon and not here fails this test, so no
key can be forgotten by a reload again.
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Cleanup, Sim, SockCatcher, TempDir, Vmclockd, toml_text, vmc_bin, wait_for  # noqa: E402


def printed_options():
    """{"section.key": default} from --print-options (its '#key = value' lines)."""
    r = subprocess.run([vmc_bin("vmclockd"), "--print-options"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    opts, sec = {}, None
    for line in r.stdout.splitlines():
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            sec = m.group(1)
            continue
        m = re.fullmatch(r"#(\w+) = (.*)", line)
        if m:
            opts[f"{sec}.{m.group(1)}"] = m.group(2)
    return opts


def voluntary_switches(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


def switches_per_s(pid, seconds=1.0):
    a = voluntary_switches(pid)
    time.sleep(seconds)
    return (voluntary_switches(pid) - a) / seconds


class ReloadEveryKey(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()
        self.d = TempDir("reloadkeys")
        self.c.add(self.d.cleanup)

    def tearDown(self):
        self.c.run()

    def test_every_key(self):
        d = self.d
        sim = Sim(d.join("page"), ["--offset-ns", 20_000])
        self.c.add(sim.stop)
        sim2 = Sim(d.join("page2"), ["--offset-ns", 30_000])
        self.c.add(sim2.stop)
        sock = SockCatcher(d.join("vmc.sock"))
        self.c.add(sock.close)
        sock2 = SockCatcher(d.join("vmc2.sock"))
        self.c.add(sock2.close)
        os.mkdir(d.join("clients2"))
        base = {
            "source": {"page": sim.page},
            "chrony": {"sock": sock.path, "command_socket": d.join("chronyd.sock"), "client_dir": d.path},
            "daemon": {"user": ""},
            "bound": {"segment": d.join("bound")},
            "ptp4l": {"uds_address": d.join("ptp4l"), "client_address": d.join("pmc.sock")},
        }
        vmc = Vmclockd(d.path, sim.page, base)
        self.c.add(vmc.stop)
        base = vmc.sections  # as the helper completed it
        vmc.start()
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 10, what="state synced")

        status_file = [base["daemon"]["status_file"]]

        def status():
            try:
                with open(status_file[0]) as f:
                    import json
                    return json.load(f)
            except (OSError, ValueError):
                return None

        def rate(catcher, seconds=2.0):
            catcher.collect(0.3)
            return len(catcher.collect(seconds)) / seconds

        def exists(path):
            return lambda: wait_for(lambda: os.path.exists(path), 5, what=path)

        def state_reason(pattern):
            return lambda: wait_for(lambda: (s := status()) and re.search(pattern, s.get("reason") or ""), 5,
                                    what=f"reason /{pattern}/")

        def sink_named(n):
            return lambda: wait_for(lambda: (s := status()) and any(x["name"] == n for x in s["sinks"]), 5,
                                    what=f"sink {n}")

        def bound_field(k, v):
            # max_drift_ppb as published also holds the clock's measured rate.
            def value(b):
                return b[k] - b["clock_rate_ppb"] if k == "max_drift_ppb" else b[k]
            return lambda: wait_for(lambda: (s := status()) and s["bound"] and value(s["bound"]) == v, 5,
                                    what=f"bound.{k} == {v}")

        def page_path(p):
            return lambda: wait_for(lambda: (s := status()) and s["page"]["path"] == p, 5, what=f"page {p}")

        def faster_samples():
            self.assertGreater(rate(sock), 7.0)  # 250 ms -> 100 ms: about 10 a second

        def samples_to(catcher):
            return lambda: self.assertGreater(rate(catcher), 2.0)

        def more_wakeups():
            r = switches_per_s(vmc.proc.pid, 2.0)
            print(f"  wakeups at watch_interval_ms = 5: {r:.1f}/s", flush=True)
            # 5 ms: about 200 a second; the default 50 ms: 20, and 10 for ptp4l, 4 samples, the reports.
            self.assertGreater(r, 100)

        def logged(pattern):
            return lambda: vmc.wait_log(pattern, 5)

        # key: (new value, the effect to see beyond `settings`, or None)
        table = {
            "source.page": (sim2.page, page_path(sim2.page)),
            "source.watch_interval_ms": (5, more_wakeups),
            "sampling.interval_ms": (100, faster_samples),
            "sampling.best_of": (1, None),
            "sampling.max_error_ns": (1, state_reason(r"maxerror \d+ ns is over the limit of 1 ns")),
            "chrony.shm_unit": (100 + os.getpid() % 150, sink_named("shm")),
            "chrony.sock": (sock2.path, samples_to(sock2)),
            "chrony.command_socket": (d.join("other-chronyd.sock"), None),
            "chrony.reset_on_disruption": (False, None),
            "chrony.burst": (False, None),
            "chrony.makestep": (True, None),
            "chrony.client_dir": (d.join("clients2"), None),
            "daemon.status_file": (d.join("status2.json"), exists(d.join("status2.json"))),
            "daemon.metrics_file": (d.join("metrics.prom"), exists(d.join("metrics.prom"))),
            "daemon.user": ("nobody", logged(r'daemon.user = "nobody" takes effect at the next start')),
            "bound.segment": (d.join("bound2"), exists(d.join("bound2"))),
            "bound.source": ("chrony", bound_field("source", "chrony")),
            "bound.max_drift_ppb": (20_000, bound_field("max_drift_ppb", 20_000)),
            "bound.stale_after_ms": (3_000, None),
            "bound.void_after_s": (600, None),
            "bound.tracking_interval_ms": (2_000, None),
            "clockbound.segment": (d.join("clockbound", "shm0"), exists(d.join("clockbound", "shm0"))),
            "ptp4l.uds_address": (d.join("ptp4l-2"), None),
            "ptp4l.time_source": ("gnss", None),
            "ptp4l.domain_number": (24, None),
            "ptp4l.locked_maxerror_ns": (2_000_000, None),
            "ptp4l.holdover_maxerror_ns": (20_000_000, None),
            "ptp4l.default_utc_offset": (36, None),
            "ptp4l.ptp_timescale": (True, None),
            "ptp4l.upgrade_hold_updates": (4, None),
            "ptp4l.upgrade_hold_ms": (5_000, None),
            "ptp4l.check_interval_ms": (6_000, None),
            "ptp4l.retry_interval_ms": (3_000, None),
            "ptp4l.reply_timeout_ms": (30, None),
            "ptp4l.client_address": (d.join("pmc2.sock"), exists(d.join("pmc2.sock"))),
        }
        printed = printed_options()
        self.assertEqual(sorted(table), sorted(printed),
                         "every key vmclockd prints needs a row here (and no row may name a key it does not print)")

        st = status()
        expected = dict(st["settings"])
        for k, (sec_key, v) in ((k, (k.split(".", 1), v)) for k, (v, _) in table.items()):
            sec, key = sec_key
            if sec in base and key in base[sec]:
                self.assertEqual(expected[k], base[sec][key], k)
        reloads = st["config_reloads"]
        for key, (value, effect) in table.items():
            with self.subTest(key):
                sec, name = key.split(".", 1)
                self.assertNotEqual(expected[key], value, f"{key}: the new value must differ from the base")
                changed = {s: dict(kv) for s, kv in base.items()}
                changed.setdefault(sec, {})[name] = value
                vmc.write_config(toml_text(changed))
                status_file[0] = changed["daemon"]["status_file"]
                mark = len(vmc.log())
                vmc.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: re.search(r"config: SIGHUP: reloaded ", vmc.log()[mark:]), 5,
                         what=f"{key}: the reload's log line")
                reloads += 1
                want = dict(expected, **{key: value})
                st = wait_for(lambda: (s := status()) and s["config_reloads"] == reloads and s, 5,
                              what=f"{key}: a status after the reload")
                print(f"{key} = {value!r}: reloaded", flush=True)
                self.assertEqual(st["settings"], want, key)
                if effect:
                    effect()
                self.assertTrue(vmc.alive(), vmc.log())
        # Back to the base file: the defaults of the base again.
        vmc.write_config(toml_text(base))
        status_file[0] = base["daemon"]["status_file"]
        vmc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (s := status()) and s["settings"] == expected and s["state"] == "synced", 10,
                 what="the base configuration back, synced")
        # The same file again: a reload that changes nothing still says so.
        mark = len(vmc.log())
        vmc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: re.search(r"config: SIGHUP: \S+ unchanged", vmc.log()[mark:]), 5,
                 what="one line for an unchanged reload")


if __name__ == "__main__":
    unittest.main(verbosity=2)
