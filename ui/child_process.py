"""A child process in its own process group, read line by line, stopped with its whole tree: how bdgf:train
runs `python -m training.run` outside QGIS's process. No QGIS import (unit-tested on its own).

POSIX: the child starts a new session (its process group id is its pid); stopping sends SIGTERM to the
group (training ends with one line, its checkpoints kept), then SIGKILL to whatever is left.
Windows: the child starts a new process group (CTRL_BREAK_EVENT reaches it and its children; training
turns it into the same clean stop) without a console window; then `taskkill /T /F` ends the tree.

    child = ChildProcess([python, "-m", "training.run", ...], cwd=plugin_dir, env=env)
    for line in child.lines(is_cancelled=feedback.isCanceled):   # stdout and stderr, merged
        ...
    code = child.wait()
"""
import os
import queue
import signal
import subprocess  # nosec B404: the launcher's purpose; argv lists only, never a shell
import threading
import time

WINDOWS = "nt"
STOP_GRACE_S = 1.0  # between the polite stop and the kill: the whole tree is gone within ~2 s


def popen_options(os_name=os.name):
    """The Popen keywords that give the child its own process group on this system."""
    if os_name == WINDOWS:
        group = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        no_window = getattr(subprocess, "CREATE_NO_WINDOW", 0x8000000)
        return {"creationflags": group | no_window}
    return {"start_new_session": True}


def polite_stop(process, os_name=os.name, killpg=None):
    """Ask the child's process group to stop (SIGTERM / CTRL_BREAK_EVENT)."""
    if os_name == WINDOWS:
        process.send_signal(getattr(signal, "CTRL_BREAK_EVENT", 1))
    else:
        (killpg or os.killpg)(process.pid, signal.SIGTERM)


def kill_tree(process, os_name=os.name, run=subprocess.run, killpg=None):
    """End the child and every process it started, now."""
    if os_name == WINDOWS:
        run(["taskkill", "/T", "/F", "/PID", str(process.pid)], capture_output=True, check=False,
            **popen_options(WINDOWS))
    else:
        (killpg or os.killpg)(process.pid, signal.SIGKILL)


class ChildProcess:
    """`argv` started at once in its own process group; its output (stdout + stderr) as lines."""

    def __init__(self, argv, cwd=None, env=None):
        self.argv = [str(a) for a in argv]
        self.process = subprocess.Popen(  # nosec B603: argv from the plugin (interpreter + its own modules)
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1,
            **popen_options())
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stopped = False

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\r\n"))
        self._lines.put(None)

    def lines(self, is_cancelled=lambda: False, poll_s=0.1):
        """The child's lines as they come; stops the child (stop()) and returns when `is_cancelled()`."""
        while True:
            if is_cancelled():
                self.stop()
                return
            try:
                line = self._lines.get(timeout=poll_s)
            except queue.Empty:
                continue
            if line is None:
                return
            yield line

    def stop(self, grace_s=STOP_GRACE_S):
        """Stop the whole process tree: politely, then by force after `grace_s` seconds."""
        self.stopped = True
        if self.process.poll() is not None:
            return
        try:
            polite_stop(self.process)
        except (OSError, ValueError):
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.05)
        try:
            kill_tree(self.process)  # the child may have left children even when it has exited itself
        except (OSError, ValueError):
            pass
        self.wait()

    def wait(self, timeout=None):
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        if not self._reader.is_alive():
            self.process.stdout.close()
        return code
