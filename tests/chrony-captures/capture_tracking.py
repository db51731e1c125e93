#!/usr/bin/env python3
"""Captures chronyd's RPY_TRACKING replies for tests/unit/chrony_cmd_test.cpp.

Starts throwaway unprivileged chronyds (chrony_helpers.Chronyd: -U -x -d,
own 0700 directory, cmdport 0) in three states, sends each a REQ_TRACKING
built here from candm.h by hand (not by the code under test), and records
the raw reply next to what `chronyc -c tracking` printed just before and
just after it. A capture is kept only when no clock update came between
(same reference, stratum, ref time and leap status in both lines); numbers
that move on their own, such as the root dispersion growing with the time
since the last update, lie between the two lines.

  unsync:   no sources (refid 0, leap "Not synchronised");
  refclock: `refclock SHM` from the shipped snippet, fed +12.3 us by
            vmc-sink-feed until VMC is selected;
  ntp:      an NTP source on 127.0.0.1 (a second chronyd serving
            `local stratum 5` on a high port), so the address is set.

Usage: VMC_BIN=build/h-tracking/bin tests/chrony-captures/capture_tracking.py > tests/chrony-captures/tracking-4.3.txt
"""
import os
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from chrony_helpers import Chronyd, Feeder, remove_shm, shm_unit, snippet_refclock, wait_for  # noqa: E402

REQ_TRACKING = 33


def tracking_request(seq):
    # CMD_Request: version 6, PKT_TYPE_CMD_REQUEST 1, res1, res2, command,
    # attempt, sequence, pad1, pad2 (20 bytes), REQ_Null (no data), then
    # padding up to RPY_TRACKING's 104 bytes.
    head = struct.pack(">BBBBHHIII", 6, 1, 0, 0, REQ_TRACKING, 0, seq, 0, 0)
    return head + b"\0" * (104 - len(head))


def chronyc_line(c):
    return c.chronyc("-c", "tracking").strip()


def capture(c, label, note):
    client = os.path.join(c.dir, "capture.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(client)
    s.settimeout(2)
    try:
        for seq in range(1, 50):
            before = chronyc_line(c)
            req = tracking_request(0x5A000000 + seq)
            s.sendto(req, c.sock)
            rsp = s.recv(4096)
            after = chronyc_line(c)
            b, a = before.split(","), after.split(",")
            if len(b) == 14 and len(a) == 14 and all(b[i] == a[i] for i in (0, 1, 2, 3, 13)):
                print(f"# {label}: {note}")
                print(f"req {req.hex()}")
                print(f"rsp {rsp.hex()}")
                print(f"#| {before}")
                print(f"#| {after}")
                return
            time.sleep(0.05)
        raise SystemExit(f"{label}: a clock update came between chronyc and the request every time")
    finally:
        s.close()
        os.unlink(client)


def main():
    ver = subprocess.run(["chronyd", "-v"], capture_output=True, text=True).stdout.strip()
    print(f"# {ver}")
    print("# made by tests/chrony-captures/capture_tracking.py; lines: req/rsp hex, #| chronyc -c tracking"
          " just before and just after")

    with Chronyd([], tag="cap-unsync") as c:
        time.sleep(0.5)
        capture(c, "unsync", "no sources")

    unit = shm_unit()
    remove_shm(unit)
    try:
        line = snippet_refclock("vmclockd-shm.conf", unit)
        with Chronyd([line], tag="cap-shm") as c, \
                Feeder(["--shm", str(unit), "--seconds", "40", "--rate", "4", "--offset-us", "12.3"]):
            wait_for(lambda: c.selected("VMC"), 20, what="VMC selected")
            time.sleep(4)  # a few updates, so offsets, skew and interval are non-zero
            capture(c, "refclock", line.replace(str(unit), "UNIT") + ", vmc-sink-feed --offset-us 12.3")
    finally:
        remove_shm(unit)

    port = 11000 + os.getpid() % 20000
    with Chronyd(["local stratum 5", f"port {port}", "bindaddress 127.0.0.1", "allow 127.0.0.1"],
                 tag="cap-srv") as srv, \
            Chronyd([f"server 127.0.0.1 port {port} iburst minpoll -2 maxpoll -2"], tag="cap-ntp") as c:
        wait_for(lambda: c.chronyc("-c", "sources").startswith("^,*"), 30,
                 what="the NTP source selected")
        time.sleep(2)
        capture(c, "ntp", "server 127.0.0.1 port PORT iburst minpoll -2 maxpoll -2 (a chronyd with local stratum 5)")
        _ = srv


if __name__ == "__main__":
    main()
