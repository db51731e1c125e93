# SPDX-License-Identifier: Apache-2.0
"""A Debian 12 system booted with systemd as PID 1 in systemd-nspawn, for
test_systemd_boot.py: the cached root file system (debootstrap from the
archive apt uses here), a per-run copy of it, the boot, commands run
inside through nsenter, and the teardown. python3 stdlib only; every wait
is bounded in time.
"""
import fcntl
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

CACHE_DIR = os.environ.get("VMC_ROOTFS_CACHE", "/var/cache/vmclockd-tests")
SUITE = "bookworm"
# What the root file system holds beyond minbase: systemd as PID 1, the
# bus systemd-analyze and systemctl reach it by, chrony, and procps for the
# unit's ExecReload=/bin/kill. cached_rootfs() adds the .deb's Depends, so
# that dpkg -i needs no archive and a new dependency makes a new tree.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "chrony", "procps")
# Bumped when the way the tree is made changes (not the package list,
# which is in the key already).
ROOTFS_VERSION = 1
DEBOOTSTRAP_TIMEOUT_S = 1200
BOOT_TIMEOUT_S = 90
POWEROFF_TIMEOUT_S = 30


def log(msg):
    print(f"[nspawn] {msg}", flush=True)


def run(cmd, timeout, check=True, **kw):
    p = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-4000:]}")
    return p


def apt_mirror(suite=SUITE):
    """The Debian archive apt uses on this machine for `suite` (main),
    from /etc/apt/sources.list and sources.list.d (one-line and deb822)."""
    files = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list")),
             *sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))]
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"([A-Za-z-]+):\s*(.*)", line)
                    if m and not line.startswith("#"):
                        fields[m.group(1).lower()] = m.group(2).split()
                if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                        and "main" in fields.get("components", []) and fields.get("uris")):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line)
                if m and m.group(2) == suite and "main" in m.group(3).split():
                    return m.group(1)
    raise AssertionError(f"no 'deb ... {suite} main' source in {files}")


def deb_depends(deb):
    """The package names a .deb's Depends asks for (of an alternative the
    first; no versions): what debootstrap must --include for dpkg -i."""
    out = run(["dpkg-deb", "-f", deb, "Depends"], timeout=60).stdout
    return sorted({alt.split("|")[0].split("(")[0].split(":")[0].strip() for alt in out.split(",") if alt.strip()})


