#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclockctl's rough edges (issue 14 item 7), one test each, against the
real binaries and a vmclock-sim page:

- --page, --config and --json before or after the subcommand;
- `time --counter` refuses a sign, garbage and a value past 64 bits (64);
- `watch --count -1` is a usage error (64);
- `status --status-file DIR` is an error that says so (66), not an abort;
- the page defaults to [source] page of the vmclockd configuration;
- the human `status` shows ptp4l in lines, not JSON, and no stale error
  of a sink that works again (still in --json);
- `bound` on a disruption-only page says so (not "page does not decode");
- `vmclock-sim --help` points at its man page, not a source path.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Cleanup, Sim, TempDir, Vmclockd, fixtures_dir, vmc_bin, wait_for  # noqa: E402

USAGE, NO_INPUT, UNAVAILABLE, CONFIG = 64, 66, 69, 78


def run(tool, *args):
    r = subprocess.run([vmc_bin(tool), *map(str, args)], capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def ctl(*args):
    return run("vmclockctl", *args)


class CliEdges(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cleanup()
        cls.d = TempDir("cli-edges")
        cls.c.add(cls.d.cleanup)
        cls.page = cls.d.join("page")
        cls.sim = Sim(cls.page)
        cls.c.add(cls.sim.stop)

    @classmethod
    def tearDownClass(cls):
        cls.c.run()

    def test_page_and_json_before_or_after_the_subcommand(self):
        for args in (["--page", self.page, "dump", "--json"], ["dump", "--page", self.page, "--json"],
                     ["--json", "--page", self.page, "dump"], ["--page", self.page, "--json", "dump"],
                     ["now", "--json", "--page", self.page]):
            rc, out, err = ctl(*args)
            self.assertEqual(rc, 0, (args, err))
            j = json.loads(out)
            if args[-1] == "dump" or "dump" in args:
                self.assertEqual(j["source"]["path"], self.page, args)
            else:
                self.assertTrue(j["ok"], j)
        rc, out, err = ctl("status", "--json", "--status-file", self.d.join("absent.json"))
        self.assertEqual(rc, NO_INPUT, err)

    def test_time_counter_is_a_64_bit_unsigned_number(self):
        rc, out, err = ctl("--page", self.page, "time", "--counter", "0x10", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["counter"], 16)
        for bad in ("-5", "18446744073709551616", "99999999999999999999999", "12abc", ""):
            rc, out, err = ctl("--page", self.page, "time", "--counter", bad)
            print(f"  --counter {bad!r}: exit {rc}: {err.strip()}", flush=True)
            self.assertEqual(rc, USAGE, (bad, out, err))
            self.assertEqual(out, "", bad)

    def test_watch_count_must_not_be_negative(self):
        rc, out, err = ctl("--page", self.page, "watch", "--count", "-1")
        print(f"  watch --count -1: exit {rc}: {err.strip().splitlines()[0] if err.strip() else ''}", flush=True)
        self.assertEqual(rc, USAGE, (out, err))
        rc, out, err = ctl("--page", self.page, "watch", "--count", "1")
        self.assertEqual((rc, len(out.splitlines())), (0, 1), err)

    def test_status_file_that_is_a_directory(self):
        rc, out, err = ctl("status", "--status-file", self.d.path)
        print(f"  status --status-file DIR: exit {rc}: {err.strip()}", flush=True)
        self.assertEqual(rc, NO_INPUT, (out, err))
        self.assertIn("a directory", err)

    def test_page_from_the_vmclockd_configuration(self):
        conf = self.d.join("vmclockd.toml")
        with open(conf, "w") as f:
            f.write(f'[source]\npage = "{self.page}"\n')
        rc, out, err = ctl("--config", conf, "dump", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["source"]["path"], self.page)
        rc, out, err = ctl("dump", "--json", "--config", conf)
        self.assertEqual((rc, json.loads(out)["source"]["path"]), (0, self.page), err)
        # --page wins over the file.
        rc, out, err = ctl("--config", conf, "--page", self.d.join("absent"), "dump")
        self.assertEqual(rc, NO_INPUT, err)
        bad = self.d.join("bad.toml")
        with open(bad, "w") as f:
            f.write("[source]\npage = 5\n")
        rc, out, err = ctl("--config", bad, "dump")
        print(f"  a bad --config: exit {rc}: {err.strip()}", flush=True)
        self.assertEqual(rc, CONFIG, err)

    def test_human_status_ptp4l_in_lines_and_no_stale_sink_error(self):
        vmc = Vmclockd(self.d.path, self.page, tag="edges")
        vmc.start()
        try:
            st = wait_for(lambda: (s := vmc.status()) and s["state"] == "synced" and s, 10, what="synced")
        finally:
            vmc.stop()
        st = vmc.status()
        gm = {"clock_class": 6, "clock_accuracy": 33, "offset_scaled_log_variance": 20061,
              "current_utc_offset": 37, "time_flags": ["PTP_TIMESCALE"], "time_source": 160}
        st["ptp4l"] = {"state": "applied", "grade": "locked", "held_back": False, "desired": gm, "applied": gm,
                       "gets_sent": 3, "sets_sent": 1, "reapplied": 0, "last_error": "",
                       "ptp4l_identity": "cac1c4.fffe.2d5dc6-0"}
        st["sinks"] = [{"name": "sock", "ok": True, "state": "connected", "published": 9, "failed": 1,
                        "last_error": "Permission denied"},
                       {"name": "shm", "ok": False, "state": "waiting for chronyd", "published": 0, "failed": 2,
                        "last_error": "No such file or directory"}]
        path = self.d.join("edited.json")
        with open(path, "w") as f:
            json.dump(st, f)
        rc, out, err = ctl("status", "--status-file", path)
        print("  " + "\n  ".join(l for l in out.splitlines() if l.startswith(("ptp4l", "sink"))), flush=True)
        self.assertEqual(rc, UNAVAILABLE, err)  # stopped: the file says so
        self.assertNotIn("{", out)
        self.assertIn("ptp4l        applied, grade locked, clock cac1c4.fffe.2d5dc6-0\n", out)
        self.assertIn("ptp4l wants  class 6, accuracy 33,", out)
        sinks = [l for l in out.splitlines() if l.startswith("sink")]
        self.assertEqual(sinks, ["sink         sock: connected (9 published, 1 failed)",
                                 "sink         shm: waiting for chronyd (0 published, 2 failed), "
                                 "last error: No such file or directory"])
        rc, out, err = ctl("status", "--status-file", path, "--json")
        self.assertEqual(json.loads(out)["sinks"][0]["last_error"], "Permission denied")

    def test_bound_on_a_disruption_only_page_says_so(self):
        for name in ("vmclock-firecracker-page.bin", "vmclock-qemu-boot.bin"):
            rc, out, err = ctl("--page", os.path.join(fixtures_dir(), name), "bound", "--segment", "")
            print(f"  bound on {name}: exit {rc}: {out.strip()}", flush=True)
            self.assertEqual(rc, UNAVAILABLE, (out, err))
            self.assertIn("disruption-only, no time data", out)
            self.assertNotIn("does not decode", out + err)

    def test_carries_time(self):
        """What the packaged unit asks before it links chrony's refclock."""
        for name in ("vmclock-firecracker-page.bin", "vmclock-qemu-boot.bin"):
            rc, out, err = ctl("--page", os.path.join(fixtures_dir(), name), "carries-time", "--json")
            self.assertEqual(rc, UNAVAILABLE, (out, err))
            self.assertEqual((json.loads(out)["carries_time"], json.loads(out)["counter_id"]), (False, "invalid"))
        rc, out, err = ctl("--page", self.page, "carries-time")
        self.assertEqual(rc, 0, (out, err))
        self.assertIn("carries time", out)
        rc, out, err = ctl("--page", self.d.join("absent"), "carries-time")
        self.assertEqual(rc, 66, (out, err))

    def test_sim_help_names_no_source_path(self):
        rc, out, err = run("vmclock-sim", "--help")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("src/", out)
        self.assertIn("Usage: vmclock-sim", out)
        self.assertIn("vmclock-sim(1)", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
