#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Packages end to end (issues 6, 13 and 14): builds the .debs and the
.rpms once from the checkout (packaging/build-deb, packaging/build-rpm), then

 - the .debs (vmclockd, libvmclock0, libvmclock-dev): each holds its own
   files and no other's; lintian reports no errors and no warnings on any
   of them; they install with apt-get and purge cleanly; files land where
   the FHS and the unit say, with the user, group, run directories
   (/run/vmclockd, /run/clockbound) and chrony wiring the package promises;
   /dev/vmclock* is made world-readable; ptp4l-gm.conf is a conffile at
   /etc/linuxptp/ptp4l-gm.conf; vmclockd-wait-sync.service is installed
   and not enabled; the shipped config documents every key the daemon knows
   and passes --check-config; `systemd-analyze verify` accepts the units;
   `systemd-analyze security --offline=true` rates vmclockd.service at an
   exposure of at most 2.0; the man pages pass `man --warnings`;
 - the .rpms (vmclockd, vmclockd-libs, vmclockd-devel): `rpm -qlp` lists
   exactly the expected files for each; License is Apache-2.0; vmclockd no
   longer requires pkg-config; `rpm -qp --scripts` has every scriptlet
   under set -e and no `|| :`; the chrony.conf trigger appends its confdir
   once and the erase removes exactly it; an install into an empty
   `rpm --root` fails because its scriptlets fail (and succeeds with
   --noscripts, so it is the scriptlets);
 - privilege drop: vmclockd started as root with a config feeding an SHM
   segment from vmclock-sim becomes user vmclockd with CapEff, CapPrm and
   CapBnd all zero, and keeps feeding the segment.

