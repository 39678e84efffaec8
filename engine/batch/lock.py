"""One driver per job: a lock file in the job's output folder, made atomically (O_EXCL), holding the driver's
host, process id and start time. A second driver is refused with a clear message; a lock left by a driver
that is gone (same host, process not running) is taken over. Standard library only.

    with JobLock(job.out_dir):   # BDGFError when another run holds it
        ...
"""
from __future__ import annotations

import json
import os
import socket
import time

from ..errors import BDGFError

LOCK_NAME = ".bdgf-batch.lock"
WINDOWS = "nt"


def pid_alive(pid: int, os_name: str = os.name, kernel32=None) -> bool:
    """Whether process `pid` runs on this machine. POSIX: signal 0. Windows: OpenProcess +
    GetExitCodeProcess (os.kill(pid, 0) would terminate the process there)."""
    if pid <= 0:
        return False
    if os_name == WINDOWS:
        import ctypes

        kernel32 = kernel32 or ctypes.windll.kernel32  # type: ignore[attr-defined]
        query_limited, still_active = 0x1000, 259
        handle = kernel32.OpenProcess(query_limited, False, pid)
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(ok) and code.value == still_active
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


class JobLock:
    """The lock of the job whose output folder is `folder`, held inside the `with` block."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, LOCK_NAME)
        self.held = False

    def __enter__(self) -> JobLock:
        me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and self._stale(holder):
                    os.remove(self.path)  # its driver is gone: take over
                    continue
                who = (f"process {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')}"
                       if holder else "a run whose lock file cannot be read")
                raise BDGFError(f"Another run is using this job ({who}): two drivers would delete each "
                                f"other's files. Wait for it to end, or, if it is no longer running, delete "
                                f"{self.path} and run again.") from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self.held = True
            return self
        raise BDGFError(f"Cannot take the job's lock {self.path}; delete it if no run is using the job.")

    def __exit__(self, *exc) -> None:
        if self.held:
            try:
                os.remove(self.path)
            except OSError:
                pass
            self.held = False

    def _holder(self) -> dict | None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    @staticmethod
    def _stale(holder: dict) -> bool:
        return holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", -1)))
