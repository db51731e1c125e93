#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Files under the daemon that others made or that cannot be backed
(issue 15 items 1, 2, 5, 6, 10, 11), each from its reproduction, against the
real vmclockd and real files:

- a refused reload (new sock, unbindable client_dir and ptp4l reply
  socket): nothing half-applied, the old outputs keep working;
- the bound segment on a full tmpfs: refused with one line (posix_fallocate
  fails), never a SIGBUS; the daemon keeps feeding its sink, and publishes
  once space is back (its 10 s retry);
- a FIFO as the page: refused as what it is (open() would wait for a
  writer, deaf to SIGTERM); the daemon waits for a real page and stops at
  once;
- a symlink planted at the status file's temporary name: its target is
  never written or chmod-ed;
- chrony's SHM refclock segment pre-created mode 0666: refused, exit 69,
  one line naming the owner and mode;
- the bound segment made by a run as root is handed to daemon.user before
  the drop, and one left root-owned is replaced by a run as that user.

Needs root (tmpfs, SysV segments, other users); skipped (77) otherwise.
"""
import ctypes
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_helpers import (Cleanup, Sim, SockCatcher, TempDir, Vmclockd, shm_unit, toml_text,  # noqa: E402
                            vmc_bin, wait_for)
from fault_helpers import LogMark, SockRecorder, fill_fs, mount_tmpfs, stop_and_exit_code, umount  # noqa: E402

SKIP = int(os.environ.get("VMC_SKIP_CODE", "77"))
MS = 1_000_000
SHM_KEY_BASE = 0x4E545030
IPC_CREAT, IPC_RMID = 0o1000, 0
_libc = ctypes.CDLL(None, use_errno=True)


def fmt(lines):
    return "\n".join("    " + l for l in lines)


class HostileFiles(unittest.TestCase):
    def setUp(self):
        self.c = Cleanup()
        self.d = TempDir("hostile")
        self.c.add(self.d.cleanup)

    def tearDown(self):
        self.c.run()

    def sim(self):
        s = Sim(self.d.join("page"), ["--offset-ns", 1 * MS])
        self.c.add(s.stop)
        return s

    def daemon(self, sections, start=True, **kw):
        path = self.d.join("vmc.sock")
        rec = SockRecorder(path)
        self.c.add(rec.close)
        secs = {"sampling": {"interval_ms": 100, "best_of": 2}, "chrony": {"sock": path}}
        for k, v in sections.items():
            secs.setdefault(k, {}).update(v)
        vmc = Vmclockd(self.d.path, self.d.join("page"), secs, **kw)
        self.c.add(vmc.stop)
        if start:
            vmc.start()
        return vmc, rec

    def full_tmpfs(self, name):
        """A 64 KiB tmpfs at <dir>/<name>, filled: (its path, the filler, bytes)."""
        mnt = self.d.join(name)
        os.mkdir(mnt)
        ok, why = mount_tmpfs(mnt, "64k")
        self.assertTrue(ok, f"cannot mount a tmpfs: {why}")
        self.c.add(lambda: umount(mnt))
        return (mnt, *fill_fs(mnt))

    # ------------------------------------------------------------ item 1
    def test_refused_reload_changes_nothing(self):
        """The reproduction: a new file that moves `sock` and has an
        unbindable client_dir (and, with [ptp4l], an unbindable
        client_address) is refused whole: samples keep going to the old
        socket, the command client still sends the next disruption's reset
        to the old command socket, the ptp4l feed is still there, and the
        good file taken back with SIGHUP works."""
        sim = self.sim()
        old_sock, new_sock = SockCatcher(self.d.join("old.sock")), SockCatcher(self.d.join("new.sock"))
        chronyd_cmd = SockCatcher(self.d.join("chronyd.sock"))  # a chronyd that never answers
        for x in (old_sock, new_sock, chronyd_cmd):
            self.c.add(x.close)
        good = {"sampling": {"interval_ms": 100, "best_of": 2},
                "chrony": {"sock": old_sock.path, "command_socket": chronyd_cmd.path, "client_dir": self.d.path},
                "ptp4l": {"uds_address": self.d.join("ptp4l"), "client_address": self.d.join("pmc.sock")}}
        vmc = Vmclockd(self.d.path, sim.page, good)
        self.c.add(vmc.stop)
        vmc.start()
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 10, what="synced")
        self.assertGreaterEqual(len(old_sock.collect(1.0)), 5)
        ptp_before = vmc.status()["ptp4l"]
        self.assertIsNotNone(ptp_before)
        with open(vmc.config) as f:
            good_text = f.read()

        bad = {k: dict(v) for k, v in good.items()}
        bad["chrony"].update({"sock": new_sock.path, "client_dir": "/nonexistent-vmc-dir"})
        bad["ptp4l"]["client_address"] = "/nonexistent-vmc-dir/pmc.sock"
        bad["source"] = {"page": sim.page}
        bad["daemon"] = {"status_file": vmc.status_file, "user": ""}
        bad["bound"] = vmc.sections["bound"]
        vmc.write_config(toml_text(bad))
        mark = LogMark(vmc)
        vmc.proc.send_signal(signal.SIGHUP)
        line = vmc.wait_log(r"config: reload failed, keeping the old configuration: .*", 5).group(0)
        print(f"  refused: {line}", flush=True)
        old_sock.collect(0.3)
        to_old, to_new = old_sock.collect(1.5), new_sock.collect(0.1)
        print(f"  after the refusal: {len(to_old)} samples to the old socket, {len(to_new)} to the new", flush=True)
        self.assertGreaterEqual(len(to_old), 8, "samples stopped going to the old socket")
        self.assertEqual(to_new, [], "samples went to the refused file's socket")
        st = vmc.status()
        self.assertEqual(st["settings"]["chrony.sock"], old_sock.path, st["settings"])
        self.assertIsNotNone(st["ptp4l"], "the ptp4l feed was destroyed by a refused reload")

        # The good file back (the old reproduction's "does not bring it
        # back"): taken, and feeding as before.
        vmc.write_config(good_text)
        vmc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (s := vmc.status()) and s["config_reloads"] == 2, 5, what="the second reload")
        old_sock.collect(0.3)
        self.assertGreaterEqual(len(old_sock.collect(1.0)), 5, "not fed after the good file came back")
        self.assertIsNotNone(vmc.status()["ptp4l"])

        # The next disruption still resets chronyd through the first client
        # (a chronyd that never answers: the reset is retried; samples wait).
        chronyd_cmd.collect(0.1)
        sim.migrate()
        reqs = chronyd_cmd.collect(1.0)
        print(f"  disruption after the refusal: {len(reqs)} request(s) at the old command socket", flush=True)
        self.assertGreaterEqual(len(reqs), 1, "no reset sent: the command client is gone")
        self.assertEqual(stop_and_exit_code(vmc), 0, vmc.log())
        self.assertEqual(len([l for l in mark.lines() if "reload failed" in l]), 1, fmt(mark.lines()))

    # ------------------------------------------------------------ item 2
    def test_bound_segment_on_a_full_tmpfs(self):
        mnt, filler, n = self.full_tmpfs("run")
        seg = os.path.join(mnt, "bound")
        sim = self.sim()
        vmc, rec = self.daemon({"bound": {"segment": seg}})
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample with the segment's file system full")
        time.sleep(1.0)
        self.assertIsNone(vmc.proc.poll(), f"vmclockd died (exit {vmc.proc.returncode}):\n{vmc.log()}")
        lines = [l for l in vmc.log().splitlines() if seg in l]
        print(f"  tmpfs full ({n} bytes of filler): {len(lines)} line(s) about {seg}:\n    " + "\n    ".join(lines),
              flush=True)
        self.assertEqual(len(lines), 1, vmc.log())
        self.assertRegex(lines[0], r"cannot allocate 4096 bytes: No space left on device")
        self.assertEqual(vmc.status()["bound"], None, vmc.status())
        n0 = rec.count()
        time.sleep(1.0)
        self.assertGreaterEqual(rec.count() - n0, 5, "samples stopped while the segment could not be made")

        os.unlink(filler)
        wait_for(lambda: (s := vmc.status()) and s.get("bound"), 15, what="the segment published after space came back")
        st = os.stat(seg)
        self.assertGreaterEqual(st.st_blocks * 512, 4096, "segment not fully backed")
        code = stop_and_exit_code(vmc)
        self.assertEqual(code, 0, vmc.log())

    def test_simulator_page_on_a_full_tmpfs(self):
        mnt, _, _ = self.full_tmpfs("sim")
        r = subprocess.run([vmc_bin("vmclock-sim"), "--page", os.path.join(mnt, "page")], capture_output=True,
                           text=True, timeout=20)
        print(f"  vmclock-sim on a full tmpfs: exit {r.returncode}: {r.stderr.strip()}", flush=True)
        self.assertGreater(r.returncode, 0, "killed by a signal (SIGBUS) instead of a clean refusal")
        self.assertEqual(r.returncode, 74, r.stderr)  # EX_IOERR
        self.assertIn("cannot allocate 4096 bytes for", r.stderr)
        self.assertIn("No space left on device", r.stderr)

    # ------------------------------------------------------------ item 10
    def test_symlink_planted_at_the_status_temporary(self):
        victim = self.d.join("victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.chmod(victim, 0o600)
        sim = self.sim()
        vmc, rec = self.daemon({}, start=False)
        os.symlink(victim, vmc.status_file + ".tmp")
        vmc.start()
        rec.wait_new(sim.ready["realtime_ns"], 10, "a first sample")
        wait_for(lambda: (s := vmc.status()) and s["state"] == "synced", 10, what="status synced")
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n", "the symlink's target was written through")
        self.assertEqual(stat.S_IMODE(os.stat(victim).st_mode), 0o600, "the symlink's target was chmod-ed")
        self.assertTrue(stat.S_ISREG(os.lstat(vmc.status_file).st_mode))
        print(f"  planted {vmc.status_file}.tmp -> {victim}: target untouched, status written", flush=True)

    # ------------------------------------------------------------ item 5
    def test_fifo_as_the_page(self):
        fifo = self.d.join("page")
        os.mkfifo(fifo)
        vmc, rec = self.daemon({})
        wait_for(lambda: (s := vmc.status()) and "FIFO" in (s.get("reason") or ""), 10,
                 what="the status saying the page is a FIFO")
        st = vmc.status()
        print(f"  FIFO as the page: state {st['state']}, reason {st['reason']!r}", flush=True)
        self.assertEqual(st["state"], "no-data", st)
        self.assertEqual(rec.count(), 0)
        t = time.monotonic()
        self.assertEqual(stop_and_exit_code(vmc), 0, vmc.log())
        self.assertLess(time.monotonic() - t, 5, "SIGTERM took too long with a FIFO as the page")

    # ------------------------------------------------------------ item 6
    def test_shm_segment_made_by_someone_else(self):
        unit = shm_unit(5)
        key = SHM_KEY_BASE + unit
        sid = _libc.shmget(ctypes.c_int(key), ctypes.c_size_t(96), ctypes.c_int(IPC_CREAT | 0o666))
        self.assertGreaterEqual(sid, 0, f"shmget: errno {ctypes.get_errno()}")
        self.c.add(lambda: _libc.shmctl(sid, IPC_RMID, None))
        self.sim()
        vmc, _ = self.daemon({"chrony": {"shm_unit": unit, "sock": ""}}, start=False)
        vmc.start(wait_status=False)
        try:
            code = vmc.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = f"still running: {stop_and_exit_code(vmc)}"

        lines = [l for l in vmc.log().splitlines() if "shm:" in l]
        print(f"  pre-created key {key:#x} mode 0666: exit {code}; {lines}", flush=True)
        self.assertEqual(code, 69, vmc.log())
        self.assertEqual(len(lines), 1, vmc.log())
        self.assertRegex(lines[0], r"mode 0666: group or others may write chronyd's samples; remove it \(ipcrm -M ")
        self.assertNotIn("attached", vmc.log())

    # ------------------------------------------------------------ item 11
    def test_bound_segment_owned_by_the_user_that_writes_it(self):
        user = "nobody"
        pw = pwd.getpwnam(user)
        os.chmod(self.d.path, 0o755)
        run = self.d.join("run")
        os.mkdir(run)
        os.chown(run, pw.pw_uid, pw.pw_gid)
        seg = os.path.join(run, "bound")
        self.sim()

        def as_user_daemon(tag, user_setting):
            vmc = Vmclockd(self.d.path, self.d.join("page"),
                           {"bound": {"segment": seg},
                            "daemon": {"user": user_setting, "status_file": os.path.join(run, f"{tag}.json")}},
                           tag=tag)
            vmc.status_file = os.path.join(run, f"{tag}.json")
            os.chmod(vmc.config, 0o644)
            self.c.add(vmc.stop)
            return vmc

        # As root, dropping to `user`: the segment is made before the drop.
        vmc = as_user_daemon("root-run", user).start()
        wait_for(lambda: (s := vmc.status()) and s.get("bound"), 10, what="the bound published")
        st = os.stat(seg)
        print(f"  made by a root run dropping to {user}: owner uid {st.st_uid} (want {pw.pw_uid})", flush=True)
        self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid), vmc.log())
        self.assertEqual(stop_and_exit_code(vmc), 0, vmc.log())

        # Left root-owned by an older run: a start as `user` (the unit's
        # User=) replaces it instead of retrying for ever.
        os.chown(seg, 0, 0)
        os.chmod(seg, 0o644)
        vmc2 = as_user_daemon("user-run", "")
        logf = open(vmc2.logfile, "a")
        vmc2.proc = subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                                      vmc_bin("vmclockd"), "--config", vmc2.config],
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        wait_for(lambda: ((s := vmc2.status()) and s.get("bound")) or vmc2.proc.poll() is not None, 15,
                 what="the bound published by the run as the user")
        self.assertIsNone(vmc2.proc.poll(), vmc2.log())
        st = os.stat(seg)
        lines = [l for l in vmc2.log().splitlines() if "replaced" in l]
        print(f"  root-owned segment, run as {user}: now owner uid {st.st_uid}; {lines}", flush=True)
        self.assertEqual(st.st_uid, pw.pw_uid, vmc2.log())
        self.assertEqual(len(lines), 1, vmc2.log())
        self.assertEqual(stop_and_exit_code(vmc2), 0, vmc2.log())


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (tmpfs, SysV segments, another user)")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
