#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""GrandmasterUpdater (through vmc-ptp-set) against real ptp4l, as a slave sees it.

ptp4l runs as grandmaster in one network namespace and as slave in another;
vmc-ptp-set drives GrandmasterUpdater in the grandmaster's namespace through
each status change, and the slave's PARENT_DATA_SET / TIME_PROPERTIES_DATA_SET
(read with pmc) must show it within 20 s. Then ptp4l is restarted under a
running updater, which must re-apply. Set VMC_PTP_TRANSCRIPT=FILE to keep the
slave's pmc output for each step.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import ptp_helpers as h  # noqa: E402

STEPS = [
    # (label, vmc-ptp-set arguments, what the slave must show)
    ("synchronized, maxerror 80 ns",
     ["--status", "synchronized", "--maxerror-ns", "80", "--esterror-ns", "30", "--tai", "37"],
     {"gm.ClockClass": 6, "gm.ClockAccuracy": "0x21", "gm.OffsetScaledLogVariance": "0x4f00",
      "currentUtcOffset": 37, "currentUtcOffsetValid": 1, "timeTraceable": 1, "frequencyTraceable": 1,
      "ptpTimescale": 0, "timeSource": "0x90", "leap61": 0}),
    ("freerunning, maxerror 5 ms: holdover",
     ["--status", "freerunning", "--maxerror-ns", "5000000", "--esterror-ns", "1000000", "--tai", "37"],
     {"gm.ClockClass": 7, "gm.ClockAccuracy": "0x2b", "timeTraceable": 0, "frequencyTraceable": 0}),
    ("freerunning, maxerror 50 ms: out of holdover spec",
     ["--status", "freerunning", "--maxerror-ns", "50000000", "--tai", "37"],
     {"gm.ClockClass": 187, "gm.ClockAccuracy": "0x2d", "gm.OffsetScaledLogVariance": "0xffff"}),
    ("synchronized, disrupted",
     ["--status", "synchronized", "--maxerror-ns", "80", "--tai", "37", "--disrupted"],
     {"gm.ClockClass": 187, "gm.ClockAccuracy": "0xfe"}),
    ("synchronized, leap second announced, time source gnss",
     ["--status", "synchronized", "--maxerror-ns", "80", "--tai", "37", "--leap", "pre_pos",
      "--time-source", "gnss"],
     {"gm.ClockClass": 6, "leap61": 1, "leap59": 0, "timeSource": "0x20"}),
    ("after the leap, TAI - UTC 38",
     ["--status", "synchronized", "--maxerror-ns", "80", "--tai", "38", "--leap", "post_pos",
      "--time-source", "gnss"],
     {"gm.ClockClass": 6, "leap61": 0, "currentUtcOffset": 38}),
    ("unreliable",
     ["--status", "unreliable", "--tai", "37"],
     {"gm.ClockClass": 248, "gm.ClockAccuracy": "0xfe", "currentUtcOffsetValid": 1, "timeTraceable": 0}),
    ("no page",
     [],
     {"gm.ClockClass": 248, "currentUtcOffset": 37, "currentUtcOffsetValid": 0}),
]


def main():
    h.skip_unless_possible()
    with h.PtpNet() as net:
        net.start_gm()
        net.start_slave()
        # The slave must first take the grandmaster as its parent.
        h.wait_for(lambda: net.slave_view().get("grandmasterIdentity") ==
                   h.parse_pmc(net.pmc("gm", "GET DEFAULT_DATA_SET")).get("clockIdentity"),
                   30, "the slave to follow the grandmaster", step=0.5)

        for label, args, expect in STEPS:
            t0 = time.monotonic()
            status, _ = net.tool(*args)
            assert status["state"] == "applied", status
            net.wait_slave(expect, timeout=20, label=label)
            print(f"ok: {label}: slave shows it after {time.monotonic() - t0:.1f} s")

        # Nothing changed: a second run GETs and sends no SET.
        status, _ = net.tool()
        assert status["sets_sent"] == 0 and status["gets_sent"] == 1, status
        print("ok: unchanged settings are not SET again")

        # ptp4l restarts under a running updater: it re-applies class 6.
        args = ["--status", "synchronized", "--maxerror-ns", "80", "--tai", "37", "--check-ms", "1000",
                "--run-ms", "12000"]
        result = {}

        def runner():
            result["status"], result["log"] = net.tool(*args, timeout=60)

        t = threading.Thread(target=runner)
        t.start()
        try:
            net.wait_slave({"gm.ClockClass": 6}, timeout=20, label="synchronized again, before the restart")
            net.stop("gm")
            time.sleep(2)
            net.start_gm()
        finally:
            t.join(timeout=60)
        assert "status" in result, "vmc-ptp-set did not finish"
        st = result["status"]
        # Either a periodic GET found the fresh defaults, or one found no ptp4l at all.
        assert st["sets_sent"] >= 2 and (st["reapplied"] >= 1 or "not running" in st["last_error"]), st
        gm = h.parse_pmc(net.pmc("gm", "GET GRANDMASTER_SETTINGS_NP"))
        assert gm.get("clockClass") == "6", gm
        net.wait_slave({"gm.ClockClass": 6, "gm.ClockAccuracy": "0x21"}, timeout=30,
                       label="after a ptp4l restart, re-applied")
        print(f"ok: re-applied after a ptp4l restart (updater log: {result['log'].strip().splitlines()})")

        out = os.environ.get("VMC_PTP_TRANSCRIPT")
        if out:
            with open(out, "w") as f:
                for label, text in net.transcript:
                    f.write(f"### {label}\n{text}\n")
    print("PASS")


if __name__ == "__main__":
    main()
