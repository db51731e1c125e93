#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The main job, shown live: vmclockd fed by the simulator, a throwaway
chronyd (unprivileged, -x: it never touches this machine's clock)
synchronising to it, and a simulated live migration half way through.

Every process runs in a private 0700 directory and is stopped at the end.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--bin", default="build/release/bin", help="where vmclockd, vmclockctl and vmclock-sim are")
ap.add_argument("--seconds", type=float, default=40, help="how long to run (default 40)")
ap.add_argument("--offset-ns", type=int, default=37500, help="offset the simulator injects (default +37.5 us)")
ap.add_argument("--migrate-at", type=float, default=20, help="simulated migration after N s (0: none)")
args = ap.parse_args()

bin_dir = os.path.abspath(args.bin)
src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
chronyd = shutil.which("chronyd") or "/usr/sbin/chronyd"
chronyc = shutil.which("chronyc") or "/usr/bin/chronyc"
d = tempfile.mkdtemp(prefix="vmclockd-demo.")
os.chmod(d, 0o700)
procs = []


def refclock_line():
    """The shipped SOCK snippet's refclock line, pointed at our socket."""
    with open(os.path.join(src, "chrony-refclock", "vmclockd-sock.conf")) as f:
        for line in f:
            if line.strip().startswith("refclock "):
                parts = line.split()
                parts[2] = os.path.join(d, "vmc.sock")
                return " ".join(parts)
    raise SystemExit("chrony-refclock/vmclockd-sock.conf has no refclock line")


def start(cmd, log):
    p = subprocess.Popen(cmd, stdout=open(os.path.join(d, log), "w"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def tracking():
    r = subprocess.run([chronyc, "-c", "-h", os.path.join(d, "chronyd.sock"), "tracking"],
                       capture_output=True, text=True, timeout=5)
    f = r.stdout.strip().split(",")
    return float(f[4]) if len(f) > 5 and f[1] == "VMC" else None


def source_state():
    r = subprocess.run([chronyc, "-c", "-h", os.path.join(d, "chronyd.sock"), "sources"],
                       capture_output=True, text=True, timeout=5)
    for line in r.stdout.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] == "VMC":
            return {"*": "selected", "+": "combined", "?": "unusable", "x": "falseticker",
                    "~": "too variable", "-": "not combined"}.get(f[1], f[1])
    return "-"


def bound():
    """libvmclock's answer, as vmclockctl bound --json prints it."""
    r = subprocess.run([os.path.join(bin_dir, "vmclockctl"), "--page", f"{d}/page", "bound", "--segment",
                        f"{d}/bound", "--json"], capture_output=True, text=True, timeout=5)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        return "-"
    if j.get("bound_ns") is None:
        return j.get("status", "-")
    return f"+-{j['bound_ns'] / 1000:.3f} us {j['status']} ({j['source']})"


def status():
    try:
        with open(os.path.join(d, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


try:
    with open(os.path.join(d, "chrony.conf"), "w") as f:
        f.write(f"""{refclock_line()}
cmdport 0
bindcmdaddress {d}/chronyd.sock
pidfile {d}/chronyd.pid
driftfile {d}/drift
""")
    with open(os.path.join(d, "vmclockd.toml"), "w") as f:
        f.write(f"""[source]
page = "{d}/page"
[chrony]
sock = "{d}/vmc.sock"
command_socket = "{d}/chronyd.sock"
client_dir = "{d}"
[daemon]
status_file = "{d}/status.json"
user = ""
[bound]
segment = "{d}/bound"
""")
    sim = subprocess.Popen([os.path.join(bin_dir, "vmclock-sim"), "--page", f"{d}/page", "--offset-ns",
                            str(args.offset_ns), "--json"], stdout=subprocess.PIPE, text=True)
    procs.append(sim)
    ready = json.loads(sim.stdout.readline())
    print(f"simulator: page {d}/page, offset {ready['offset_ns'] / 1000:+.3f} us, "
          f"counter period {ready['counter_period_s'] * 1e12:.3f} ps")
    start([chronyd, "-U", "-x", "-d", "-u", os.environ.get("USER") or "root", "-f", f"{d}/chrony.conf"],
          "chronyd.log")
    time.sleep(0.3)
    start([os.path.join(bin_dir, "vmclockd"), "--config", f"{d}/vmclockd.toml"], "vmclockd.log")
    print(f"chronyd:   throwaway instance in {d} (-x: the system clock is left alone)")
    print(f"vmclockd:  {d}/vmclockd.toml\n")
    print(f"{'t/s':>5}  {'truth':>12}  {'chrony says':>12}  {'error':>10}  {'source':<10} {'vmclockd':<10} resets"
          f"  libvmclock now()")
    truth_ns = args.offset_ns
    migrated_at = None
    drift = 0.0
    t0 = time.monotonic()
    migrated = False
    while time.monotonic() - t0 < args.seconds:
        time.sleep(1)
        t = time.monotonic() - t0
        if args.migrate_at and not migrated and t >= args.migrate_at:
            sim.send_signal(signal.SIGUSR1)
            ev = json.loads(sim.stdout.readline())
            truth_ns, drift, migrated_at, migrated = ev["offset_ns"], ev["drift_ppm"], time.monotonic(), True
            print(f"----- live migration: marker {ev['marker']}, offset step to {truth_ns / 1000:+.3f} us, "
                  f"frequency {drift:+.1f} ppm -----")
        now_truth = truth_ns + (drift * 1e3 * (time.monotonic() - migrated_at) if migrated_at else 0)
        off = tracking()
        st = status()
        said = f"{off * 1e6:+.3f} us" if off is not None else "-"
        err = f"{off * 1e9 - now_truth:+.0f} ns" if off is not None else "-"
        print(f"{t:5.0f}  {now_truth / 1000:+9.3f} us  {said:>12}  {err:>10}  {source_state():<10} "
              f"{st.get('state', '-'):<10} {st.get('resets_sent', '-'):>6}  {bound()}", flush=True)
    print(f"\nvmclockctl bound (what an application linking libvmclock gets, from the page and from "
          f"vmclockd's segment):")
    for page in (f"{d}/page", ""):
        subprocess.run([os.path.join(bin_dir, "vmclockctl"), "--page", page, "bound", "--segment", f"{d}/bound"])
    print("(chronyd runs with -x here: the system clock keeps the offset, and the bound carries it)")
    print(f"\nvmclockctl status --status-file {d}/status.json:")
    subprocess.run([os.path.join(bin_dir, "vmclockctl"), "status", "--status-file", f"{d}/status.json"])
finally:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(d, ignore_errors=True)
