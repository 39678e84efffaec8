"""The exit codes every command line of the product shares (`python -m engine`, `python -m training.run`),
and how a cancelled run leaves the process.

A cancelled run ends without the interpreter's shutdown. Ctrl+C can land inside a lazy import (PyTorch
imports torch._dynamo, sympy and mpmath when the first optimiser is built); `training.run` then printed its
one line and still ended by SIGINT (-2) instead of 130 (CI, stop 29; 2 runs in 20 on a loaded machine).
Which step after the one line did it was not pinned down; skipping the shutdown removes them all. By the
time `leave` runs, the writers have unwound (no temporary file left), the one line is printed and the logs
are closed, so nothing is lost by skipping it; the standard streams are flushed first.
"""
from __future__ import annotations

import os
import sys

USER_ERROR = 2
CANCELLED = 130  # the shells' 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM (15 on POSIX and Windows alike)
ENDED_BY_SIGNAL = {CANCELLED, TERMINATED}


def leave(code: int) -> None:
    """End the process with `code`: a cancelled or terminated run at once (see the module's note), any
    other code through the normal shutdown (SystemExit)."""
    if code in ENDED_BY_SIGNAL:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):  # closed, or None under pythonw on Windows
                pass
        os._exit(code)
    raise SystemExit(code)
