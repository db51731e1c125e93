#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerates the seed corpora in tests/fuzz/corpus/ from real data:
 page:         the Firecracker page (tests/fixtures), pages written by
               vmclock-sim in several modes; each prefixed by an 8-byte
               counter near the page's counter_value;
 config:       the shipped vmclockd.toml, the simulator's example scenario,
               the demo's config, a [ptp4l] config, a few wrong ones;
 chrony_reply: replies captured from a throwaway chronyd (NULL, BURST,
               MAKESTEP, RESET_SOURCES, an unknown command, a bad version)
               and the requests that produced them;
 ptp:          the pmc datagrams captured in tests/ptp-captures/;
 bound:        the page seeds with a realtime near the page's time and a
               UTC adjustment (0, -37), and bound segments as vmclockd
               writes them (synchronized, stale, stopped, disrupted).
Usage: make_seeds.py --bin build/release/bin [--only page,config,chrony_reply,ptp,bound]
"""
import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(SRC, "build", "release", "bin"))
ap.add_argument("--fixtures", default=os.path.join(SRC, "tests", "fixtures"))
ap.add_argument("--only", default="page,config,chrony_reply,ptp,bound")
args = ap.parse_args()
os.environ.setdefault("VMC_BIN", os.path.abspath(args.bin))
import chrony_helpers as ch  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def page_seed(target, name, page):
    counter_value = struct.unpack_from("<Q", page, 0x28)[0]
    for tag, delta in (("at", 0), ("plus1s", 3_000_000_000), ("minus", -12345)):
        put(target, f"{name}-{tag}", struct.pack("<Q", (counter_value + delta) % (1 << 64)) + page)


def pages():
    with open(os.path.join(args.fixtures, "vmclock-firecracker-page.bin"), "rb") as f:
        page_seed("page", "firecracker", f.read())
    sim = os.path.join(args.bin, "vmclock-sim")
    modes = {
        "sim-utc": [],
        "sim-tai-header": ["--time-type", "tai", "--tai-offset", "37"],
        "sim-tai-kernel": ["--time-type", "tai", "--tai-offset", "-37"],
        "sim-no-generation": ["--no-generation"],
        "sim-leap-smeared": ["--leap", "pre-pos", "--smearing", "noon-linear"],
        "sim-disruption-only": ["--disruption-only", "--marker", "3"],
        "sim-freerunning-noerr": ["--status", "freerunning", "--no-maxerror", "--no-esterror"],
        "sim-size-4096": ["--size", "4096"],
    }
    d = tempfile.mkdtemp(prefix="vmc-seeds.")
    try:
        for name, extra in modes.items():
            path = os.path.join(d, name)
            p = subprocess.run([sim, "--page", path, "--duration", "0.3", "--calibrate-ms", "20", *extra],
                               capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                raise SystemExit(f"vmclock-sim {extra}: {p.stderr}")
            with open(path, "rb") as f:
                data = f.read()
            size = struct.unpack_from("<I", data, 4)[0]
            page_seed("page", name, data[:max(size, 112)])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def configs():
    for name, path in (("packaging", "packaging/vmclockd.toml"), ("sim-scenario", "src/sim/scenarios/example.toml")):
        with open(os.path.join(SRC, path), "rb") as f:
            put("config", name, f.read())
    put("config", "demo", b'[source]\npage = "/tmp/d/page"\n[chrony]\nsock = "/tmp/d/vmc.sock"\n'
        b'command_socket = "/tmp/d/chronyd.sock"\nclient_dir = "/tmp/d"\n[daemon]\nstatus_file = "/tmp/d/status.json"\n'
        b'user = ""\n')
    put("config", "full", b'[source]\npage = "/dev/vmclock0"\nwatch_interval_ms = 5\n[sampling]\ninterval_ms = 250\n'
        b'best_of = 8\nmax_error_ns = 100000\n[chrony]\nshm_unit = 2\nsock = ""\nreset_on_disruption = true\n'
        b'burst = false\nmakestep = true\n[daemon]\nmetrics_file = "/var/lib/x.prom"\n[ptp4l]\n'
        b'uds_address = "/var/run/ptp4l"\ntime_source = "gps"\ndomain_number = 24\nholdover_maxerror_ns = 5000\n')
    put("config", "bad-range", b"[sampling]\ninterval_ms = 5\n")
    put("config", "bad-key", b"[sampling]\nintervall_ms = 250\n")
    put("config", "bad-type", b'[chrony]\nshm_unit = "two"\n')
    put("config", "bad-syntax", b"[sampling\ninterval_ms = = 1\n")


def chrony_replies():
    def request(cmd, seq, data_len, version=6, total=None):
        body = struct.pack(">BBBBHHI4x", version, 1, 0, 0, cmd, 0, seq) + b"\0" * data_len
        return body + b"\0" * max(0, (total or 28) - len(body))

    reqs = {"null": request(0, 1, 0), "reset_sources": request(66, 2, 0), "make_step": request(43, 3, 0),
            "burst": request(3, 4, 48, total=68), "unknown-cmd": request(999, 5, 0),
            "bad-version": request(0, 6, 0, version=5)}
    # BURST good=4 total=8 after the two IPADDR_UNSPEC fields.
    reqs["burst"] = reqs["burst"][:60] + struct.pack(">ii", 4, 8)
    with ch.Chronyd(["refclock SOCK /tmp/vmc-seeds-unused.sock refid VMC"], tag="seeds") as c:
        client = os.path.join(c.dir, "client.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(client)
        s.settimeout(2)
        try:
            for name, req in reqs.items():
                put("chrony_reply", f"request-{name}", req)
                s.sendto(req, c.sock)
                try:
                    put("chrony_reply", f"reply-{name}", s.recv(4096))
                except socket.timeout:
                    print(f"no reply to {name} (chronyd drops it)")
        finally:
            s.close()


def ptp():
    for fn in sorted(os.listdir(os.path.join(SRC, "tests", "ptp-captures"))):
        if not fn.endswith(".txt"):
            continue
        with open(os.path.join(SRC, "tests", "ptp-captures", fn)) as f:
            n = 0
            for line in f:
                w = line.split()
                if len(w) == 2 and w[0] in ("req", "rsp"):
                    put("ptp", f"{fn[:-4]}-{n:02d}-{w[0]}", bytes.fromhex(w[1]))
                    n += 1


def bounds():
    # fuzz_bound input: counter (8), CLOCK_REALTIME ns (8), UTC adjustment (4), page or segment.
    pd = os.path.join(CORPUS, "page")
    for fn in sorted(os.listdir(pd)):
        with open(os.path.join(pd, fn), "rb") as f:
            data = f.read()
        counter, page = data[:8], data[8:]
        time_sec = struct.unpack_from("<Q", page, 0x48)[0]
        for adj, tag in ((0, "utc"), (-37, "tai")):
            rt = (time_sec + adj) * 1_000_000_000 + 123_456_789
            if rt < (1 << 63):
                put("bound", f"{fn}-{tag}", counter + struct.pack("<qi", rt, adj) + page)
    now = 1_795_000_000 * 1_000_000_000
    # src/core/bound_segment.h: magic, version, size, seq, status, marker, generation, as_of, bound,
    # max_drift_ppb, flags, stale_after, void_after.
    def seg(status, marker, as_of, bnd, drift, flags, stale, void):
        return struct.pack("<IHHIIQQqQIIqq", 0x424b4356, 1, 72, 42, status, marker, 7, as_of, bnd, drift, flags,
                           stale, void)
    segs = {"synchronized": seg(1, 3, now - 100_000_000, 25_000, 15_000, 1, 2_000_000_000, 300_000_000_000),
            "stale": seg(1, 3, now - 5_000_000_000, 25_000, 15_000, 1, 2_000_000_000, 300_000_000_000),
            "freerunning-chrony": seg(2, 3, now - 700_000_000, 90_000, 1_000_000, 3, 2_000_000_000,
                                      300_000_000_000),
            "stopped": seg(0, 3, now, 0, 15_000, 5, 2_000_000_000, 300_000_000_000),
            "disrupted": seg(3, 4, now, 0, 15_000, 1, 2_000_000_000, 300_000_000_000)}
    for name, b in segs.items():
        put("bound", f"segment-{name}", struct.pack("<Qqi", 0, now, 0) + b)


only = set(args.only.split(","))
for name, fn in (("page", pages), ("config", configs), ("chrony_reply", chrony_replies), ("ptp", ptp),
                 ("bound", bounds)):
    if name in only:
        fn()
for t in sorted(os.listdir(CORPUS)):
    print(t, len(os.listdir(os.path.join(CORPUS, t))), "seeds")