Needs root (dpkg, rpm --root, the privilege drop), the tools in TOOLS and
the Debian archive (build dependencies, lintian); without root or a tool the
file exits VMC_SKIP_CODE, which ctest reports as Skipped. Under ctest the
packages are built before it, by integration.package_builds (a fixture,
tests/CMakeLists.txt); run by hand it builds them itself (about 7 minutes:
each package build compiles the three binaries and the library).
Environment: VMC_SOURCE (checkout), VMC_BIN (binaries), VMC_PACKAGES_DIR
(packages built before, to rerun the checks quickly).
"""
import ctypes
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import package_builds  # noqa: E402

SOURCE = os.path.abspath(os.environ.get("VMC_SOURCE", os.path.join(os.path.dirname(__file__), "../..")))
BIN = os.path.abspath(os.environ.get("VMC_BIN", os.path.join(SOURCE, "build/release/bin")))
BINARIES = {"vmclockd": "sbin", "vmclockctl": "bin", "vmclock-sim": "bin"}
MAX_EXPOSURE = 2.0
SHM_UNIT = 211  # far from gpsd's 0/1 and the usual 2
SHM_KEY = 0x4E545030 + SHM_UNIT

# What each .deb must contain (Debian 12: units and udev rules under /lib),
# and nothing of another's.
DEB_FILES = {
    "vmclockd": {
        "/usr/sbin/vmclockd",
        "/usr/bin/vmclockctl",
        "/usr/bin/vmclock-sim",
        "/etc/vmclockd.toml",
        "/etc/chrony/conf.d/vmclockd.conf",
        "/usr/share/vmclockd/vmclockd-sock.conf",
        "/etc/linuxptp/ptp4l-gm.conf",
        "/lib/systemd/system/vmclockd.service",
        "/lib/systemd/system/vmclockd-wait-sync.service",
        "/lib/systemd/system/chrony.service.d/vmclockd.conf",
        "/usr/lib/sysusers.d/vmclockd.conf",
        "/usr/lib/tmpfiles.d/vmclockd.conf",
        "/lib/udev/rules.d/60-vmclockd.rules",
        "/usr/share/man/man8/vmclockd.8.gz",
        "/usr/share/man/man1/vmclockctl.1.gz",
        "/usr/share/man/man1/vmclock-sim.1.gz",
        "/usr/share/man/man5/vmclockd.toml.5.gz",
        "/usr/share/doc/vmclockd/README.packaging.md.gz",  # dh_compress: over 4 kB
        "/usr/share/doc/vmclockd/copyright",
        "/usr/share/doc/vmclockd/changelog.gz",
    },
    "libvmclock0": {
        "/usr/lib/{ma}/libvmclock.so.0",
        "/usr/lib/{ma}/libvmclock.so.{version}",
        "/usr/share/doc/libvmclock0/copyright",
        "/usr/share/doc/libvmclock0/changelog.gz",
    },
    "libvmclock-dev": {
        "/usr/include/vmclock/vmclock.h",
        "/usr/include/vmclock/vmclock.hpp",
        "/usr/lib/{ma}/libvmclock.so",
        "/usr/lib/{ma}/pkgconfig/vmclock.pc",
        "/usr/share/man/man3/vmclock_now.3.gz",
        "/usr/share/doc/libvmclock-dev/copyright",
        "/usr/share/doc/libvmclock-dev/changelog.gz",
    },
}
DEB_CONFFILES = {"/etc/vmclockd.toml", "/etc/chrony/conf.d/vmclockd.conf", "/etc/linuxptp/ptp4l-gm.conf"}
RPM_FILES = {
    "vmclockd": {
        "/usr/sbin/vmclockd",
        "/usr/bin/vmclockctl",
        "/usr/bin/vmclock-sim",
        "/etc/vmclockd.toml",
        "/etc/chrony.d",
        "/etc/chrony.d/vmclockd.conf",
        "/usr/share/vmclockd",
        "/usr/share/vmclockd/vmclockd-sock.conf",
        "/etc/linuxptp",
        "/etc/linuxptp/ptp4l-gm.conf",
        "/usr/lib/systemd/system/vmclockd.service",
        "/usr/lib/systemd/system/vmclockd-wait-sync.service",
        "/usr/lib/systemd/system/chronyd.service.d",
        "/usr/lib/systemd/system/chronyd.service.d/vmclockd.conf",
        "/usr/lib/sysusers.d/vmclockd.conf",
        "/usr/lib/tmpfiles.d/vmclockd.conf",
        "/usr/lib/udev/rules.d/60-vmclockd.rules",
        "/usr/share/man/man8/vmclockd.8.gz",
        "/usr/share/man/man1/vmclockctl.1.gz",
        "/usr/share/man/man1/vmclock-sim.1.gz",
        "/usr/share/man/man5/vmclockd.toml.5.gz",
        "/usr/share/doc/vmclockd/README.packaging.md",
        "/usr/share/licenses/vmclockd",
        "/usr/share/licenses/vmclockd/LICENSE",
    },
    "vmclockd-libs": {
        "/usr/lib64/libvmclock.so.0",
        "/usr/lib64/libvmclock.so.{version}",
        # The same file as vmclockd's (_docdir_fmt %{{name}}): rpm lets
        # packages share an identical file.
        "/usr/share/licenses/vmclockd",
        "/usr/share/licenses/vmclockd/LICENSE",
    },
    "vmclockd-devel": {
        "/usr/share/man/man3/vmclock_now.3.gz",
        "/usr/lib64/libvmclock.so",
        "/usr/lib64/pkgconfig/vmclock.pc",
        "/usr/include/vmclock",
        "/usr/include/vmclock/vmclock.h",
        "/usr/include/vmclock/vmclock.hpp",
    },
}
RPM_CONFFILES = {"/etc/vmclockd.toml", "/etc/chrony.d/vmclockd.conf", "/etc/linuxptp/ptp4l-gm.conf"}
CHRONY_CONFDIR_MARK = "# Added by the vmclockd package (removed when it is erased)"
# What the test runs and does not install itself (it installs lintian and
# cpio, build-deb and build-rpm the build dependencies and rpm).
TOOLS = ("apt-get", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-architecture", "git", "systemd-analyze", "systemctl",
         "man", "ipcrm", "cc", "pkg-config")


def skip_unless_possible():
    """Exits with ctest's skip code (VMC_SKIP_CODE, set by tests/CMakeLists.txt;
    automake's 77 when run by hand) when the test cannot run here."""
    missing = [t for t in TOOLS if not shutil.which(t)]
    why = None
    if os.geteuid() != 0:
        why = "needs root: dpkg -i/--purge, rpm --root and the privilege drop"
    elif missing:
        why = f"{'/'.join(missing)} not installed (not on PATH)"
    if why:
        print(f"SKIP: {why}", flush=True)
        sys.exit(int(os.environ.get("VMC_SKIP_CODE", "77")))


def run(cmd, check=True, timeout=900, **kw):
    """Runs cmd, echoing it; returns CompletedProcess with text output."""
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-6000:]}")
    return p


def deb_installed(name):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], text=True, capture_output=True)
    return p.returncode == 0 and "install ok installed" in p.stdout


def apt_install(*pkgs):
    missing = [p for p in pkgs if not deb_installed(p)]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


class ShmReader:
    """Reads chrony's SHM segment (struct shmTime) without creating it."""

    def __init__(self, key):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.shmat.restype = ctypes.c_void_p
        self.libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        self.id = self.libc.shmget(ctypes.c_int(key), ctypes.c_size_t(0), ctypes.c_int(0))
        if self.id < 0:
            raise OSError(ctypes.get_errno(), f"shmget({key:#x})")
        addr = self.libc.shmat(self.id, None, 0o10000)  # SHM_RDONLY
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "shmat")
        self.addr = addr

    def count(self):
        return ctypes.c_int.from_address(self.addr + 4).value

    def valid(self):
        return ctypes.c_int.from_address(self.addr + 48).value

    def clock_sec(self):
        return ctypes.c_int64.from_address(self.addr + 8).value

    def close(self):
        self.libc.shmdt(ctypes.c_void_p(self.addr))