def rootfs_key(packages):
    text = f"{SUITE} {ROOTFS_VERSION} {' '.join(packages)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_rootfs(extra=()):
    """The root file system with PACKAGES and `extra`, built first if the
    cache lacks it. Built in a temporary directory beside it and renamed
    into place only when complete; a lock keeps two runs from building it
    at once."""
    packages = sorted(set(PACKAGES) | set(extra))
    os.makedirs(CACHE_DIR, exist_ok=True)
    final = os.path.join(CACHE_DIR, f"rootfs-{SUITE}-{rootfs_key(packages)}")
    with open(os.path.join(CACHE_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(final):
            log(f"root file system from the cache: {final}")
            return final
        mirror = apt_mirror()
        tmp = tempfile.mkdtemp(prefix=".build-", dir=CACHE_DIR)
        try:
            t0 = time.monotonic()
            log(f"debootstrap {SUITE} from {mirror} into {tmp} (not cached: {final})")
            run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
                 SUITE, os.path.join(tmp, "root"), mirror], timeout=DEBOOTSTRAP_TIMEOUT_S)
            root = os.path.join(tmp, "root")
            # Packages are in; the downloaded .debs are not needed again.
            shutil.rmtree(os.path.join(root, "var/cache/apt/archives"), ignore_errors=True)
            os.makedirs(os.path.join(root, "var/cache/apt/archives/partial"), exist_ok=True)
            os.rename(root, final)
            log(f"root file system built in {time.monotonic() - t0:.0f} s")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _set_pdeathsig():
    """In the child before exec: die with the test (nspawn then takes the
    container down with it: its own children have the same setting)."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Machine:
    """A private copy of the cached root file system, booted on demand."""

    def __init__(self, rootfs):
        runs = os.path.join(CACHE_DIR, "runs")
        os.makedirs(runs, exist_ok=True)
        # Copies a killed run left behind (its pid is in the name).
        for old in glob.glob(os.path.join(runs, "run-*")):
            m = re.match(r"run-(\d+)-", os.path.basename(old))
            if m and not _pid_alive(int(m.group(1))):
                log(f"removing a copy a killed run left: {old}")
                shutil.rmtree(old, ignore_errors=True)
        self.dir = tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=runs)
        self.root = os.path.join(self.dir, "root")
        t0 = time.monotonic()
        run(["cp", "-a", "--reflink=auto", rootfs, self.root], timeout=300)
        log(f"copied the root file system in {time.monotonic() - t0:.1f} s")
        self.proc = None
        self.leader = None
        self.console = os.path.join(self.dir, "console.log")
        # Its own name: nspawn keeps per-name state in /run/systemd/nspawn
        # (the directory's name, "root", would be every run's).
        self.name = f"vmclockd-test-{os.getpid()}"

    def path(self, p):
        """A path inside the copy, from the host."""
        return os.path.join(self.root, p.lstrip("/"))

    def write(self, p, text, mode=0o644):
        full = self.path(p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)

    def offline(self, cmd, binds=(), timeout=300):
        """cmd in the copy without booting it (systemd-nspawn without -b)."""
        args = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--private-network",
                f"--machine={self.name}", "-D", self.root, *(f"--bind-ro={b}" for b in binds), "--", *cmd]
        return run(args, timeout=timeout, check=False)

    def boot(self, binds=(), binds_ro=()):
        """Boots the copy; returns once systemd inside reports running or
        degraded (bounded by BOOT_TIMEOUT_S)."""
        assert self.proc is None
        args = ["systemd-nspawn", "--quiet", "-b", "--register=no", "--keep-unit", "--private-network",
                f"--machine={self.name}", "-D", self.root, *(f"--bind={b}" for b in binds), *(f"--bind-ro={b}" for b in binds_ro)]
        log("+ " + " ".join(args))
        con = open(self.console, "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=con, stderr=subprocess.STDOUT,
                                     preexec_fn=_set_pdeathsig)
        con.close()
        t0 = time.monotonic()
        deadline = t0 + BOOT_TIMEOUT_S
        while self.leader is None:
            if self.proc.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}:\n{self.console_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no container PID 1 under systemd-nspawn {self.proc.pid} "
                                     f"after {BOOT_TIMEOUT_S} s:\n{self.console_text()}")
            self.leader = self._find_leader()
            time.sleep(0.1)
        state = ""
        while time.monotonic() < deadline:
            state = self.sh(["systemctl", "is-system-running"], timeout=10, check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"system not up after {BOOT_TIMEOUT_S} s (is-system-running: {state!r}):\n"
                                 f"{self.console_text()}")
        log(f"booted (PID 1 is host pid {self.leader}) in {time.monotonic() - t0:.1f} s: {state}")
        return state

    def _find_leader(self):
        """The container's PID 1: the child of systemd-nspawn in another
        PID namespace that runs systemd."""
        own = os.readlink("/proc/self/ns/pid")
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                pid = int(stat.split("/")[2])
                if int(fields[1]) != self.proc.pid or os.readlink(f"/proc/{pid}/ns/pid") == own:
                    continue
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "systemd":
                        return pid
            except (OSError, ValueError, IndexError):
                continue
        return None

    def sh(self, cmd, timeout=30, check=True):
        """cmd inside the running container: all of PID 1's namespaces,
        its root and working directory."""
        assert self.leader, "not booted"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "SYSTEMD_PAGER": "",
               "SYSTEMD_COLORS": "0", "TERM": "dumb"}
        args = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w", "--", *cmd]
        return run(args, timeout=timeout, check=check, env=env)

    def console_text(self, tail=4000):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()[-tail:]
        except OSError:
            return ""

    def shutdown(self):
        """poweroff from inside, then kill what is left; bounded."""
        if self.proc is None:
            return
        if self.proc.poll() is None and self.leader:
            try:
                self.sh(["systemctl", "poweroff", "--no-block"], timeout=10, check=False)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.proc.wait(timeout=POWEROFF_TIMEOUT_S)
                log(f"powered off (systemd-nspawn exited {self.proc.returncode})")
            except subprocess.TimeoutExpired:
                log(f"no poweroff within {POWEROFF_TIMEOUT_S} s: killing the container")
        if self.proc.poll() is None:
            if self.leader:
                try:
                    os.kill(self.leader, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None
        self.leader = None

    def cleanup(self):
        self.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)
