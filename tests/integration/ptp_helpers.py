# SPDX-License-Identifier: Apache-2.0
"""A two-node PTP network on one machine for the ptp4l tests.

Two network namespaces joined by a veth pair, names unique to this process;
ptp4l as grandmaster in one, as slave in the other, each with its own
uds_address in a temporary directory. Software timestamping, free_running:
nobody steps this machine's clock and no traffic leaves the namespaces.
Everything is removed on exit from the `with` block, failures included.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("VMC_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))


def skip_unless_possible():
    """Exits with ctest's skip code (VMC_SKIP_CODE, set by tests/CMakeLists.txt;
    automake's 77 when run by hand) when the test cannot run here: it needs
    root for network namespaces, and ptp4l, pmc and ip."""
    missing = [t for t in ("ptp4l", "pmc", "ip") if not shutil.which(t)]
    why = None
    if os.geteuid() != 0:
        why = "needs root for network namespaces"
    elif missing:
        why = f"{'/'.join(missing)} not installed (not on PATH)"
    if why:
        print(f"SKIP: {why}", flush=True)
        sys.exit(int(os.environ.get("VMC_SKIP_CODE", "77")))


def run(cmd, check=True, timeout=30, **kw):
    return subprocess.run(cmd, check=check, timeout=timeout, capture_output=True, text=True, **kw)


def wait_for(fn, timeout, what, step=0.25):
    """Calls fn until it returns a true value; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


def parse_pmc(text):
    """pmc's 'name value' lines as a dict (first reply only)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\t\t(\S+)\s+(\S+)", line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2)
    return out


class PtpNet:
    def __init__(self):
        tag = f"vmcp{os.getpid()}"
        self.ns_gm, self.ns_slave = tag + "g", tag + "s"
        self.if_gm, self.if_slave = tag + "g", tag + "s"
        self.tmp = tempfile.mkdtemp(prefix="vmc-ptp-")
        self.uds_gm = os.path.join(self.tmp, "ptp4l-gm")
        self.uds_slave = os.path.join(self.tmp, "ptp4l-slave")
        self.procs = {}
        self.transcript = []

    def __enter__(self):
        try:
            run(["ip", "netns", "add", self.ns_gm])
            run(["ip", "netns", "add", self.ns_slave])
            run(["ip", "link", "add", self.if_gm, "type", "veth", "peer", "name", self.if_slave])
            run(["ip", "link", "set", self.if_gm, "netns", self.ns_gm])
            run(["ip", "link", "set", self.if_slave, "netns", self.ns_slave])
            for ns, iface in ((self.ns_gm, self.if_gm), (self.ns_slave, self.if_slave)):
                run(["ip", "-n", ns, "link", "set", "lo", "up"])
                run(["ip", "-n", ns, "link", "set", iface, "up"])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for name in list(self.procs):
            self.stop(name)
        for ns in (self.ns_gm, self.ns_slave):
            run(["ip", "netns", "del", ns], check=False)
        run(["ip", "link", "del", self.if_gm], check=False)  # only if the move failed
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def _conf(self, name, uds, extra):
        path = os.path.join(self.tmp, name + ".conf")
        with open(path, "w") as f:
            f.write("[global]\nnetwork_transport L2\ntime_stamping software\nfree_running 1\n"
                    f"uds_address {uds}\nlogAnnounceInterval 0\n{extra}")
        return path

    def start_gm(self):
        # priority1 below the slave's so the roles cannot swap.
        conf = self._conf("gm", self.uds_gm, "masterOnly 1\npriority1 100\n")
        self._start("gm", self.ns_gm, self.if_gm, conf, self.uds_gm)

    def start_slave(self):
        conf = self._conf("slave", self.uds_slave, "slaveOnly 1\n")
        self._start("slave", self.ns_slave, self.if_slave, conf, self.uds_slave)

    def _start(self, name, ns, iface, conf, uds):
        if os.path.exists(uds):
            os.unlink(uds)
        log = open(os.path.join(self.tmp, name + ".log"), "a")
        self.procs[name] = subprocess.Popen(["ip", "netns", "exec", ns, "ptp4l", "-f", conf, "-i", iface, "-m"],
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(uds), 10, f"ptp4l {name} socket {uds}")

    def stop(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    def log(self, name):
        with open(os.path.join(self.tmp, name + ".log")) as f:
            return f.read()

    def pmc(self, side, *commands):
        ns, uds = (self.ns_gm, self.uds_gm) if side == "gm" else (self.ns_slave, self.uds_slave)
        client = os.path.join(self.tmp, f"pmc-{side}")
        r = run(["ip", "netns", "exec", ns, "pmc", "-u", "-b", "0", "-s", uds, "-i", client, *commands],
                check=False, timeout=15)
        return r.stdout

    def slave_view(self):
        """The slave's PARENT_DATA_SET and TIME_PROPERTIES_DATA_SET, merged."""
        parent = parse_pmc(self.pmc("slave", "GET PARENT_DATA_SET"))
        props = parse_pmc(self.pmc("slave", "GET TIME_PROPERTIES_DATA_SET"))
        return {**parent, **props}

    def wait_slave(self, expect, timeout=20, label=""):
        """Waits until the slave shows every key of `expect`; records pmc's output."""
        seen = {}

        def ok():
            v = self.slave_view()
            seen["last"] = v
            return v if all(v.get(k) == str(val) for k, val in expect.items()) else None
        try:
            view = wait_for(ok, timeout, f"slave to show {expect}", step=0.5)
        except AssertionError:
            sys.stderr.write(f"--- slave's last view ---\n{seen.get('last')}\n")
            sys.stderr.write("--- gm log ---\n" + self.log("gm")[-3000:] + "\n--- slave log ---\n" +
                             self.log("slave")[-3000:] + "\n")
            raise
        text = (self.pmc("slave", "GET PARENT_DATA_SET") + self.pmc("slave", "GET TIME_PROPERTIES_DATA_SET"))
        self.transcript.append((label, text))
        return view

    def tool(self, *args, timeout=30):
        """Runs vmc-ptp-set in the grandmaster's namespace; returns its JSON status."""
        import json
        cmd = ["ip", "netns", "exec", self.ns_gm, os.path.join(BIN, "vmc-ptp-set"), "--uds", self.uds_gm, *args]
        r = run(cmd, check=False, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr}")
        return json.loads(r.stdout), r.stderr
