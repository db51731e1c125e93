# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the daemon-level integration tests (test_daemon_*.py).

vmclock-sim (the host), vmclockd (the daemon under test), a throwaway
chronyd (chrony_helpers.Chronyd), a SysV SHM reader, a tiny NTP server,
a datagram socket that plays chronyd's SOCK refclock, and the
measurements (time until chrony's tracking offset stays within a bound of
the truth). python3 stdlib only; every wait is bounded.
"""
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

from chrony_helpers import (SHM_KEY_BASE, Chronyd, remove_shm, snippet_refclock,  # noqa: F401
                            source_dir, vmc_bin, wait_for)


def shm_unit(k=0):
    """A SHM unit vmclockd accepts (0..255) that gpsd (0, 1) and the
    chrony sink tests (1000+) do not use; `k` picks another one."""
    return 100 + (os.getpid() + 37 * k) % 150


def rt_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def fixtures_dir():
    return os.environ.get("VMC_FIXTURES") or os.path.join(source_dir(), "tests", "fixtures")


class TempDir:
    """A 0700 directory removed at cleanup."""

    def __init__(self, tag):
        self.path = tempfile.mkdtemp(prefix=f"vmc-{tag}.")
        os.chmod(self.path, 0o700)

    def join(self, *p):
        return os.path.join(self.path, *p)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def stop_proc(proc, sig=signal.SIGTERM, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


# ---------------------------------------------------------------- simulator

class Sim:
    """vmclock-sim --json in the background; its event lines parsed as they come."""

    def __init__(self, page, args=(), ready_timeout=15, log_path=None):
        """log_path: every line is also appended there as it comes, for the
        tests' programs that read the truth themselves (sim_truth.h)."""
        self.page = page
        self.log = open(log_path, "w") if log_path else None
        self.events = []
        self.cond = threading.Condition()
        self.errf = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([vmc_bin("vmclock-sim"), "--page", page, "--json", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=self.errf, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.ready = self.wait_event("ready", ready_timeout)
        except AssertionError:
            self.stop()
            raise AssertionError(f"vmclock-sim not ready: {self.stderr()}")

    def _read(self):
        for line in self.proc.stdout:
            if self.log:
                self.log.write(line)
                self.log.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ev["_mono"] = time.monotonic()
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def wait_event(self, name, timeout, after=0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events[after:]:
                    if ev.get("event") == name:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"vmclock-sim: no {name!r} event within {timeout} s "
                                         f"(events: {[e.get('event') for e in self.events]})")
                self.cond.wait(min(left, 0.2))

    def signal_and_wait(self, sig, name, timeout=5):
        with self.cond:
            n = len(self.events)
        self.proc.send_signal(sig)
        return self.wait_event(name, timeout, after=n)

    def migrate(self, timeout=5):
        """SIGUSR1; returns the migration event (new offset/drift, realtime_ns)."""
        return self.signal_and_wait(signal.SIGUSR1, "migration", timeout)

    def last_truth_event(self):
        with self.cond:
            for ev in reversed(self.events):
                if "offset_ns" in ev and "realtime_ns" in ev:
                    return ev
        return None

    def truth_offset_s(self, at_rt_ns, ev=None):
        """The page's time minus CLOCK_REALTIME at `at_rt_ns`, in seconds."""
        ev = ev or self.last_truth_event()
        off = ev["offset_ns"] + ev.get("type_shift_ns", 0) + ev["drift_ppm"] * 1e-6 * (at_rt_ns - ev["realtime_ns"])
        return off * 1e-9

    def stderr(self):
        self.errf.flush()
        self.errf.seek(0)
        return self.errf.read()

    def stop(self):
        stop_proc(self.proc)
        self.reader.join(timeout=2)
        self.proc.stdout.close()
        self.errf.close()
        if self.log:
            self.log.close()


# ------------------------------------------------------------------ vmclockd

def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))


def toml_text(sections):
    out = []
    for sec, kv in sections.items():
        out.append(f"[{sec}]")
        out.extend(f"{k} = {toml_value(v)}" for k, v in kv.items())
        out.append("")
    return "\n".join(out)


