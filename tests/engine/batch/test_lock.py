"""engine/batch/lock.py: one driver per job (issue 26, case 5: two drivers deleted each other's files)."""
import json
import os
import socket
import subprocess
import sys

import pytest

from engine.batch.lock import LOCK_NAME, JobLock, pid_alive
from engine.errors import BDGFError


def test_a_second_driver_is_refused_and_the_lock_goes_with_the_first(tmp_path):
    with JobLock(str(tmp_path)):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(BDGFError, match=f"Another run is using this job \\(process {os.getpid()} on"):
            with JobLock(str(tmp_path)):
                pass
        assert (tmp_path / LOCK_NAME).exists()  # the refused one did not remove the holder's lock
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_left_by_a_driver_that_is_gone_is_taken_over(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(gone.stdout)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "started": "x"}))
    assert not pid_alive(pid)
    with JobLock(str(tmp_path)):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    other_host = {"host": "another-machine", "pid": pid, "started": "x"}  # cannot be checked: respected
    (tmp_path / LOCK_NAME).write_text(json.dumps(other_host))
    with pytest.raises(BDGFError, match="on another-machine"):
        with JobLock(str(tmp_path)):
            pass


def test_pid_alive_on_posix_and_through_the_windows_api():
    assert pid_alive(os.getpid()) and not pid_alive(-1)

    class Kernel32:  # the three calls the Windows branch makes (Windows cannot run here)
        def __init__(self, running):
            self.running, self.closed = running, []

        def OpenProcess(self, access, inherit, pid):  # noqa: N802 (Windows API names)
            return 7 if pid == 42 else 0

        def GetExitCodeProcess(self, handle, code):  # noqa: N802
            code._obj.value = 259 if self.running else 0  # STILL_ACTIVE
            return 1

        def CloseHandle(self, handle):  # noqa: N802
            self.closed.append(handle)

    running, ended = Kernel32(True), Kernel32(False)
    assert pid_alive(42, "nt", running) and running.closed == [7]
    assert not pid_alive(42, "nt", ended) and not pid_alive(43, "nt", running)
