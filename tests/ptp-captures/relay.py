#!/usr/bin/env python3
"""A datagram relay between pmc and ptp4l that logs every datagram in hex.

pmc -u -s RELAY talks to this socket; it forwards to ptp4l's uds_address
from its own bound path and passes the replies back. Each line of the log
is "<direction> <hex>", direction "req" (pmc -> ptp4l) or "rsp".
"""
import os
import select
import socket
import sys
import time

relay_path, server_path, log_path, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
for p in (relay_path, relay_path + ".up"):
    if os.path.exists(p):
        os.unlink(p)
down = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
down.bind(relay_path)
up = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
up.bind(relay_path + ".up")
client = None
deadline = time.monotonic() + seconds
with open(log_path, "a") as log:
    while time.monotonic() < deadline:
        r, _, _ = select.select([down, up], [], [], 0.2)
        for s in r:
            data, addr = s.recvfrom(4096)
            if s is down:
                client = addr
                log.write("req " + data.hex() + "\n")
                up.sendto(data, server_path)
            elif client:
                log.write("rsp " + data.hex() + "\n")
                down.sendto(data, client)
            log.flush()