class Vmclockd:
    """vmclockd with a config written from `sections`.

    Defaults make it a test instance: no privilege drop, status file and
    command client directory inside `d`, no SOCK sink unless given.
    """

    def __init__(self, d, page, sections=None, tag="vmclockd", extra_args=()):
        self.dir = d
        self.tag = tag
        self.status_file = os.path.join(d, f"{tag}.status.json")
        self.config = os.path.join(d, f"{tag}.toml")
        self.logfile = os.path.join(d, f"{tag}.log")
        cfg = {"source": {"page": page},
               "chrony": {"sock": "", "command_socket": "", "client_dir": d},
               "daemon": {"status_file": self.status_file, "user": ""},
               "bound": {"segment": os.path.join(d, f"{tag}.bound")}}
        for sec, kv in (sections or {}).items():
            cfg.setdefault(sec, {}).update(kv)
        self.sections = cfg
        self.write_config(toml_text(cfg))
        self.extra_args = list(extra_args)
        self.proc = None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, wait_status=True, timeout=10):
        logf = open(self.logfile, "a")
        self.proc = subprocess.Popen([vmc_bin("vmclockd"), "--config", self.config,
                                      *self.extra_args], stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        if wait_status:
            wait_for(lambda: self.status() is not None or self.proc.poll() is not None, timeout,
                     what=f"{self.tag}'s status file")
            if self.proc.poll() is not None:
                raise AssertionError(f"vmclockd exited with {self.proc.returncode}:\n{self.log()}")
        return self

    def status(self):
        try:
            with open(self.status_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def ctl_status(self):
        """`vmclockctl status --json` parsed, and its exit code."""
        r = subprocess.run([vmc_bin("vmclockctl"), "status", "--status-file", self.status_file, "--json"],
                           capture_output=True, text=True, timeout=10)
        try:
            return r.returncode, json.loads(r.stdout)
        except ValueError:
            return r.returncode, {"_stdout": r.stdout, "_stderr": r.stderr}

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, timeout):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout, what=f"{self.tag} log /{pattern}/")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        stop_proc(self.proc)


# --------------------------------------------------------------- SysV SHM

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.shmget.restype = ctypes.c_int
_libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_libc.shmat.restype = ctypes.c_void_p
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.shmdt.argtypes = [ctypes.c_void_p]
SHM_RDONLY = 0o10000
SHM_SIZE = 96


class ShmSegment:
    """chrony's SHM refclock segment, attached read-only (never consumes)."""

    def __init__(self, unit):
        self.key = SHM_KEY_BASE + unit
        self.addr = None

    def attach(self):
        if self.addr:
            return True
        sid = _libc.shmget(self.key, SHM_SIZE, 0)
        if sid < 0:
            return False
        addr = _libc.shmat(sid, None, SHM_RDONLY)
        if addr in (None, ctypes.c_void_p(-1).value):
            return False
        self.addr = addr
        return True

    def read(self):
        """{'mode','count','clock_ns','receive_ns','leap','valid'} or None if absent."""
        if not self.attach():
            return None
        raw = ctypes.string_at(self.addr, SHM_SIZE)
        mode, count = struct.unpack_from("<ii", raw, 0)
        csec, = struct.unpack_from("<q", raw, 8)
        rsec, = struct.unpack_from("<q", raw, 24)
        leap, prec, nsamples, valid, cns, rns = struct.unpack_from("<iiiiII", raw, 36)
        return {"mode": mode, "count": count, "valid": valid, "leap": leap,
                "clock_ns": csec * 10**9 + cns, "receive_ns": rsec * 10**9 + rns}

    def detach(self):
        if self.addr:
            _libc.shmdt(self.addr)
            self.addr = None


# ------------------------------------------------------- a fake SOCK refclock

class SockCatcher:
    """Binds the SOCK refclock path as chronyd would and collects datagrams."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.1)

    def collect(self, seconds):
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got.append(self.s.recv(1024))
            except socket.timeout:
                pass
        return got

    def close(self):
        self.s.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def parse_sock_sample(b):
    """chrony's struct sock_sample (64-bit): tv_sec, tv_usec, offset, pulse, leap, pad, magic."""
    if len(b) != 40:
        return None
    sec, usec, off, pulse, leap, pad, magic = struct.unpack("<qqdiiii", b)
    return {"sec": sec, "usec": usec, "offset": off, "leap": leap, "magic": magic}


