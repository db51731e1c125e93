#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmclockd drives a ptp4l grandmaster; a slave in another namespace sees it.

vmclock-sim writes the page, vmclockd (with a [ptp4l] section) reads it and
keeps the grandmaster ptp4l's GRANDMASTER_SETTINGS_NP true; a slave ptp4l in
a second network namespace must show, in PARENT_DATA_SET and
TIME_PROPERTIES_DATA_SET: class 6 for a synchronized page, 7 for a
freerunning one within holdover_maxerror_ns, 248 for an unreliable one, and
class 6 again after ptp4l restarts. On exit vmclockd withdraws (class 248).
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import daemon_helpers as dh  # noqa: E402
import ptp_helpers as h  # noqa: E402


def main():
    h.skip_unless_possible()
    with h.PtpNet() as net:
        net.start_gm()
        net.start_slave()
        h.wait_for(lambda: net.slave_view().get("grandmasterIdentity") ==
                   h.parse_pmc(net.pmc("gm", "GET DEFAULT_DATA_SET")).get("clockIdentity"),
                   30, "the slave to follow the grandmaster", step=0.5)
        page = os.path.join(net.tmp, "vmclock.page")
        sim = None
        d = None
        problems = []

        def sim_with(*args):
            nonlocal sim
            if sim:
                sim.stop()
            sim = dh.Sim(page, ["--tai-offset", "37", *args])

        try:
            sim_with("--status", "synchronized", "--maxerror-ns", "80", "--esterror-ns", "30")
            # Default sampling.max_error_ns (100 us): the ptp4l mapping must still reach class 7
            # with a 5 ms maxerror, since it grades the page's own bound, not chrony's limit.
            d = dh.Vmclockd(net.tmp, page, {"ptp4l": {
                "uds_address": net.uds_gm, "time_source": "gnss", "upgrade_hold_updates": 2,
                "upgrade_hold_ms": 2000, "check_interval_ms": 1000, "retry_interval_ms": 500}})
            d.start()

            view = net.wait_slave({"gm.ClockClass": 6, "timeTraceable": 1, "timeSource": "0x20",
                                   "currentUtcOffset": 37},
                                  timeout=30, label="vmclockd: synchronized")
            assert view.get("currentUtcOffsetValid") == "1", view
            assert view["gm.ClockAccuracy"] in ("0x21", "0x22", "0x23"), view
            st = dh.wait_for(lambda: (d.status() or {}).get("ptp4l"), 10, what="ptp4l in the status file")
            assert st["state"] == "applied" and st["applied"]["clock_class"] == 6, st
            print(f"ok: synchronized -> class 6, accuracy {view['gm.ClockAccuracy']}")

            # A live migration: degraded at once (187), class 6 again once samples are good.
            sim.proc.send_signal(signal.SIGUSR1)
            net.wait_slave({"gm.ClockClass": 187}, timeout=30, label="vmclockd: migration (disrupted)")
            print("ok: migration -> class 187")
            net.wait_slave({"gm.ClockClass": 6}, timeout=30, label="vmclockd: recovered after the migration")
            print("ok: recovered -> class 6")

            # A leap second announced, then over.
            sim_with("--status", "synchronized", "--maxerror-ns", "80", "--esterror-ns", "30", "--leap", "pre-pos")
            net.wait_slave({"leap61": 1}, timeout=30, label="vmclockd: leap pending")
            print("ok: leap pending -> LEAP_61")
            sim_with("--status", "synchronized", "--maxerror-ns", "80", "--esterror-ns", "30", "--leap", "post-pos")
            net.wait_slave({"leap61": 0}, timeout=30, label="vmclockd: after the leap")
            print("ok: after the leap -> LEAP_61 cleared")

            sim_with("--status", "freerunning", "--maxerror-ns", "5000000", "--esterror-ns", "1000000")
            view = net.wait_slave({"gm.ClockClass": 7, "gm.ClockAccuracy": "0x2b", "timeTraceable": 0},
                                  timeout=30, label="vmclockd: freerunning, maxerror 5 ms")
            print("ok: freerunning 5 ms -> class 7")

            sim_with("--status", "unreliable")
            net.wait_slave({"gm.ClockClass": 248, "gm.ClockAccuracy": "0xfe"}, timeout=30,
                           label="vmclockd: unreliable")
            print("ok: unreliable -> class 248")

            sim_with("--status", "synchronized", "--maxerror-ns", "80", "--esterror-ns", "30")
            net.wait_slave({"gm.ClockClass": 6}, timeout=30, label="vmclockd: synchronized again")
            net.stop("gm")
            net.start_gm()  # forgets the settings: class 248 until vmclockd re-applies
            net.wait_slave({"gm.ClockClass": 6}, timeout=40, label="vmclockd: after a ptp4l restart")
            print("ok: re-applied after a ptp4l restart")

            d.stop()
            gm = h.parse_pmc(net.pmc("gm", "GET GRANDMASTER_SETTINGS_NP"))
            assert gm.get("clockClass") == "248", gm
            print("ok: vmclockd withdrew at exit (class 248)")
        except BaseException:
            if d:
                sys.stderr.write("--- vmclockd log ---\n" + d.log()[-4000:] + "\n")
            raise
        finally:
            if d:
                d.stop()
            if sim:
                sim.stop()
        out = os.environ.get("VMC_PTP_TRANSCRIPT")
        if out:
            with open(out, "w") as f:
                for label, text in net.transcript:
                    f.write(f"### {label}\n{text}\n")
        if problems:
            raise AssertionError("; ".join(problems))
    print("PASS")


if __name__ == "__main__":
    main()
