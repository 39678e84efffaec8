"""Stopping a training run from outside, cleanly: Ctrl+C, a scheduler's SIGTERM, or bdgf:train's Cancel
(SIGTERM to the process group on POSIX, CTRL_BREAK_EVENT on Windows: Python's SIGBREAK) unwind through the
atomic writers and end the run with one line; the checkpoints stay for --resume."""
from __future__ import annotations

import contextlib
import signal


class Interrupted(BaseException):
    """Raised in the main thread by SIGTERM (POSIX) or CTRL_BREAK (Windows, SIGBREAK): a BaseException like
    KeyboardInterrupt, so that it unwinds through the atomic writers (no half-written file) and no
    `except Exception` stops it."""


def _interrupt(signum, frame) -> None:
    raise Interrupted


def on_termination():
    """Turn SIGTERM and, on Windows, SIGBREAK (what a launcher sends a process group there: CTRL_BREAK_EVENT)
    into Interrupted; returns the function that restores the previous handlers."""
    previous = {}
    for name in ("SIGTERM", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            with contextlib.suppress(ValueError, OSError):  # not in the main thread
                previous[number] = signal.signal(number, _interrupt)

    def restore() -> None:
        for number, handler in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(number, handler)
    return restore