# --------------------------------------------------------------- NTP server

NTP_EPOCH = 2208988800


def _ntp_ts(ns):
    sec, frac_ns = divmod(ns, 10**9)
    return ((sec + NTP_EPOCH) << 32) | ((frac_ns << 32) // 10**9)


class NtpServer:
    """NTPv4 server on 127.0.0.1 (UDP): system time plus a settable offset.

    Stratum 1, refid "VMCT", tiny root delay/dispersion, origin timestamp
    = the client's transmit timestamp. `set_offset` applies to every reply
    after it.
    """

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.offset_ns = 0
        self.requests = 0
        self.lock = threading.Lock()
        self.running = True
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def set_offset(self, seconds):
        with self.lock:
            self.offset_ns = int(round(seconds * 1e9))

    def _serve(self):
        while self.running:
            try:
                data, addr = self.s.recvfrom(1024)
            except socket.timeout:
                continue
            except OSError:
                return
            rx = rt_ns()
            if len(data) < 48:
                continue
            li_vn_mode = data[0]
            vn = (li_vn_mode >> 3) & 7
            if li_vn_mode & 7 != 3:  # client mode only
                continue
            with self.lock:
                off = self.offset_ns
                self.requests += 1
            client_tx = data[40:48]
            poll = struct.unpack_from("b", data, 2)[0]
            ref = _ntp_ts(rx + off - 10**9)
            reply = struct.pack(">BBbbII4sQ8sQ", (0 << 6) | (vn << 3) | 4, 1, poll, -20,
                                1 << 4,  # root delay 1/4096 s (16.16)
                                1 << 4,  # root dispersion
                                b"VMCT", ref, client_tx, _ntp_ts(rx + off))
            reply += struct.pack(">Q", _ntp_ts(rt_ns() + off))
            try:
                self.s.sendto(reply, addr)
            except OSError:
                pass

    def stop(self):
        self.running = False
        self.t.join(timeout=2)
        self.s.close()


# ------------------------------------------------------- chronyd's cmdmon

def sources(chronyd):
    """`chronyc -c sources` as dicts: mode (^ # =), state (* + - ? x ~), name, reach."""
    out = []
    for line in chronyd.chronyc("-c", "sources").splitlines():
        f = line.split(",")
        if len(f) >= 10:
            out.append({"mode": f[0], "state": f[1], "name": f[2], "stratum": int(f[3]), "poll": int(f[4]),
                        "reach": int(f[5], 8), "last_rx": f[6], "offset": float(f[8])})
    return out


def selected_source(chronyd, name):
    """True when `name` (refclock refid or NTP address) is chrony's '*' source
    (chrony_helpers.Chronyd.selected looks at refclocks only)."""
    return any(s["name"] == name and s["state"] == "*" for s in sources(chronyd))


def _chrony_float(x):
    """chrony's 32-bit Float: 7-bit signed exponent, 25-bit signed coefficient."""
    exp = x >> 25
    if exp >= 64:
        exp -= 128
    coef = x & ((1 << 25) - 1)
    if coef >= 1 << 24:
        coef -= 1 << 25
    return coef * 2.0 ** (exp - 25)


class ChronyMon:
    """TRACKING over chronyd's command socket, without forking chronyc: the
    query instant is known to the round trip (well under a millisecond),
    which matters when chrony's offset moves 20-40 ns per millisecond."""

    REQ_TRACKING = 33
    RPY_TRACKING = 5
    REPLY_LEN = 28 + 76  # RPY_Tracking up to its EOR

    def __init__(self, chronyd, name="mon"):
        self.server = chronyd.sock
        self.local = os.path.join(chronyd.dir, f"{name}.{os.getpid()}.sock")
        self.seq = 1
        self.s = None

    def _socket(self):
        if self.s is None:
            try:
                os.unlink(self.local)
            except OSError:
                pass
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.s.bind(self.local)
            self.s.settimeout(1.0)
        return self.s

    def tracking(self):
        """(realtime ns mid-query, round trip ns, tracking dict) or (None, None, None)."""
        self.seq += 1
        req = struct.pack(">BBBBHHIII", 6, 1, 0, 0, self.REQ_TRACKING, 0, self.seq, 0, 0)
        req += bytes(self.REPLY_LEN - len(req))
        try:
            s = self._socket()
            a = rt_ns()
            s.sendto(req, self.server)
            while True:
                data = s.recv(1024)
                b = rt_ns()
                if len(data) >= 28 and struct.unpack_from(">I", data, 16)[0] == self.seq:
                    break
        except OSError:
            self.close()
            return None, None, None
        (_, _, _, _, _, reply, status) = struct.unpack_from(">BBBBHHH", data, 0)
        if status != 0 or reply != self.RPY_TRACKING or len(data) < self.REPLY_LEN:
            return None, None, None
        ref_id, = struct.unpack_from(">I", data, 28)
        stratum, leap = struct.unpack_from(">HH", data, 52)
        f = [_chrony_float(x) for x in struct.unpack_from(">9I", data, 68)]
        refid = ref_id.to_bytes(4, "big").rstrip(b"\0").decode("ascii", "replace")
        t = {"refid": refid, "ref_id": ref_id, "stratum": stratum, "leap": leap, "system_time": f[0],
             "last_offset": f[1], "rms_offset": f[2], "freq_ppm": f[3], "skew_ppm": f[5]}
        return (a + b) // 2, b - a, t

    def close(self):
        if self.s is not None:
            self.s.close()
            self.s = None
        try:
            os.unlink(self.local)
        except OSError:
            pass


# ------------------------------------------------------------- measurement

MAX_RTT_NS = 2_000_000


def tracking_point(mon):
    """(realtime ns of the query, tracking dict) through a ChronyMon; the
    dict is None when chronyd did not answer or the round trip took over
    MAX_RTT_NS (the instant the offset refers to is then too uncertain)."""
    at, rtt, t = mon.tracking()
    if at is None:
        return rt_ns(), None
    return at, (t if rtt <= MAX_RTT_NS else None)


def tracking_error(mon, truth_s):
    """(realtime ns, chrony's offset minus truth_s(realtime ns) in s) or
    (realtime ns, None) when there is no usable answer."""
    at, t = tracking_point(mon)
    return at, (None if t is None else t["system_time"] - truth_s(at))


def recovery_time(points, bound):
    """points: [(t_s since the event, error_s or None)] in time order; None
    (no usable answer) neither breaks nor proves recovery.

    Returns (seconds until the error stays within `bound` to the end of the
    window, or None if it was out of bounds at the end) and the first time
    it entered the bound.
    """
    points = [(t, e) for t, e in points if e is not None]
    last_bad = 0.0
    first_good = None
    for t, err in points:
        if abs(err) > bound:
            last_bad = t
        elif first_good is None:
            first_good = t
    if not points or abs(points[-1][1]) > bound:
        return None, first_good
    # The first good sample after the last bad one.
    for t, err in points:
        if t > last_bad and abs(err) <= bound:
            return t, first_good
    return None, first_good


def refclock_line(kind, where, override=None):
    """The refclock line of chrony-refclock/vmclockd-<kind>.conf for `where`
    (unit or path), or `override` options (everything after the path/unit)."""
    if override is not None:
        return f"refclock {kind.upper()} {where} {override}"
    return snippet_refclock(f"vmclockd-{kind}.conf", where)


def fmt_us(x):
    return "n/a" if x is None else f"{x * 1e6:.3f} us"


def fmt_s(x, cap=None):
    if x is None:
        return f">= {cap:.0f} s (cap)" if cap else "never"
    return f"{x:.2f} s"


class Cleanup:
    """A stack of cleanups run in reverse order, exceptions reported not raised."""

    def __init__(self):
        self.fns = []

    def add(self, fn):
        self.fns.append(fn)
        return fn

    def run(self):
        while self.fns:
            fn = self.fns.pop()
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: {e!r}", flush=True)
