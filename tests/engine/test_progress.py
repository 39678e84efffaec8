"""engine.progress: check_cancel raises Cancelled when the progress says so; the silent and the console
progress never cancel; the console one logs to stderr."""
from __future__ import annotations

import pytest

from engine.errors import Cancelled
from engine.progress import ConsoleProgress, SilentProgress, check_cancel


class _Stop(SilentProgress):
    def __init__(self, after: int):
        self.left = after

    def is_cancelled(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_check_cancel_raises_once_the_user_asked_to_stop():
    progress = _Stop(after=2)
    check_cancel(progress)
    check_cancel(progress)
    with pytest.raises(Cancelled, match="cancelled by the user"):
        check_cancel(progress)
    check_cancel(SilentProgress())  # never cancels


def test_console_progress_logs_to_stderr_and_never_cancels(capsys):
    progress = ConsoleProgress("test")
    progress.set_progress(40.0)
    progress.log("Device actually used: ONNX Runtime on cpu")
    progress.set_progress(100.0)
    progress.close()
    assert not progress.is_cancelled()
    captured = capsys.readouterr()
    assert captured.out == "" and "Device actually used: ONNX Runtime on cpu" in captured.err
