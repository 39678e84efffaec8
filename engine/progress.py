"""Progress / cancel protocol shared by the CLI, training and the QGIS adapter."""
from __future__ import annotations

import sys
from typing import Protocol

from .errors import Cancelled


class Progress(Protocol):
    def set_progress(self, percent: float) -> None: ...

    def log(self, message: str) -> None: ...

    def is_cancelled(self) -> bool: ...


class SilentProgress:
    """Does nothing; never cancels."""

    def set_progress(self, percent: float) -> None:
        pass

    def log(self, message: str) -> None:
        pass

    def is_cancelled(self) -> bool:
        return False


class ConsoleProgress:
    """Logs to stderr and shows a progress bar (tqdm when available)."""

    def __init__(self, desc: str = "classify"):
        try:
            from tqdm import tqdm
            self._bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr)
        except ImportError:
            self._bar = None
        self._last = 0.0

    def set_progress(self, percent: float) -> None:
        if self._bar is not None:
            self._bar.update(max(0.0, percent - self._last))
        self._last = percent

    def log(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def is_cancelled(self) -> bool:
        return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def check_cancel(progress: Progress) -> None:
    """Raise Cancelled when the user asked to stop."""
    if progress.is_cancelled():
        raise Cancelled("cancelled by the user")
