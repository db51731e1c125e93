# SPDX-License-Identifier: Apache-2.0
"""The packages that test_packaging and test_systemd_boot install, built
once per state of the checkout and shared: each build compiles the project
(minutes on two cores), and CI runs both tests.

built("deb") / built("rpm") returns the directory holding build-deb's or
build-rpm's output: VMC_PACKAGES_DIR/<kind> when that is set (packages
built before, to rerun the checks quickly), else <build dir>/packages/<kind>,
rebuilt when the checkout differs from the one its stamp names (HEAD, the
status and the diff against it). A lock keeps two runs from building at
once.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import time

SOURCE = os.path.abspath(os.environ.get("VMC_SOURCE", os.path.join(os.path.dirname(__file__), "../..")))
BIN = os.path.abspath(os.environ.get("VMC_BIN", os.path.join(SOURCE, "build/release/bin")))
SCRIPTS = {"deb": "packaging/build-deb", "rpm": "packaging/build-rpm"}


def source_key():
    h = hashlib.sha256()
    for cmd in (["rev-parse", "HEAD"], ["status", "--porcelain"], ["diff", "HEAD"]):
        h.update(subprocess.run(["git", "-C", SOURCE, *cmd], capture_output=True, check=True).stdout)
    return h.hexdigest()


def built(kind, timeout=1800):
    given = os.environ.get("VMC_PACKAGES_DIR")
    if given:
        return os.path.join(given, kind)
    out = os.path.join(os.path.dirname(BIN), "packages", kind)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    stamp = out + ".stamp"
    key = source_key()
    with open(out + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if f.read() == key and os.listdir(out):
                    print(f"package_builds: {kind} packages of this checkout already in {out}", flush=True)
                    return out
        except OSError:
            pass
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(stamp):
            os.unlink(stamp)
        t0 = time.monotonic()
        cmd = [os.path.join(SOURCE, SCRIPTS[kind]), out]
        print("+", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-6000:]}")
        print(f"package_builds: {SCRIPTS[kind]} {time.monotonic() - t0:.0f} s", flush=True)
        with open(stamp, "w") as f:
            f.write(key)
    return out
