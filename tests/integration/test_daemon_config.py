#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclockd's configuration from the outside: `vmclockd --check-config
--config F` on bad files exits 78 (EX_CONFIG) with a message naming the
file, the line, the key and the value; a good file exits 0; without
--config and with no /etc/vmclockd.toml the built-in defaults are used
(checked with /etc hidden behind an empty tmpfs in a private mount
namespace, so that a config installed on the machine does not decide);
--page overrides [source] page; a directory, device, FIFO or a file over
1 MiB is refused (78) by what it is, without blocking or reading it;
SIGHUP with a bad new file keeps the old configuration (a log line says
so) and the daemon keeps feeding.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Cleanup, Sim, SockCatcher, TempDir, Vmclockd, toml_text, vmc_bin, wait_for  # noqa: E402

EX_CONFIG = 78

# (name, file text, the exact message after "vmclockd: <file>:")
BAD = [
    ("unknown_key", "[sampling]\nfoo = 1\n", "2: unknown key sampling.foo"),
    ("unknown_section", "# comment\n[bogus]\nx = 1\n", "2: unknown section or key [bogus]"),
    ("top_level_key", 'page = "/dev/vmclock0"\n', "1: unknown section or key [page]"),
    ("wrong_type_string", '[sampling]\ninterval_ms = "fast"\n',
     "2: sampling.interval_ms = 'fast': must be an integer"),
    ("wrong_type_float", "[sampling]\nmax_error_ns = 1.5\n", "2: sampling.max_error_ns = 1.5: must be an integer"),
    ("wrong_type_bool", "[chrony]\nreset_on_disruption = 1\n",
     "2: chrony.reset_on_disruption = 1: must be true or false"),
    ("out_of_range_zero", "[sampling]\n\ninterval_ms = 0\n",
     "3: sampling.interval_ms = 0: must be between 10 and 60000"),
    ("out_of_range_high", "[chrony]\nshm_unit = 2000000000\n",
     "2: chrony.shm_unit = 2000000000: must be between -1 and 833335247"),
    ("relative_path", '[source]\npage = "dev/vmclock0"\n',
     "2: source.page = 'dev/vmclock0': must be an absolute path"),
    ("relative_status_file", '[daemon]\nstatus_file = "status.json"\n',
     "2: daemon.status_file = 'status.json': must be an absolute path"),
    ("toml_syntax_header", '[source]\npage = "/dev/vmclock0"\n[sampling\ninterval_ms = 100\n',
     "3: Error while parsing table header: expected ']', saw '\\n'"),
    ("toml_syntax_value", "[sampling]\n\ninterval_ms = = 5\n",
     "3: Error while parsing value: could not determine value type"),
    ("toml_duplicate_key", "[sampling]\ninterval_ms = 100\ninterval_ms = 200\n",
     "3: Error while parsing key-value pair: cannot redefine existing integer 'interval_ms'"),
    ("nothing_to_feed", '[chrony]\nsock = ""\ncommand_socket = ""\n[bound]\nsegment = ""\n',
     " nothing to feed: set chrony.shm_unit, chrony.sock, chrony.command_socket, bound.segment, clockbound.segment or a [ptp4l]"
     " section"),
    ("bound_source", '[bound]\nsource = "ntp"\n',
     "2: bound.source = 'ntp': must be auto, page or chrony"),
    ("bound_relative_segment", '[bound]\nsegment = "bound"\n',
     "2: bound.segment = 'bound': must be an absolute path"),
    ("nul_in_string", '[source]\npage = "/x\\u0000y"\n',
     '2: source.page = "/x\\u0000y": must not contain a NUL character'),
    ("stale_after_void", "[bound]\nvoid_after_s = 2\nstale_after_ms = 2500\n",
     "3: bound.stale_after_ms = 2500 is longer than bound.void_after_s = 2 s: a bound would be void before it is"
     " stale"),
    ("time_source_once", '[ptp4l]\ntime_source = "gps"\n',
     "2: ptp4l.time_source = 'gps': not a time source; use a number 0..255 or one of atomic_clock, gnss, ptp, ntp,"
     " hand_set, other, internal_oscillator"),
    ("ptp4l_cross_check_line", "[ptp4l]\nlocked_maxerror_ns = 5000\nholdover_maxerror_ns = 10\n",
     "1: ptp4l.holdover_maxerror_ns = 10: must be locked_maxerror_ns (5000) .. 1000000000000 (1000 s)"),
]


def check_config(*args):
    r = subprocess.run([vmc_bin("vmclockd"), "--check-config", *args], capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout + r.stderr


def check_config_without_etc():
    """check_config() with no argument, run where /etc is an empty tmpfs (a
    private mount namespace: as root directly, otherwise in a user namespace
    mapping us to root), so that the machine's /etc/vmclockd.toml, if any,
    is not what the daemon finds. vmclockd needs nothing else from /etc for
    --check-config (the dynamic loader searches its built-in directories).
    Without namespaces it runs as it is when /etc/vmclockd.toml is absent;
    when it is present the check cannot be made and the test fails saying so."""
    exe = vmc_bin("vmclockd")
    unshare = shutil.which("unshare")
    if unshare:
        ns = [unshare, "--mount", "--propagation", "private"]
        if os.geteuid() != 0:
            ns[1:1] = ["--user", "--map-root-user"]
        r = subprocess.run([*ns, "true"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0:
            r = subprocess.run([*ns, "sh", "-c", 'mount -t tmpfs vmc-empty-etc /etc && exec "$0" --check-config', exe],
                               capture_output=True, text=True, timeout=10)
            print(f"--check-config with /etc an empty tmpfs ({' '.join(ns)}): rc {r.returncode}", flush=True)
            return r.returncode, r.stdout + r.stderr
        why = f"{' '.join(ns)}: {r.stderr.strip()}"
    else:
        why = "unshare not installed"
    if os.path.exists("/etc/vmclockd.toml"):
        raise AssertionError(f"cannot check the built-in defaults: /etc/vmclockd.toml exists and no private "
                             f"mount namespace can hide it ({why})")
    print(f"--check-config as it is, /etc/vmclockd.toml being absent ({why})", flush=True)
    return check_config()


class DaemonConfig(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()
        self.d = TempDir("dconfig")
        self.c.add(self.d.cleanup)

    def tearDown(self):
        self.c.run()

    def test_bad_files(self):
        for name, text, msg in BAD:
            with self.subTest(name):
                f = self.d.join(f"{name}.toml")
                with open(f, "w") as fh:
                    fh.write(text)
                rc, out = check_config("--config", f)
                print(f"{name}: rc {rc}: {out.strip()}", flush=True)
                self.assertEqual(rc, EX_CONFIG, out)
                self.assertEqual(out.strip(), f"vmclockd: {f}:{msg}")

    def test_page_option_gets_the_files_checks(self):
        for page, why in (("", "must not be empty"), ("page.bin", "must be an absolute path")):
            rc, out = check_config("--page", page)
            print(f"--page {page!r}: rc {rc}: {out.strip()}", flush=True)
            self.assertEqual(rc, 64, out)  # EX_USAGE
            self.assertEqual(out.strip(), f'vmclockd: --page "{page}": {why}')

    def test_missing_file(self):
        f = self.d.join("absent.toml")
        rc, out = check_config("--config", f)
        print(f"missing: rc {rc}: {out.strip()}", flush=True)
        self.assertEqual(rc, 66, out)  # EX_NOINPUT
        self.assertIn(f"{f}: cannot open the configuration", out)

    def test_not_a_file(self):
        # Refused by what it is, at once: a FIFO without a writer must not
        # block (check_config's 10 s timeout fails the test if it does).
        fifo = self.d.join("fifo.toml")
        os.mkfifo(fifo)
        big = self.d.join("big.toml")
        with open(big, "wb") as fh:
            fh.truncate(100_000_000)
        cases = [
            (self.d.path, "is a directory: the configuration must be a regular file"),
            ("/dev/zero", "is a character device: the configuration must be a regular file"),
            ("/dev/urandom", "is a character device: the configuration must be a regular file"),
            (fifo, "is a FIFO: the configuration must be a regular file"),
            (big, "100000000 bytes is over the limit of 1048576 bytes for a configuration"),
        ]
        for path, msg in cases:
            with self.subTest(path):
                t0 = time.monotonic()
                rc, out = check_config("--config", path)
                took = time.monotonic() - t0
                print(f"{path}: rc {rc} in {took:.2f} s: {out.strip()}", flush=True)
                self.assertEqual(rc, EX_CONFIG, out)
                self.assertEqual(out.strip(), f"vmclockd: {path}: {msg}")
                self.assertLess(took, 5)

    def test_good_file(self):
        f = self.d.join("good.toml")
        with open(f, "w") as fh:
            fh.write(toml_text({"source": {"page": "/dev/vmclock0", "watch_interval_ms": 5},
                                "sampling": {"interval_ms": 250, "best_of": 8, "max_error_ns": 100000},
                                "chrony": {"shm_unit": 2, "sock": "/run/chrony/vmclock.sock",
                                           "command_socket": "/run/chrony/chronyd.sock",
                                           "reset_on_disruption": True, "burst": True, "makestep": False,
                                           "client_dir": "/run/vmclockd/sockets"},
                                "daemon": {"status_file": "/run/vmclockd/status.json", "metrics_file": "",
                                           "user": "vmclockd"}}))
        rc, out = check_config("--config", f)
        self.assertEqual((rc, out.strip()), (0, f"vmclockd: {f}: configuration OK"))
        # The shipped example parses too.
        shipped = os.path.join(os.environ.get("VMC_SOURCE", ""), "packaging", "vmclockd.toml")
        if os.path.exists(shipped):
            rc, out = check_config("--config", shipped)
            self.assertEqual(rc, 0, out)

    def test_no_config_uses_defaults(self):
        rc, out = check_config_without_etc()
        self.assertEqual((rc, out.strip()), (0, "vmclockd: built-in defaults: configuration OK"))
        r = subprocess.run([vmc_bin("vmclockd"), "--print-options"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        for line in ("#interval_ms = 250", '#page = "/dev/vmclock0"', "#max_error_ns = 100000"):
            self.assertIn(line, r.stdout)

    def test_page_override_and_sighup_with_a_bad_file(self):
        d = self.d
        sim = Sim(d.join("page"), ["--offset-ns", 37_500])
        self.c.add(sim.stop)
        catcher = SockCatcher(d.join("vmc.sock"))
        self.c.add(catcher.close)
        # The file names a page that does not exist; --page wins.
        vmc = Vmclockd(d.path, d.join("no-such-page"), {"chrony": {"sock": catcher.path}},
                       extra_args=["--page", sim.page])
        self.c.add(vmc.stop)
        vmc.start()
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 5, what="state synced")
        st = vmc.status()
        self.assertEqual(st["page"]["path"], sim.page)
        before = catcher.collect(2.0)
        self.assertGreaterEqual(len(before), 6, "not fed before the reload")

        with open(vmc.config) as fh:
            good_text = fh.read()
        vmc.write_config(good_text.replace("[sampling]\n", "") + "\n[sampling]\ninterval_ms = 0\n")
        vmc.proc.send_signal(signal.SIGHUP)
        line = vmc.wait_log(r"config: reload failed, keeping the old configuration: .*", 5).group(0)
        print(f"SIGHUP with a bad file: {line}", flush=True)
        self.assertIn("sampling.interval_ms = 0: must be between 10 and 60000", line)
        self.assertRegex(line, rf"{vmc.config}:\d+:")
        after = catcher.collect(3.0)
        st = vmc.status()
        print(f"after the failed reload: alive {vmc.alive()}, {len(after)} samples in 3 s, state {st['state']}, "
              f"config_reloads {st['config_reloads']}, page {st['page']['path']}", flush=True)
        self.assertTrue(vmc.alive(), vmc.log())
        self.assertGreaterEqual(len(after), 10, "stopped feeding after a failed reload")
        self.assertEqual(st["state"], "synced")
        self.assertEqual(st["config_reloads"], 1)

        # Control: a good new file is taken (100 ms samples), --page still wins.
        vmc.write_config(good_text + "\n[sampling]\ninterval_ms = 100\n")
        vmc.proc.send_signal(signal.SIGHUP)
        vmc.wait_log(r"config: SIGHUP: reloaded ", 5)
        catcher.collect(0.5)
        faster = catcher.collect(2.0)
        st = vmc.status()
        print(f"after a good reload: {len(faster)} samples in 2 s, page {st['page']['path']}", flush=True)
        self.assertGreaterEqual(len(faster), 15)
        self.assertEqual(st["page"]["path"], sim.page)
        self.assertEqual(st["state"], "synced")


if __name__ == "__main__":
    unittest.main(verbosity=2)
