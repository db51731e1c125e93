# SPDX-License-Identifier: Apache-2.0
"""The chrony sinks and command client against the real chronyd 4.3.

Each test runs its own unprivileged `chronyd -U -x -d` (the system clock is
left alone, so tracking shows the offset the feeder injected) with the
refclock line from the shipped conf snippets.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chrony_helpers import (Chronyd, Feeder, remove_shm, shm_unit, snippet_refclock, step_time,  # noqa: E402
                            vmc_bin, wait_for)

OFFSET_US = 37.5
TOL = 1e-6


def near(c, expected):
    t = c.tracking()
    return t is not None and t["refid"] == "VMC" and abs(t["system_time"] - expected) < TOL and t


class ChronySinks(unittest.TestCase):
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for f in reversed(self.cleanups):
            f()

    def chronyd(self, lines, tag):
        c = Chronyd(lines, tag=tag)
        self.cleanups.append(c.cleanup)
        return c

    def feeder(self, args):
        f = Feeder(args)
        self.cleanups.append(f.close)
        return f

    def test_shm_offset_then_step_with_reset(self):
        unit = shm_unit()
        remove_shm(unit)
        self.cleanups.append(lambda: remove_shm(unit))
        c = self.chronyd([snippet_refclock("vmclockd-shm.conf", unit)], "shm").start()
        step_at = 14.0
        f = self.feeder(["--shm", str(unit), "--seconds", str(step_at + 8), "--rate", "4",
                         "--offset-us", str(OFFSET_US), "--step-at", str(step_at), "--step-us", "100",
                         "--step-ppm", "20", "--reset-socket", c.sock, "--reset-dir", c.dir])
        t0 = time.monotonic()
        wait_for(lambda: c.selected("VMC"), 12, what="chronyd to select VMC")
        t_sel = time.monotonic() - t0
        t = wait_for(lambda: near(c, OFFSET_US * 1e-6), 5, what="tracking within 1 us of +37.5 us")
        t_conv = time.monotonic() - t0
        print(f"SHM: selected after {t_sel:.1f} s, within 1 us after {t_conv:.1f} s: "
              f"system_time {t['system_time'] * 1e6:.3f} us", flush=True)
        self.assertLess(t_conv, step_at - 1, "converged too late to measure the step")

        # The step: +100 us and +20 ppm, with RESET_SOURCES from the feeder.
        wait_for(lambda: step_time(f.stdout()), step_at + 2, what="the feeder's step")
        ts = step_time(f.stdout())
        good_since = None
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            tr = c.tracking()
            now = time.time()
            expected = (OFFSET_US + 100) * 1e-6 + 20e-6 * (now - ts)
            ok = tr is not None and abs(tr["system_time"] - expected) < TOL
            if ok and good_since is None:
                good_since = now
            elif not ok:
                good_since = None
            if good_since is not None and now - good_since > 1.5:
                break
            time.sleep(0.05)
        self.assertIsNotNone(good_since, "tracking never came back within 1 us of the stepped offset")
        recovery = good_since - ts
        print(f"SHM: after +100 us/+20 ppm with RESET_SOURCES, within 1 us again after {recovery:.2f} s",
              flush=True)
        self.assertLess(recovery, 3.0)
        f.wait(15)
        self.assertIn("reset: ok", f.stderr())

    def test_sock_late_start_offset_and_restart(self):
        c = self.chronyd([], "sock")
        path = os.path.join(c.dir, "refclock.sock")
        with open(c.conf) as fh:
            conf = fh.read()
        with open(c.conf, "w") as fh:
            fh.write(snippet_refclock("vmclockd-sock.conf", path) + "\n" + conf)

        # The feeder first: chronyd starts late.
        f = self.feeder(["--sock", path, "--seconds", "40", "--rate", "4", "--offset-us", str(OFFSET_US)])
        time.sleep(0.5)
        c.start()
        t0 = time.monotonic()
        wait_for(lambda: c.selected("VMC"), 12, what="chronyd to select VMC")
        t = wait_for(lambda: near(c, OFFSET_US * 1e-6), 5, what="tracking within 1 us of +37.5 us")
        print(f"SOCK: within 1 us after {time.monotonic() - t0:.1f} s: "
              f"system_time {t['system_time'] * 1e6:.3f} us", flush=True)

        # chronyd killed (socket file left behind), restarted 1.5 s later.
        c.stop(signal.SIGKILL)
        time.sleep(1.5)
        c.start()
        t0 = time.monotonic()
        wait_for(lambda: c.selected("VMC"), 15, what="chronyd to select VMC again after its restart")
        wait_for(lambda: near(c, OFFSET_US * 1e-6), 5, what="tracking within 1 us after the restart")
        print(f"SOCK: selected again {time.monotonic() - t0:.1f} s after chronyd restarted", flush=True)
        f.stop()
        lines = [l for l in f.stderr().splitlines() if "sock:" in l]
        kinds = ["down" if "not reachable" in l else "up" if "sending samples" in l else l for l in lines]
        self.assertEqual(kinds, ["down", "up", "down", "up"], "\n".join(lines))

    def test_commands_acknowledged(self):
        # An NTP source that never answers: BURST needs one to address.
        c = self.chronyd(["server 127.0.0.1 port 11123 offline"], "cmd").start()

        def cmd(*args):
            r = subprocess.run([vmc_bin("vmc-chrony-cmd"), "--socket", c.sock, "--dir", c.dir, *args],
                               capture_output=True, text=True, timeout=10)
            return r.returncode, r.stdout.split(), r.stderr

        for args, name in ((["null"], "NULL"), (["reset"], "RESET_SOURCES"), (["burst", "4/8"], "BURST")):
            rc, out, err = cmd(*args)
            self.assertEqual((rc, out[:3]), (0, [name, "0", "SUCCESS"]), err)

        # chronyd -x may not step: it answers MAKESTEP with FAILED after
        # trying (a request of the wrong length would get BADPKTLENGTH).
        rc, out, err = cmd("makestep")
        self.assertEqual(out[:1], ["MAKESTEP"], err)
        if out[1] != "0":
            self.assertEqual(out[1:3], ["1", "FAILED"])
            wait_for(lambda: "Could not step system clock" in c.read_log(), 3, what="chronyd's step attempt")

        # chronyd does check lengths: BURST padded only to 28 bytes is refused.
        rc, out, err = cmd("burst", "4/8")
        self.assertEqual(rc, 0)
        status = raw_request(c, struct.pack(">BBBBHHIII", 6, 1, 0, 0, 3, 0, 4242, 0, 0) + bytes(8))
        self.assertEqual(status, 19, "chronyd should answer BADPKTLENGTH to a short BURST")

    def test_reset_without_chronyd_is_bounded(self):
        c = self.chronyd([], "nochronyd")  # never started
        t0 = time.monotonic()
        r = subprocess.run([vmc_bin("vmc-chrony-cmd"), "--socket", c.sock, "--dir", c.dir, "reset"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 75, r.stderr)  # EX_TEMPFAIL
        self.assertLess(time.monotonic() - t0, 2.0)
        # Nobody listens: said at the first send, not after waiting out 30 tries.
        self.assertIn("chronyd is not there", r.stderr)
        self.assertIn("No such file or directory", r.stderr)


def raw_request(c, payload, timeout=2.0):
    """Sends raw bytes to chronyd's command socket; returns the reply status."""
    local = os.path.join(c.dir, "raw.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(local)
        s.settimeout(timeout)
        s.sendto(payload, c.sock)
        data = s.recv(1024)
        return struct.unpack(">H", data[8:10])[0]
    finally:
        s.close()
        os.unlink(local)


if __name__ == "__main__":
    unittest.main(verbosity=2)
