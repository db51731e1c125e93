# SPDX-License-Identifier: Apache-2.0
"""Pieces of the fault-injection and load tests (test_faults.py, test_load.py).

A SOCK refclock endpoint that records every datagram vmclockd sends (with
the instant it arrived), truth checks against vmclock-sim's printed
parameters, log-line counting, and small page-file manipulations. Built
on daemon_helpers (imported, not changed). python3 stdlib only; every wait
is bounded.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from daemon_helpers import Sim, parse_sock_sample, rt_ns, stop_proc, wait_for  # noqa: F401

SOCK_MAGIC = 0x534F434B


class SockRecorder:
    """Binds the SOCK refclock path (as chronyd would) and records, in a
    background thread, every datagram: (arrival realtime ns, sample dict
    with 'tv_ns' = the sample's system time in ns). Malformed datagrams
    are kept apart in `bad`."""

    def __init__(self, path, rcvbuf=1 << 20):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        except OSError:
            pass
        self.s.bind(path)
        self.s.settimeout(0.1)
        self.lock = threading.Lock()
        self.samples = []
        self.bad = []
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                b = self.s.recv(1024)
            except socket.timeout:
                continue
            except OSError:
                return
            at = rt_ns()
            d = parse_sock_sample(b)
            with self.lock:
                if d is None or d["magic"] != SOCK_MAGIC or not 0 <= d["usec"] < 1_000_000:
                    self.bad.append((at, b))
                else:
                    d["tv_ns"] = d["sec"] * 10**9 + d["usec"] * 1000
                    d["rx_ns"] = at
                    self.samples.append(d)

    def count(self):
        with self.lock:
            return len(self.samples)

    def since(self, i=0, j=None):
        with self.lock:
            return list(self.samples[i:j])

    def wait_count(self, n, timeout, what="samples"):
        return wait_for(lambda: self.count() >= n, timeout, interval=0.02, what=f"{n} {what} at {self.path}")

    def wait_new(self, after_ns, timeout, what="a sample", pred=None):
        """The first sample with tv_ns > after_ns (and pred(sample) if given)."""
        def find():
            with self.lock:
                for d in self.samples:
                    if d["tv_ns"] > after_ns and (pred is None or pred(d)):
                        return d
            return None
        return wait_for(find, timeout, interval=0.02, what=what)

    def close(self):
        self.running = False
        self.t.join(timeout=2)
        self.s.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def in_window(samples, start_ns, end_ns):
    """Samples whose system time (tv) lies strictly inside (start, end)."""
    return [d for d in samples if start_ns < d["tv_ns"] < end_ns]


def offset_near(d, offset_ns, tol_ns):
    return abs(d["offset"] * 1e9 - offset_ns) <= tol_ns


class TruthLine:
    """page_time - CLOCK_REALTIME as vmclock-sim defines it
    (src/sim/README.md "Ground truth"), from one of its event lines."""

    def __init__(self, ev):
        self.rt = ev["realtime_ns"]
        self.off = ev["offset_ns"] + ev.get("type_shift_ns", 0)
        self.drift = ev["drift_ppm"]

    def at(self, rt):
        return self.off + self.drift * 1e-6 * (rt - self.rt)


class LogMark:
    """Lines vmclockd logged since a mark (its log file grows; it is shared
    stdout+stderr, one line per message)."""

    def __init__(self, vmc):
        self.vmc = vmc
        self.pos = len(vmc.log())

    def text(self):
        return self.vmc.log()[self.pos:]

    def lines(self, pattern=None):
        ls = [line for line in self.text().splitlines() if line.strip()]
        if pattern is None:
            return ls
        rx = re.compile(pattern)
        return [line for line in ls if rx.search(line)]


def write_scenario(path, events, top=None):
    """A vmclock-sim scenario file: `events` are dicts (type, at, ...)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return '"' + str(v) + '"'
    out = [f"{k} = {val(v)}" for k, v in (top or {}).items()]
    for ev in events:
        out.append("[[event]]")
        out.extend(f"{k} = {val(v)}" for k, v in ev.items())
        out.append("")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path


def stop_and_exit_code(vmc, timeout=10):
    """SIGTERM to vmclockd; its exit code (None if it had to be killed)."""
    if vmc.proc is None:
        return None
    if vmc.proc.poll() is not None:
        return vmc.proc.returncode
    vmc.proc.send_signal(signal.SIGTERM)
    try:
        return vmc.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        vmc.proc.kill()
        vmc.proc.wait(timeout=timeout)
        return None


def proc_cpu_s(pid):
    """utime + stime of a process in seconds (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def atomic_write(path, data):
    """Writes `data` to a temporary file next to `path` and renames it over."""
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def sim_wait_stopped(sim, timeout=10):
    """Stops a Sim (SIGTERM: it leaves its page in place), bounded."""
    stop_proc(sim.proc, timeout=timeout)
    sim.reader.join(timeout=2)


def mount_tmpfs(path, size="64k"):
    """Mounts a small tmpfs at `path`; (True, '') or (False, why)."""
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return False, (r.stderr or r.stdout).strip()
    return True, ""


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=20)


def fill_fs(directory, name="filler"):
    """Fills the file system of `directory` with one file until ENOSPC;
    returns its path and how many bytes went in."""
    p = os.path.join(directory, name)
    n = 0
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                w = os.write(fd, chunk)
            except OSError:
                break
            if w <= 0:
                break
            n += w
        # Whatever is left below a page (and any partial page).
        while True:
            try:
                if os.write(fd, b"\0") != 1:
                    break
                n += 1
            except OSError:
                break
    finally:
        os.close(fd)
    return p, n
