"""ui/child_process.py: a child in its own process group, stopped with its whole tree (real processes on
this POSIX machine; the Windows branch through the calls it makes, since Windows cannot run here)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ui.child_process import WINDOWS, ChildProcess, kill_tree, polite_stop, popen_options

# a child that starts a grandchild, reports both pids, then ignores SIGTERM (the worst case: only the kill
# after the grace period ends it) while the grandchild sleeps
STUBBORN = ("import os, signal, subprocess, sys, time\n"
            "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('pids', os.getpid(), g.pid, flush=True)\n"
            "time.sleep(600)\n")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_lines_arrive_merged_and_the_exit_code_is_kept(tmp_path):
    child = ChildProcess([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); "
                                                "sys.exit(3)"])
    assert sorted(child.lines()) == ["err", "out"] and child.wait() == 3 and not child.stopped


def test_cancel_stops_the_whole_tree_within_two_seconds():
    child = ChildProcess([sys.executable, "-c", STUBBORN])
    cancelled = []
    pids = []
    for line in child.lines(is_cancelled=lambda: bool(cancelled)):
        if line.startswith("pids"):
            pids = [int(p) for p in line.split()[1:]]
            cancelled.append(time.monotonic())
    assert child.stopped and len(pids) == 2
    assert time.monotonic() - cancelled[0] < 2.0
    deadline = time.monotonic() + 1.0
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(p) for p in pids)


def test_posix_group_is_a_new_session_and_the_stop_signals_it():
    assert popen_options("posix") == {"start_new_session": True}
    sent = []

    class Process:
        pid = 4242

    polite_stop(Process(), "posix", killpg=lambda pid, sig: sent.append((pid, sig)))
    kill_tree(Process(), "posix", killpg=lambda pid, sig: sent.append((pid, sig)))
    assert sent == [(4242, signal.SIGTERM), (4242, signal.SIGKILL)]


def test_windows_branch_uses_a_process_group_ctrl_break_and_taskkill_of_the_tree():
    flags = popen_options(WINDOWS)["creationflags"]
    assert flags & 0x200 and flags & 0x8000000  # CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    signals, commands = [], []

    class Process:
        pid = 99

        def send_signal(self, sig):
            signals.append(sig)

    polite_stop(Process(), WINDOWS)
    kill_tree(Process(), WINDOWS, run=lambda argv, **kw: commands.append((argv, kw)) or
              subprocess.CompletedProcess(argv, 0))
    assert signals == [getattr(signal, "CTRL_BREAK_EVENT", 1)]
    argv, options = commands[0]
    assert argv == ["taskkill", "/T", "/F", "/PID", "99"] and options["creationflags"] == flags
