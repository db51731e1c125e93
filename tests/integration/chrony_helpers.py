# SPDX-License-Identifier: Apache-2.0
"""Throwaway unprivileged chronyd instances for the chrony sink tests.

Each instance runs `chronyd -U -x -d -u <us>` in its own 0700 directory
(command socket, pidfile, driftfile), so it needs no root, never touches
the system clock and can be killed and restarted at will. Every wait here
is bounded. `steer=True` drops the -x: only test_closed_loop.py does that,
as root, with its own guard rails.
"""
import getpass
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

CHRONYD = shutil.which("chronyd") or "/usr/sbin/chronyd"
CHRONYC = shutil.which("chronyc") or "/usr/bin/chronyc"
SHM_KEY_BASE = 0x4E545030


def vmc_bin(name):
    d = os.environ.get("VMC_BIN")
    if not d:
        raise SystemExit("VMC_BIN is not set (run through ctest)")
    p = os.path.join(d, name)
    if not os.access(p, os.X_OK):
        raise SystemExit(f"{p} missing: build the target first")
    return p


def source_dir():
    return os.environ.get("VMC_SOURCE") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shm_unit():
    """A unit no real gpsd/chronyd uses and no parallel test run shares."""
    return 1000 + os.getpid() % 30000


def remove_shm(unit):
    subprocess.run(["ipcrm", "-M", str(SHM_KEY_BASE + unit)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=10)


def snippet_refclock(name, replace):
    """The refclock line of a shipped conf snippet, its unit or path replaced."""
    path = os.path.join(source_dir(), "chrony-refclock", name)
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip().startswith("refclock ")]
    if len(lines) != 1:
        raise AssertionError(f"{path}: expected one refclock line, found {len(lines)}")
    parts = lines[0].split()
    parts[2] = str(replace)
    return " ".join(parts)


def wait_for(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Chronyd:
    def __init__(self, conf_lines, tag="chronyd", steer=False):
        self.steer = steer
        self.dir = tempfile.mkdtemp(prefix=f"vmc-{tag}.")
        os.chmod(self.dir, 0o700)
        self.sock = os.path.join(self.dir, "chronyd.sock")
        self.conf = os.path.join(self.dir, "chrony.conf")
        self.log = os.path.join(self.dir, "chronyd.log")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf_lines + [
                "cmdport 0",
                f"bindcmdaddress {self.sock}",
                f"pidfile {os.path.join(self.dir, 'chronyd.pid')}",
                f"driftfile {os.path.join(self.dir, 'drift')}",
            ]) + "\n")
        self.proc = None

    def start(self, timeout=10):
        # A killed chronyd leaves its socket behind: wait for a fresh one.
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        logf = open(self.log, "a")
        args = [CHRONYD, "-U"] + ([] if self.steer else ["-x"]) + ["-d", "-u", getpass.getuser(), "-f", self.conf]
        self.proc = subprocess.Popen(args,
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, timeout,
                 what="chronyd's command socket")
        if self.proc.poll() is not None:
            raise AssertionError(f"chronyd exited with {self.proc.returncode}:\n{self.read_log()}")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def chronyc(self, *args, timeout=5):
        r = subprocess.run([CHRONYC, "-h", self.sock, "-n", *args], capture_output=True, text=True,
                           timeout=timeout)
        return r.stdout if r.returncode == 0 else ""

    def tracking(self):
        """{'refid', 'name', 'system_time' (s, + = reference ahead), ...} or None."""
        out = self.chronyc("-c", "tracking").strip().split(",")
        if len(out) < 14:
            return None
        return {"refid": out[1], "stratum": int(out[2]), "system_time": float(out[4]),
                "last_offset": float(out[5]), "freq_ppm": float(out[7]), "leap": out[13]}

    def selected(self, refid):
        """True when the source with this refid is the selected one ('*')."""
        for line in self.chronyc("-c", "sources").splitlines():
            f = line.split(",")
            if len(f) > 2 and f[0] == "#" and f[1] == "*" and f[2] == refid:
                return True
        return False


class Feeder:
    """vmc-sink-feed in the background, its stderr collected."""

    def __init__(self, args, tag="feed"):
        self.errf = tempfile.TemporaryFile(mode="w+")
        self.outf = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([vmc_bin("vmc-sink-feed"), *args], stdout=self.outf, stderr=self.errf)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def close(self):
        self.stop()
        self.errf.close()
        self.outf.close()

    def _read(self, f):
        f.flush()
        f.seek(0)
        return f.read()

    def stderr(self):
        return self._read(self.errf)

    def stdout(self):
        return self._read(self.outf)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def step_time(stdout):
    m = re.search(r"^step (\d+\.\d+)$", stdout, re.M)
    return float(m.group(1)) if m else None
