#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The real Firecracker page ($VMC_FIXTURES/vmclock-firecracker-page.bin,
disruption-only: marker 1, generation 1) under vmclockd with a real
chronyd. The test plays the host's restore: in place, with os.pwrite,
seq_count odd, marker+1 and generation+1, seq_count even (offsets 0x0C,
0x10, 0x68). vmclockd must see it, send RESET_SOURCES and get chronyd's
acknowledgement (resets_sent 1, disruptions_seen 1), and log a line naming
the old and the new marker. Prints the detection latencies.
"""
import os
import shutil
import statistics
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import Chronyd, Cleanup, TempDir, Vmclockd, fixtures_dir, rt_ns, wait_for  # noqa: E402

OFF_SEQ, OFF_MARKER, OFF_GEN = 0x0C, 0x10, 0x68
REPEATS = 5
WATCH_MS = 5  # [source] watch_interval_ms: a file page has no notifications


def read_fields(fd):
    seq, = struct.unpack("<I", os.pread(fd, 4, OFF_SEQ))
    marker, = struct.unpack("<Q", os.pread(fd, 8, OFF_MARKER))
    gen, = struct.unpack("<Q", os.pread(fd, 8, OFF_GEN))
    return seq, marker, gen


def restore(fd):
    """The host's write: seqlock odd, marker and generation bumped, even."""
    seq, marker, gen = read_fields(fd)
    os.pwrite(fd, struct.pack("<I", seq + 1), OFF_SEQ)
    os.pwrite(fd, struct.pack("<Q", marker + 1), OFF_MARKER)
    os.pwrite(fd, struct.pack("<Q", gen + 1), OFF_GEN)
    os.pwrite(fd, struct.pack("<I", seq + 2), OFF_SEQ)
    return marker, gen


class DaemonFirecracker(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()

    def tearDown(self):
        self.c.run()

    def test_marker_change_resets_chrony(self):
        d = TempDir("dfc")
        self.c.add(d.cleanup)
        page = d.join("page")
        shutil.copyfile(os.path.join(fixtures_dir(), "vmclock-firecracker-page.bin"), page)
        ch = Chronyd([], tag="fc")
        self.c.add(ch.cleanup)
        ch.start()
        # A SOCK sink nobody binds: there is nothing to send it, so it is idle.
        # A 5 ms watch, for the 50 ms bound on detection below (the default's
        # distribution is tests/bench/run's part detect).
        vmc = Vmclockd(d.path, page, {"source": {"watch_interval_ms": WATCH_MS},
                                      "chrony": {"command_socket": ch.sock, "sock": d.join("nobody.sock")}})
        self.c.add(vmc.stop)
        vmc.start()
        st = wait_for(lambda: (s := vmc.status()) and s["page"].get("disruption_marker") == 1 and s, 5,
                      what="vmclockd to read the page")
        self.assertEqual((st["state"], st["disruptions_seen"], st["resets_sent"]), ("watching", 0, 0), st)
        self.assertIn("disruption-only", st["reason"])
        # A page that never has time is no refusal to count every tick, and
        # no sink waits for chronyd.
        time.sleep(1.2)
        st = vmc.status()
        self.assertEqual(st["samples_refused"], 0, st)
        self.assertEqual([s["state"] for s in st["sinks"]], ["idle (page has no time)"], st)
        fd = os.open(page, os.O_RDWR)
        self.c.add(lambda: os.close(fd))
        self.assertEqual(read_fields(fd), (2, 1, 1))

        lat = []
        for i in range(1, REPEATS + 1):
            time.sleep(0.3)
            old_marker, old_gen = restore(fd)
            t_write, t_write_mono = rt_ns(), time.monotonic()
            st = wait_for(lambda: (s := vmc.status()) and s["disruptions_seen"] == i and s["resets_sent"] == i and s,
                          5, interval=0.001, what=f"disruption {i} and its reset in the status file")
            t_seen = time.monotonic() - t_write_mono
            ld = st["last_disruption"]
            detect_ms = (ld["system_ns"] - t_write) / 1e6
            lat.append((detect_ms, ld["reset_latency_ns"] / 1e6, t_seen * 1e3))
            self.assertEqual((ld["old_marker"], ld["new_marker"]), (old_marker, old_marker + 1), ld)
            self.assertEqual((ld["old_generation"], ld["new_generation"]), (old_gen, old_gen + 1), ld)
            self.assertEqual(st["resets_failed"], 0, st)
            vmc.wait_log(rf"disruption: disruption_marker {old_marker} -> {old_marker + 1}, "
                         rf"vm_generation_counter {old_gen} -> {old_gen + 1}", 2)
            vmc.wait_log(r"chrony: sources reset [0-9.]+ ms after the disruption was seen", 2)
            if i == 1:
                print(f"first restore: status {st['state']!r}, disruptions_seen {st['disruptions_seen']}, "
                      f"resets_sent {st['resets_sent']}, last_disruption {ld}", flush=True)
                print("log: " + " | ".join(l for l in vmc.log().splitlines() if "disruption:" in l or "chrony:" in l),
                      flush=True)
        for i, (det, reset, seen) in enumerate(lat, 1):
            print(f"restore {i}: detected {det:.3f} ms after the write (status last_disruption.system_ns), "
                  f"RESET_SOURCES acknowledged {reset:.3f} ms after detection (reset_latency_ns), "
                  f"status file showed it {seen:.1f} ms after the write", flush=True)
        print(f"median over {REPEATS}: detection {statistics.median(x[0] for x in lat):.3f} ms, "
              f"reset {statistics.median(x[1] for x in lat):.3f} ms, "
              f"write-to-status {statistics.median(x[2] for x in lat):.1f} ms", flush=True)
        # The watch runs every WATCH_MS: a file page has no notifications.
        self.assertLess(max(x[0] for x in lat), 50.0)
        self.assertTrue(vmc.alive())
        self.assertIsNone(ch.proc.poll(), "chronyd died")


if __name__ == "__main__":
    unittest.main(verbosity=2)
