#!/usr/bin/env python3
"""Packages end to end (issue 6): builds the .deb and the .rpm from the
checkout (packaging/build-deb, packaging/build-rpm), then

 - the .deb: lintian has no errors; it installs with apt-get and purges
   cleanly; files land where the FHS and the unit say, with the user, group,
   run directory and chrony wiring the package promises; the shipped
   config documents every key the daemon knows and passes --check-config;
   `systemd-analyze verify` accepts the units; `systemd-analyze security
   --offline=true` rates vmclockd.service at an exposure of at most 2.0;
   the man pages pass `man --warnings`;
 - the .rpm: `rpm -qlp` lists the same files (RPM paths), `rpm -qp
   --scripts` creates the user and the run directory and handles the unit;
 - privilege drop: vmclockd started as root with a config feeding an SHM
   segment from vmclock-sim becomes user vmclockd with CapEff, CapPrm and
   CapBnd all zero, and keeps feeding the segment.

Needs root (dpkg, the privilege drop), the tools in TOOLS and the Debian
archive (build dependencies, lintian); without root or a tool the file
exits VMC_SKIP_CODE, which ctest reports as Skipped. Takes about 5 minutes: each package build compiles
the three binaries. Environment: VMC_SOURCE (checkout), VMC_BIN (binaries).
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

SOURCE = os.path.abspath(os.environ.get("VMC_SOURCE", os.path.join(os.path.dirname(__file__), "../..")))
BIN = os.path.abspath(os.environ.get("VMC_BIN", os.path.join(SOURCE, "build/release/bin")))
BINARIES = {"vmclockd": "sbin", "vmclockctl": "bin", "vmclock-sim": "bin"}
MAX_EXPOSURE = 2.0
SHM_UNIT = 211  # far from gpsd's 0/1 and the usual 2
SHM_KEY = 0x4E545030 + SHM_UNIT

# What the .deb must contain (Debian 12: units and udev rules under /lib).
DEB_FILES = {
    "/usr/sbin/vmclockd",
    "/usr/bin/vmclockctl",
    "/usr/bin/vmclock-sim",
    "/etc/vmclockd.toml",
    "/etc/chrony/conf.d/vmclockd.conf",
    "/lib/systemd/system/vmclockd.service",
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
}
DEB_CONFFILES = {"/etc/vmclockd.toml", "/etc/chrony/conf.d/vmclockd.conf"}
RPM_FILES = {
    "/usr/sbin/vmclockd",
    "/usr/bin/vmclockctl",
    "/usr/bin/vmclock-sim",
    "/etc/vmclockd.toml",
    "/etc/chrony.d",
    "/etc/chrony.d/vmclockd.conf",
    "/usr/lib/systemd/system/vmclockd.service",
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
    "/usr/share/man/man3/vmclock_now.3.gz",
    "/usr/lib64/libvmclock.so",
    "/usr/lib64/libvmclock.so.0",
    "/usr/lib64/pkgconfig/vmclock.pc",
    "/usr/include/vmclock",
    "/usr/include/vmclock/vmclock.h",
    "/usr/include/vmclock/vmclock.hpp",
}
RPM_CONFFILES = {"/etc/vmclockd.toml", "/etc/chrony.d/vmclockd.conf"}
# What the test runs and does not install itself (it installs lintian and
# cpio, build-deb and build-rpm the build dependencies and rpm).
TOOLS = ("apt-get", "dpkg", "dpkg-deb", "dpkg-query", "git", "systemd-analyze", "man", "ipcrm", "cc", "pkg-config")


def skip_unless_possible():
    """Exits with ctest's skip code (VMC_SKIP_CODE, set by tests/CMakeLists.txt;
    automake's 77 when run by hand) when the test cannot run here."""
    missing = [t for t in TOOLS if not shutil.which(t)]
    why = None
    if os.geteuid() != 0:
        why = "needs root: dpkg -i/--purge and the privilege drop"
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
        # VMC_PACKAGES_DIR: packages built before (its deb/ and rpm/ hold
        # build-deb's and build-rpm's output), to rerun the checks quickly.
        pkgs = os.environ.get("VMC_PACKAGES_DIR") or cls.tmp
        if not os.environ.get("VMC_PACKAGES_DIR"):
            t0 = time.monotonic()
            run([os.path.join(SOURCE, "packaging/build-deb"), os.path.join(pkgs, "deb")])
            t1 = time.monotonic()
            run([os.path.join(SOURCE, "packaging/build-rpm"), os.path.join(pkgs, "rpm")])
            t2 = time.monotonic()
            print(f"build-deb {t1 - t0:.0f} s, build-rpm {t2 - t1:.0f} s", flush=True)
        debs = [f for f in os.listdir(os.path.join(pkgs, "deb"))
                if f.startswith("vmclockd_") and f.endswith(".deb")]
        rpms = [f for f in os.listdir(os.path.join(pkgs, "rpm"))
                if re.match(r"vmclockd-\d.*\.rpm$", f) and "debug" not in f]
        assert len(debs) == 1, debs
        assert len(rpms) == 1, rpms
        cls.deb = os.path.join(pkgs, "deb", debs[0])
        cls.rpm = os.path.join(pkgs, "rpm", rpms[0])
        with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
            cls.version = re.search(r"^project\(\S+ VERSION ([0-9.]+)", f.read(), re.M).group(1)

    @classmethod
    def tearDownClass(cls):
        if deb_installed("vmclockd"):
            subprocess.run(["dpkg", "--purge", "vmclockd"], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- the .deb, as a file -------------------------------------------
    def test_1_deb_contents_and_lintian(self):
        self.assertIn(f"_{self.version}_", os.path.basename(self.deb), "version comes from project(VERSION)")
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        paths = {re.sub(r"^\.", "", line.split()[5]).rstrip("/") for line in listing.splitlines()}
        self.assertLessEqual(DEB_FILES, paths, f"missing: {sorted(DEB_FILES - paths)}")
        conffiles = run(["dpkg-deb", "-f", self.deb, "Conffiles"], check=False).stdout
        ctl = os.path.join(self.tmp, "ctl")
        run(["dpkg-deb", "-e", self.deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            self.assertEqual(set(f.read().split()), DEB_CONFFILES, conffiles)
        with open(os.path.join(ctl, "postinst")) as f:
            postinst = f.read()
        for want in ("systemd-sysusers", "systemd-tmpfiles", "deb-systemd-helper enable 'vmclockd.service'"):
            self.assertIn(want, postinst)
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        self.assertIn("chrony", depends)

        apt_install("lintian")
        p = run(["lintian", "--tag-display-limit", "0", self.deb], check=False)
        print(p.stdout, flush=True)
        errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], "lintian errors")

    # --- the .deb, installed and purged -----------------------------------
    def test_2_deb_install_verify_security_privdrop_purge(self):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", self.deb], env=env)
        try:
            self.check_installed()
            self.check_units()
            self.check_config_and_man()
            self.check_privilege_drop()
        finally:
            run(["dpkg", "--purge", "vmclockd"])
        self.assertFalse(deb_installed("vmclockd"))
        for path in DEB_FILES | {"/run/vmclockd"}:
            self.assertFalse(os.path.lexists(path), f"{path} left after purge")

    def check_installed(self):
        for path in DEB_FILES:
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
        # libvmclock: the library, its header and pkg-config file; a C
        # program built against them runs (it says UNKNOWN here: no page).
        libs = run(["dpkg", "-L", "vmclockd"]).stdout.split()
        self.assertTrue(any(p.endswith("/libvmclock.so.0") for p in libs), "libvmclock.so.0 not installed")
        self.assertIn("/usr/include/vmclock/vmclock.h", libs)
        cflags = run(["pkg-config", "--cflags", "--libs", "vmclock"]).stdout.split()
        self.assertIn("-lvmclock", cflags)
        exe = os.path.join(self.tmp, "now")
        src = os.path.join(os.environ.get("VMC_SOURCE", ""), "src", "libvmclock", "examples", "now.c")
        run(["cc", "-o", exe, src, *cflags])
        r = subprocess.run([exe], capture_output=True, text=True, timeout=10)
        self.assertIn(r.returncode, (0, 69), r.stderr)

        with open("/lib/udev/rules.d/60-vmclockd.rules") as f:
            rule = f.read()
        self.assertRegex(rule, r'KERNEL=="vmclock\[0-9\]\*".*GROUP="vmclockd".*MODE="0440"')

        # chrony and vmclockd agree on the socket path, and the chrony
        # drop-in gives exactly that socket to group vmclockd.
        with open("/etc/chrony/conf.d/vmclockd.conf") as f:
            refclocks = [l.split() for l in f if l.startswith("refclock")]
        self.assertEqual(len(refclocks), 1, refclocks)
        self.assertEqual(refclocks[0][1], "SOCK")
        sock = refclocks[0][2]
        options = run(["/usr/sbin/vmclockd", "--print-options"]).stdout
        self.assertIn(f'sock = "{sock}"', options,
                      "the refclock in /etc/chrony/conf.d/vmclockd.conf is the daemon's default [chrony] sock")
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

    def check_config_and_man(self):
        # The conffile: all defaults, valid, and it names every key.
        p = run(["/usr/sbin/vmclockd", "--check-config", "--config", "/etc/vmclockd.toml"], check=False)
        self.assertEqual(p.returncode, 0, p.stdout)
        with open("/etc/vmclockd.toml") as f:
            conf = f.read()
        active = [l for l in conf.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        self.assertTrue(all(re.fullmatch(r"\[\w+\]", l.strip()) for l in active),
                        f"only section headers are uncommented: {active}")
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

    # --- the .rpm, as a file -----------------------------------------------
    def test_3_rpm_files_and_scripts(self):
        self.assertIn(f"-{self.version}-", os.path.basename(self.rpm), "version comes from project(VERSION)")
        # Man pages are compressed by Fedora's brp-compress, not by Debian's
        # rpmbuild; build-id links are rpmbuild's own.
        files = {re.sub(r"\.gz$", "", f) for f in run(["rpm", "-qlp", self.rpm]).stdout.split()
                 if not f.startswith("/usr/lib/.build-id")}
        expected = {re.sub(r"\.gz$", "", f) for f in RPM_FILES} | {f"/usr/lib64/libvmclock.so.{self.version}"}
        self.assertLessEqual(expected, files, f"missing: {sorted(expected - files)}")
        extra = files - expected
        self.assertEqual(extra, set(), "files the test does not know about")
        conf = set(run(["rpm", "-qcp", self.rpm]).stdout.split())
        self.assertEqual(conf, RPM_CONFFILES)
        scripts = run(["rpm", "-qp", "--scripts", self.rpm]).stdout
        print(scripts, flush=True)
        for want in ("systemd-sysusers vmclockd.conf", "systemd-tmpfiles --create vmclockd.conf",
                     "preset vmclockd.service", "disable --now vmclockd.service",
                     "try-restart vmclockd.service", "try-restart chronyd.service", "udevadm trigger"):
            self.assertIn(want, scripts)
        requires = run(["rpm", "-qp", "--requires", self.rpm]).stdout
        self.assertRegex(requires, r"(?m)^chrony >= 4\.0$")
        # The RHEL flavour of the generated files.
        apt_install("cpio")
        extract = os.path.join(self.tmp, "rpmroot")
        os.makedirs(extract)
        rpm2cpio = subprocess.Popen(["rpm2cpio", self.rpm], stdout=subprocess.PIPE)
        subprocess.run(["cpio", "-idm", "--quiet"], stdin=rpm2cpio.stdout, cwd=extract, check=True)
        rpm2cpio.wait()
        with open(os.path.join(extract, "usr/lib/sysusers.d/vmclockd.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^m vmclockd chrony$")
        with open(os.path.join(extract, "usr/lib/tmpfiles.d/vmclockd.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^d /run/vmclockd/sockets 0750 vmclockd chrony -$")
        with open(os.path.join(extract, "usr/lib/systemd/system/vmclockd.service")) as f:
            self.assertIn("ExecStart=/usr/sbin/vmclockd", f.read())


if __name__ == "__main__":
    skip_unless_possible()
    result = unittest.main(verbosity=2, exit=False).result
    n = result.testsRun
    bad = len(result.failures) + len(result.errors)
    print(f"{n - bad - len(result.skipped)} passed, {bad} failed, {len(result.skipped)} skipped")
    sys.exit(0 if result.wasSuccessful() else 1)