def remove_shm(key):
    subprocess.run(["ipcrm", "-M", hex(key)], capture_output=True)


class Packaging(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [b for b in BINARIES if not os.access(os.path.join(BIN, b), os.X_OK)]
        if missing:
            raise AssertionError(f"binaries missing from VMC_BIN={BIN}: {', '.join(missing)}")
        cls.tmp = tempfile.mkdtemp(prefix="vmc-pkg.")
        # Built once per checkout and shared with test_systemd_boot
        # (package_builds.py; VMC_PACKAGES_DIR: packages built before).
        cls.debdir, cls.rpmdir = package_builds.built("deb"), package_builds.built("rpm")
        with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
            cls.version = re.search(r"^project\(\S+ VERSION ([0-9.]+)", f.read(), re.M).group(1)
        ma = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).stdout.strip()
        cls.deb_files = {p: {f.format(ma=ma, version=cls.version) for f in files} for p, files in DEB_FILES.items()}
        cls.rpm_files = {p: {f.format(version=cls.version) for f in files} for p, files in RPM_FILES.items()}
        cls.debs = {}
        for f in os.listdir(cls.debdir):
            m = re.match(r"([a-z0-9-]+)_[^_]+_[^_]+\.deb$", f)
            if m and not m.group(1).endswith("-dbgsym"):
                cls.debs[m.group(1)] = os.path.join(cls.debdir, f)
        cls.rpms = {}
        for f in os.listdir(cls.rpmdir):
            m = re.match(r"(vmclockd(?:-[a-z]+)?)-(\d[^-]*)-[^-]+\.rpm$", f)
            if m and "debug" not in m.group(1):
                cls.rpms[m.group(1)] = os.path.join(cls.rpmdir, f)
        assert set(cls.debs) == set(DEB_FILES), sorted(cls.debs)
        assert set(cls.rpms) == set(RPM_FILES), sorted(cls.rpms)
        cls.deb = cls.debs["vmclockd"]

    @classmethod
    def tearDownClass(cls):
        installed = [p for p in DEB_FILES if deb_installed(p)]
        if installed:
            subprocess.run(["dpkg", "--purge", *installed], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- the .debs, as files ----------------------------------------------
    def test_1_deb_contents_and_lintian(self):
        contents = {}
        for pkg, deb in self.debs.items():
            self.assertIn(f"_{self.version}_", os.path.basename(deb), "version comes from project(VERSION)")
            listing = run(["dpkg-deb", "-c", deb]).stdout
            # Files and links, not directories: exactly the expected ones,
            # so none is in two packages and libvmclock0 is the shared
            # library only (lintian's package-name-doesnt-match-sonames,
            # link-to-shared-library-in-wrong-package).
            contents[pkg] = {re.sub(r"^\.", "", line.split()[5]) for line in listing.splitlines()
                             if not line.startswith("d")}
            self.assertEqual(contents[pkg], self.deb_files[pkg], pkg)
        self.assertNotIn("pkg-config", run(["dpkg-deb", "-f", self.debs["vmclockd"], "Depends"]).stdout)
        self.assertRegex(run(["dpkg-deb", "-f", self.debs["libvmclock-dev"], "Depends"]).stdout,
                         rf"libvmclock0 \(= {re.escape(self.version)}\)")
        for pkg, deb in self.debs.items():
            self.assertRegex(run(["dpkg-deb", "-f", deb, "Maintainer"]).stdout, r"^vmclockd maintainers <")

        ctl = os.path.join(self.tmp, "ctl")
        run(["dpkg-deb", "-e", self.deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            self.assertEqual(set(f.read().split()), DEB_CONFFILES)
        with open(os.path.join(ctl, "postinst")) as f:
            postinst = f.read()
        for want in ("systemd-sysusers", "systemd-tmpfiles", "deb-systemd-helper enable 'vmclockd.service'"):
            self.assertIn(want, postinst)
        # vmclockd-wait-sync.service: enabled again on upgrade only if the
        # admin had enabled it (debhelper's --no-enable snippet); a fresh
        # install leaves it disabled (test_2 checks systemctl is-enabled).
        self.assertRegex(postinst, r"if deb-systemd-helper --quiet was-enabled 'vmclockd-wait-sync\.service'; then\n"
                                   r"\s*# Create new symlinks, if any\.\n\s*deb-systemd-helper enable 'vmclockd-wait-sync")
        self.assertRegex(postinst, r"if deb-systemd-helper debian-installed 'vmclockd-wait-sync\.service'; then",
                         "vmclockd-wait-sync.service is installed, not enabled")
        self.assertNotRegex(postinst, r"deb-systemd-invoke \$_dh_action .*vmclockd-wait-sync",
                            "vmclockd-wait-sync.service is not started on install (it waits up to 180 s)")
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        self.assertIn("chrony", depends)

        apt_install("lintian")
        debs = [self.debs[p] for p in DEB_FILES]
        p = run(["lintian", "--tag-display-limit", "0", *debs], check=False)
        print(p.stdout, flush=True)
        bad = [line for line in p.stdout.splitlines() if re.match(r"[EW]: ", line)]
        self.assertEqual(bad, [], "lintian errors and warnings")
        self.assertEqual(p.returncode, 0, p.stdout)

    # --- the .deb, installed and purged -----------------------------------
    def test_2_deb_install_verify_security_privdrop_purge(self):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *(self.debs[p] for p in DEB_FILES)], env=env)
        try:
            self.check_installed()
            self.check_units()
            self.check_config_and_man()
            self.check_privilege_drop()
        finally:
            run(["dpkg", "--purge", *DEB_FILES])
        for pkg, files in self.deb_files.items():
            self.assertFalse(deb_installed(pkg), pkg)
            for path in files:
                self.assertFalse(os.path.lexists(path), f"{path} left after purge")
        for path in ("/run/vmclockd", "/run/clockbound"):
            self.assertFalse(os.path.lexists(path), f"{path} left after purge")

    def check_installed(self):
        for files in self.deb_files.values():
            for path in files:
                self.assertTrue(os.path.exists(path), path)
        for b, d in BINARIES.items():
            st = os.stat(f"/usr/{d}/{b}")
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755, b)
            self.assertEqual(st.st_uid, 0, b)
        out = run([f"/usr/sbin/vmclockd", "--version"]).stdout
        self.assertIn(self.version, out)

        user = pwd.getpwnam("vmclockd")
        self.assertLess(user.pw_uid, 1000, "a system user")
        self.assertNotEqual(user.pw_uid, 0)
        self.assertIn(user.pw_shell, ("/usr/sbin/nologin", "/sbin/nologin"))
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "vmclockd")
        self.assertIn("vmclockd", grp.getgrnam("_chrony").gr_mem, "vmclockd is in chrony's group")

        # The bound segment's directory: anyone may reach it; the reply
        # sockets' directory: only chronyd's group.
        st = os.stat("/run/vmclockd")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o755)
        self.assertEqual(st.st_uid, user.pw_uid)
        st = os.stat("/run/vmclockd/sockets")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o750)
        self.assertEqual(st.st_uid, user.pw_uid)
        self.assertEqual(grp.getgrgid(st.st_gid).gr_name, "_chrony")
        # ClockBound's directory (clients read /var/run/clockbound/shm0):
        # anyone may read, only vmclockd writes.
        with open("/usr/lib/tmpfiles.d/vmclockd.conf") as f:
            self.assertRegex(f.read(), r"(?m)^d /run/clockbound 0755 vmclockd vmclockd -$")
        st = os.stat("/run/clockbound")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o755)
        self.assertEqual(st.st_uid, user.pw_uid)
        self.assertEqual(os.path.realpath("/var/run/clockbound"), "/run/clockbound")
        # libvmclock: the library, its header and pkg-config file; a C
        # program built against them runs (it says UNKNOWN here: no page).
        libs = run(["dpkg", "-L", "libvmclock0"]).stdout.split()
        self.assertTrue(any(p.endswith("/libvmclock.so.0") for p in libs), "libvmclock.so.0 not installed")
        self.assertIn("/usr/include/vmclock/vmclock.h", run(["dpkg", "-L", "libvmclock-dev"]).stdout.split())
        cflags = run(["pkg-config", "--cflags", "--libs", "vmclock"]).stdout.split()
        self.assertIn("-lvmclock", cflags)
        exe = os.path.join(self.tmp, "now")
        src = os.path.join(os.environ.get("VMC_SOURCE", ""), "src", "libvmclock", "examples", "now.c")
        run(["cc", "-o", exe, src, *cflags])
        r = subprocess.run([exe], capture_output=True, text=True, timeout=10)
        self.assertIn(r.returncode, (0, 69), r.stderr)

        with open("/lib/udev/rules.d/60-vmclockd.rules") as f:
            rule = f.read()
        # World-readable: libvmclock and ClockBound clients read the page.
        self.assertRegex(rule, r'(?m)^KERNEL=="vmclock\[0-9\]\*".*MODE="0444"')
        self.assertEqual(len(re.findall(r'MODE="', rule)), 1, rule)

        # ptp4l-gm.conf where ptp4l-plugin/README.md and the file say.
        with open("/etc/linuxptp/ptp4l-gm.conf") as f, open(os.path.join(SOURCE, "ptp4l-plugin/ptp4l-gm.conf")) as g:
            self.assertEqual(f.read(), g.read())
        with open(os.path.join(SOURCE, "ptp4l-plugin/README.md")) as f:
            self.assertIn("ptp4l -f /etc/linuxptp/ptp4l-gm.conf", f.read())

        # chrony's drop-in names the directory the unit links the refclock
        # into, only when the page carries time (a disruption-only host
        # gets none: test_systemd_boot boots both); chronyd parses it with
        # the directory absent, as after a removal.
        with open("/etc/chrony/conf.d/vmclockd.conf") as f:
            confdirs = [l.split() for l in f if l.startswith("confdir")]
        self.assertEqual(confdirs, [["confdir", "/run/vmclockd-chrony"]])
        with open("/lib/systemd/system/vmclockd.service") as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^ExecStartPre=\+/bin/sh -c '.*/usr/bin/vmclockctl carries-time; then ln -sfn "
                               r"/usr/share/vmclockd/vmclockd-sock.conf /run/vmclockd-chrony/vmclockd.conf; "
                               r"else rm -f /run/vmclockd-chrony/vmclockd.conf")
        # chrony and vmclockd agree on the socket path, and the chrony
        # drop-in gives exactly that socket to group vmclockd.
        with open("/usr/share/vmclockd/vmclockd-sock.conf") as f:
            refclocks = [l.split() for l in f if l.startswith("refclock")]
        self.assertEqual(len(refclocks), 1, refclocks)
        self.assertEqual(refclocks[0][1], "SOCK")
        sock = refclocks[0][2]
        options = run(["/usr/sbin/vmclockd", "--print-options"]).stdout
        self.assertIn(f'sock = "{sock}"', options,
                      "the refclock vmclockd links for chronyd is the daemon's default [chrony] sock")
        with open("/lib/systemd/system/chrony.service.d/vmclockd.conf") as f:
            dropin = f.read()
        self.assertIn("RuntimeDirectoryMode=0750", dropin)
        self.assertRegex(dropin, r"ExecStartPost=-\+/bin/sh -c '.*/run/chrony/vmclock\*\.sock.*chgrp vmclockd")
        self.assertTrue(sock.startswith("/run/chrony/vmclock") and sock.endswith(".sock"), sock)

    def check_units(self):
        # verify: the unit, its ExecStart binaries and Documentation= man
        # pages, and chrony's unit with our drop-in.
        p = run(["systemd-analyze", "verify", "/lib/systemd/system/vmclockd.service"], check=False)
        print(p.stdout, flush=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertNotIn("vmclockd.service:", p.stdout)
        p = run(["systemd-analyze", "verify", "/lib/systemd/system/chrony.service"], check=False)
        print(p.stdout, flush=True)
        self.assertNotIn("vmclockd.conf", p.stdout, "chrony.service.d/vmclockd.conf")

        p = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                 "/lib/systemd/system/vmclockd.service"], check=False)
        print(p.stdout, flush=True)
        m = re.search(r"Overall exposure level for vmclockd\.service: ([0-9.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        exposure = float(m.group(1))
        print(f"systemd-analyze security exposure: {exposure}", flush=True)
        self.assertLessEqual(exposure, MAX_EXPOSURE)
        with open("/lib/systemd/system/vmclockd.service") as f:
            unit = f.read()
        for want in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=vmclockd",
                     "CapabilityBoundingSet=\n", "DeviceAllow=/dev/vmclock0 r", "DevicePolicy=closed",
                     "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "ProtectSystem=strict",
                     "ReadWritePaths=/run/vmclockd", "ExecStart=/usr/sbin/vmclockd"):
            self.assertIn(want, unit)
        self.assertNotIn("PrivateIPC=yes", unit, "the SHM segment lives in the host's IPC namespace")
        self.assertRegex(unit, r"Before=.*chrony\.service")
        self.assertRegex(unit, r"(?m)^ReadWritePaths=/run/vmclockd /run/clockbound$", "writable: these, no more")

        # vmclockd-wait-sync.service: like chrony-wait.service, installed and
        # not enabled (units that need synchronized time ask for it).
        wait_unit = "/lib/systemd/system/vmclockd-wait-sync.service"
        p = run(["systemd-analyze", "verify", wait_unit], check=False)
        print(p.stdout, flush=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertNotIn("vmclockd-wait-sync.service:", p.stdout)
        with open(wait_unit) as f:
            wait = f.read()
        for want in ("Type=oneshot\n", "RemainAfterExit=yes\n", "User=vmclockd\n",
                     "ExecStart=/usr/bin/vmclockctl waitsync --timeout 180\n"):
            self.assertIn(want, wait)
        self.assertRegex(wait, r"(?m)^After=vmclockd\.service\b")
        self.assertRegex(wait, r"(?m)^Wants=vmclockd\.service$")
        self.assertRegex(wait, r"(?m)^# +After=vmclockd-wait-sync\.service$", "the comment says how to use it")
        p = run(["systemctl", "is-enabled", "vmclockd-wait-sync.service"], check=False)
        self.assertEqual(p.stdout.strip(), "disabled", p.stdout)
        p = run(["systemctl", "is-enabled", "vmclockd.service"], check=False)
        self.assertEqual(p.stdout.strip(), "enabled", p.stdout)

    def check_config_and_man(self):
        # The conffile: all defaults, valid, and it names every key.
        p = run(["/usr/sbin/vmclockd", "--check-config", "--config", "/etc/vmclockd.toml"], check=False)
        self.assertEqual(p.returncode, 0, p.stdout)
        with open("/etc/vmclockd.toml") as f:
            conf = f.read()
        active = [l.strip() for l in conf.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        # The one key the package sets (ClockBound's segment, issue 13):
        # once the daemon has it, it is on by default in the package.
        clockbound = ['segment = "/run/clockbound/shm0"']
        self.assertTrue(all(re.fullmatch(r"\[\w+\]", l) or l in clockbound for l in active),
                        f"only section headers are uncommented: {active}")
        self.assertRegex(conf, r'(?m)^#?\[clockbound\]\n(?:#.*\n)*#?segment = "/run/clockbound/shm0"$')
        options = run(["/usr/sbin/vmclockd", "--print-options"]).stdout
        keys = set(re.findall(r"^#?\s*(\w+)\s*=", options, re.M))
        self.assertTrue(keys, options)
        documented = set(re.findall(r"^#(\w+) =", conf, re.M))
        self.assertLessEqual(keys, documented, f"keys missing from /etc/vmclockd.toml: {keys - documented}")
        for page in ("man8/vmclockd.8.gz", "man1/vmclockctl.1.gz", "man1/vmclock-sim.1.gz",
                     "man5/vmclockd.toml.5.gz"):
            p = run(["man", "--warnings", "-l", "-Tutf8", f"/usr/share/man/{page}"], check=False,
                    env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual(p.returncode, 0, p.stdout[-2000:])
            warnings = [l for l in p.stdout.splitlines() if "warning" in l and ":" in l[:40]]
            self.assertEqual(warnings, [], page)

    def check_privilege_drop(self):
        """vmclockd as root feeding SHM: becomes vmclockd, no capabilities, keeps feeding."""
        user = pwd.getpwnam("vmclockd")
        work = tempfile.mkdtemp(prefix="vmc-privdrop.")
        os.chmod(work, 0o755)
        state = os.path.join(work, "state")
        os.mkdir(state)
        os.chown(state, user.pw_uid, user.pw_gid)
        page = os.path.join(work, "vmclock.page")
        config = os.path.join(work, "vmclockd.toml")
        with open(config, "w") as f:
            f.write(f'[source]\npage = "{page}"\n'
                    f'[chrony]\nshm_unit = {SHM_UNIT}\nsock = ""\ncommand_socket = ""\n'
                    f'[daemon]\nstatus_file = "{state}/status.json"\nuser = "vmclockd"\n')
        remove_shm(SHM_KEY)
        sim = subprocess.Popen([os.path.join(BIN, "vmclock-sim"), "--page", page, "--update-interval-ms", "200"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        daemon = None
        log = open(os.path.join(work, "vmclockd.log"), "w+")
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(page) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(page), "vmclock-sim wrote no page")
            daemon = subprocess.Popen([os.path.join(BIN, "vmclockd"), "--config", config],
                                      stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 10
            st = {}
            while time.monotonic() < deadline and daemon.poll() is None:
                st = proc_status(daemon.pid)
                if st["Uid"].split()[0] != "0":
                    break
                time.sleep(0.05)
            log.seek(0)
            self.assertIsNone(daemon.poll(), f"vmclockd exited {daemon.returncode}:\n{log.read()}")
            time.sleep(0.5)  # let the drop finish (uid changes before the capability sets are read back)
            st = proc_status(daemon.pid)
            print({k: st[k] for k in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                      "NoNewPrivs") if k in st}, flush=True)
            self.assertEqual(st["Uid"].split(), [str(user.pw_uid)] * 4)
            self.assertEqual(st["Gid"].split(), [str(user.pw_gid)] * 4)
            self.assertNotIn("0", st["Groups"].split())
            for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
                self.assertEqual(int(st[k], 16), 0, f"{k} = {st[k]}")

            shm = ShmReader(SHM_KEY)
            try:
                c0 = shm.count()
                time.sleep(2.0)
                c1 = shm.count()
                self.assertGreater(c1, c0, "vmclockd stopped feeding the SHM segment after dropping privileges")
                self.assertGreater(shm.clock_sec(), 1_600_000_000, "the segment holds a real time")
            finally:
                shm.close()
            self.assertIsNone(daemon.poll(), "vmclockd still runs")
            print(f"privilege drop: uid {user.pw_uid}, no capabilities, SHM count {c0} -> {c1}", flush=True)
        finally:
            for p in (daemon, sim):
                if p and p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            log.close()
            remove_shm(SHM_KEY)
            shutil.rmtree(work, ignore_errors=True)

    # --- the .rpms, as files -----------------------------------------------
    def rpm_q(self, pkg, *args):
        return run(["rpm", "-qp", *args, self.rpms[pkg]]).stdout

    def test_3_rpm_files_and_scripts(self):
        for pkg, path in self.rpms.items():
            self.assertIn(f"-{self.version}-", os.path.basename(path), "version comes from project(VERSION)")
            # Man pages are compressed by Fedora's brp-compress, not by
            # Debian's rpmbuild; build-id links are rpmbuild's own.
            files = {re.sub(r"\.gz$", "", f) for f in self.rpm_q(pkg, "-l").split()
                     if not f.startswith("/usr/lib/.build-id")}
            expected = {re.sub(r"\.gz$", "", f) for f in self.rpm_files[pkg]}
            self.assertEqual(files, expected, pkg)
            self.assertEqual(self.rpm_q(pkg, "--qf", "%{LICENSE}"), "Apache-2.0", pkg)
            self.assertRegex(self.rpm_q(pkg, "--qf", "%{PACKAGER}%{VENDOR}\\n%{CHANGELOGNAME}"),
                             r"vmclockd maintainers <", pkg)
        conf = set(self.rpm_q("vmclockd", "-c").split())
        self.assertEqual(conf, RPM_CONFFILES)
        self.assertEqual(self.rpm_q("vmclockd-libs", "-c").split() + self.rpm_q("vmclockd-devel", "-c").split(), [])

        requires = self.rpm_q("vmclockd", "--requires")
        self.assertRegex(requires, r"(?m)^chrony >= 4\.0$")
        self.assertNotRegex(requires, r"(?m)^(/usr/bin/pkg-config|pkgconfig)\b",
                            "the development files are in vmclockd-devel")
        for pkg in ("vmclockd", "vmclockd-devel"):
            self.assertRegex(self.rpm_q(pkg, "--requires"), rf"(?m)^vmclockd-libs\(x86-64\) = {re.escape(self.version)}-",
                             f"{pkg} needs the library of the same build")

        scripts = self.rpm_q("vmclockd", "--scripts")
        print(scripts, flush=True)
        for want in ("systemd-sysusers --replace=/usr/lib/sysusers.d/vmclockd.conf - <<'SYSUSERS'\n",
                     "\nu vmclockd ", "\nm vmclockd chrony\n", "systemd-tmpfiles --create vmclockd.conf",
                     "preset vmclockd.service", "disable vmclockd.service vmclockd-wait-sync.service",
                     "try-restart vmclockd.service", "restart chronyd.service", "udevadm trigger"):
            self.assertIn(want, scripts)
        self.assertNotIn("preset vmclockd-wait-sync", scripts, "installed, not enabled")
        self.assertNotRegex(scripts, r"\|\|\s*(?::|true)(?![\w-])", "no scriptlet hides a failure")
        # Each scriptlet ("postinstall scriptlet (using /bin/sh):") starts
        # with set -e, so every failing step fails it; the user is made in
        # %pre, whose failure aborts the install (rpm only warns about %post).
        self.assertRegex(scripts, r"(?m)^preinstall scriptlet \(using /bin/sh\):\nset -e\nsystemd-sysusers ")
        bodies = re.split(r"(?m)^\S.* scriptlet \(using /bin/sh\):\n", scripts)[1:]
        self.assertEqual(len(bodies), 4, scripts)
        for body in bodies:
            first = [l for l in body.splitlines() if l.strip() and not l.startswith("#")][0]
            self.assertEqual(first, "set -e", body)

        # The RHEL flavour of the generated files.
        apt_install("cpio")
        extract = os.path.join(self.tmp, "rpmroot")
        os.makedirs(extract)
        rpm2cpio = subprocess.Popen(["rpm2cpio", self.rpms["vmclockd"]], stdout=subprocess.PIPE)
        subprocess.run(["cpio", "-idm", "--quiet"], stdin=rpm2cpio.stdout, cwd=extract, check=True)
        rpm2cpio.wait()
        with open(os.path.join(extract, "usr/lib/sysusers.d/vmclockd.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^m vmclockd chrony$")
        with open(os.path.join(extract, "usr/lib/tmpfiles.d/vmclockd.conf")) as f:
            tmpfiles = f.read()
        self.assertRegex(tmpfiles, r"(?m)^d /run/vmclockd/sockets 0750 vmclockd chrony -$")
        self.assertRegex(tmpfiles, r"(?m)^d /run/clockbound 0755 vmclockd vmclockd -$")
        with open(os.path.join(extract, "usr/lib/systemd/system/vmclockd.service")) as f:
            self.assertIn("ExecStart=/usr/sbin/vmclockd", f.read())
        with open(os.path.join(extract, "usr/lib/systemd/system/vmclockd-wait-sync.service")) as f:
            self.assertRegex(f.read(), r"(?m)^After=vmclockd\.service chronyd\.service$")
        with open(os.path.join(extract, "usr/lib/udev/rules.d/60-vmclockd.rules")) as f:
            self.assertIn('MODE="0444"', f.read())

    def test_4_rpm_chrony_confdir(self):
        """The trigger that makes Fedora's/RHEL's/AL2023's chrony.conf read
        /etc/chrony.d: appends once, leaves a conf that reads it alone, and
        the erase removes exactly what it added. Run on a copy of the
        scriptlets with /etc/chrony.conf replaced by a file here."""
        triggers = self.rpm_q("vmclockd", "--triggers")
        m = re.search(r"(?ms)^triggerin scriptlet \(using /bin/sh\) -- chrony\n(.*?)(?=^\S.*scriptlet|\Z)", triggers)
        self.assertIsNotNone(m, triggers)
        trigger = m.group(1)
        scripts = self.rpm_q("vmclockd", "--scripts")
        m = re.search(r"(?ms)^postuninstall scriptlet \(using /bin/sh\):\n(.*?)(?=^\S.*scriptlet|\Z)", scripts)
        self.assertIsNotNone(m, scripts)
        postun = m.group(1)
        work = tempfile.mkdtemp(prefix="vmc-chronyconf.", dir=self.tmp)
        conf = os.path.join(work, "chrony.conf")
        stock = "pool 2.fedora.pool.ntp.org iburst\nsourcedir /run/chrony-dhcp\ndriftfile /var/lib/chrony/drift\n"

        def sh(body, *args):
            # This host's systemd, if it runs one, is left alone.
            body = body.replace("/etc/chrony.conf", conf).replace("/run/systemd/system", os.path.join(work, "none"))
            return run(["sh", "-c", body, "scriptlet", *args])

        with open(conf, "w") as f:
            f.write(stock)
        sh(trigger, "1", "1")
        sh(trigger, "1", "1")  # an upgrade: still one confdir
        with open(conf) as f:
            self.assertEqual(f.read(), stock + CHRONY_CONFDIR_MARK + ": read /etc/chrony.d/*.conf\nconfdir /etc/chrony.d\n")
        sh(postun, "1")  # upgrade: kept
        with open(conf) as f:
            self.assertIn("\nconfdir /etc/chrony.d\n", f.read())
        sh(postun, "0")  # erase: exactly the stock file again
        with open(conf) as f:
            self.assertEqual(f.read(), stock)
        reads = stock + "include /etc/chrony.d/*.conf\n"
        with open(conf, "w") as f:
            f.write(reads)
        sh(trigger, "1", "1")
        with open(conf) as f:
            self.assertEqual(f.read(), reads, "a chrony.conf that reads /etc/chrony.d is left alone")
        # No chrony.conf (chrony not installed yet): nothing to do, no failure.
        os.unlink(conf)
        sh(trigger, "1", "0")
        self.assertFalse(os.path.exists(conf))

    def test_5_rpm_root_scriptlet_failures_fail(self):
        """rpm --root into an empty directory: the scriptlets cannot run
        there (no /bin/sh, no systemd), so vmclockd's %pre fails, rpm says
        so, installs none of vmclockd's files and exits non-zero. With
        --noscripts the same install succeeds and every file of the three
        packages lands in the root: the failure is the scriptlets', and it
        is reported, not hidden."""
        rpms = [self.rpms[p] for p in RPM_FILES]
        for noscripts in (True, False):
            root = tempfile.mkdtemp(prefix="vmc-rpmroot.", dir=self.tmp)
            extra = ["--noscripts", "--notriggers"] if noscripts else []
            p = run(["rpm", "--root", root, "-i", "--nodeps", *extra, *rpms], check=False, timeout=300)
            print(p.stdout, flush=True)
            if noscripts:
                self.assertEqual(p.returncode, 0, p.stdout)
                for files in self.rpm_files.values():
                    for path in files:
                        # Man pages: .gz only where brp-compress runs (not Debian's rpmbuild).
                        self.assertTrue(os.path.lexists(root + path) or os.path.lexists(root + re.sub(r"\.gz$", "", path)),
                                        f"{path} not in --root {root}")
            else:
                self.assertNotEqual(p.returncode, 0, "a failed scriptlet must fail the install")
                self.assertRegex(p.stdout, r"(?m)^error: %prein\(vmclockd-\d[^)]*\) scriptlet failed")
                self.assertRegex(p.stdout, r"(?m)^error: vmclockd-\d\S* install failed")
                self.assertFalse(os.path.lexists(root + "/usr/sbin/vmclockd"), "vmclockd installed despite %pre")
                for path in self.rpm_files["vmclockd-libs"]:
                    self.assertTrue(os.path.lexists(root + path), f"{path}: the library has no scriptlets")
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    skip_unless_possible()
    result = unittest.main(verbosity=2, exit=False).result
    n = result.testsRun
    bad = len(result.failures) + len(result.errors)
    print(f"{n - bad - len(result.skipped)} passed, {bad} failed, {len(result.skipped)} skipped")
    sys.exit(0 if result.wasSuccessful() else 1)
