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

Run as a program (ctest's integration.package_builds, the fixture both
tests require) it builds the kinds it is given before those tests start,
beside the tests that may share the machine (tests/CMakeLists.txt). The
builds run at nice 10: a compile beside a test takes what the test leaves.
"""
import concurrent.futures
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time

SOURCE = os.path.abspath(os.environ.get("VMC_SOURCE", os.path.join(os.path.dirname(__file__), "../..")))
BIN = os.path.abspath(os.environ.get("VMC_BIN", os.path.join(SOURCE, "build/release/bin")))
SCRIPTS = {"deb": "packaging/build-deb", "rpm": "packaging/build-rpm"}


def source_key():
    h = hashlib.sha256()
    for cmd in (["rev-parse", "HEAD"], ["status", "--porcelain"], ["diff", "HEAD"]):
        h.update(subprocess.run(["git", "-C", SOURCE, *cmd], capture_output=True, check=True).stdout)
    return h.hexdigest()


def built(kind, timeout=1800, key=None):
    given = os.environ.get("VMC_PACKAGES_DIR")
    if given:
        return os.path.join(given, kind)
    out = os.path.join(os.path.dirname(BIN), "packages", kind)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    stamp = out + ".stamp"
    key = key or source_key()
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
        cmd = ["nice", "-n", "10", os.path.join(SOURCE, SCRIPTS[kind]), out]
        print("+", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-6000:]}")
        print(f"package_builds: {SCRIPTS[kind]} {time.monotonic() - t0:.0f} s", flush=True)
        with open(stamp, "w") as f:
            f.write(key)
    return out


def main(kinds):
    # Who uses the packages needs root (test_packaging, test_systemd_boot):
    # without it they skip, and so does building what they would not use.
    if os.geteuid() != 0:
        print("SKIP: needs root (test_packaging and test_systemd_boot install the packages)", flush=True)
        return int(os.environ.get("VMC_SKIP_CODE", "77"))
    unknown = [k for k in kinds if k not in SCRIPTS]
    if unknown:
        print(f"usage: package_builds.py [{'|'.join(sorted(SCRIPTS))}]...: not {', '.join(unknown)}", file=sys.stderr)
        return 64
    # At once: one build's steps that use one core (configure, dh_*,
    # compressing, rpm's scriptlets) leave the other core to the other.
    with concurrent.futures.ThreadPoolExecutor(len(kinds)) as pool:
        key = source_key()  # once: two git status at once may race for the index lock
        jobs = {kind: pool.submit(built, kind, key=key) for kind in kinds}
    for kind, job in jobs.items():
        print(f"package_builds: {kind} packages in {job.result()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(SCRIPTS)))
