"""engine/exit_codes.py: how the command lines leave the process. A cancelled run (130 / 143) ends without
the interpreter's shutdown, so that nothing a half-finished import left behind can change its exit code
(CI, stop 29: `training.run` interrupted inside PyTorch's lazy import of torch._dynamo exited by SIGINT,
-2, instead of 130); every other code goes through the normal shutdown."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = str(Path(__file__).resolve().parents[2])

# A shutdown hook that records that it ran and then ends the process by SIGINT at its default action, as
# the failed CI run ended (raise_signal also exists on Windows, where SIGINT's default action exits too).
_SCRIPT = """
import atexit, pathlib, signal, sys
from engine.exit_codes import leave

def hook():
    pathlib.Path(sys.argv[2]).write_text("ran")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.raise_signal(signal.SIGINT)

atexit.register(hook)
print("cancelled: one line", end="")  # no newline: only a flush gets it out before os._exit
print("on stderr", end="", file=sys.stderr)
leave(int(sys.argv[1]))
"""


def _run(code: int, marker: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _SCRIPT, str(code), str(marker)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("code", [130, 143])
def test_a_cancelled_run_leaves_with_its_code_whatever_the_shutdown_would_do(code, tmp_path):
    proc = _run(code, tmp_path / "hook")
    assert proc.returncode == code
    assert proc.stdout == "cancelled: one line" and proc.stderr == "on stderr"
    assert not (tmp_path / "hook").exists()


def test_other_codes_go_through_the_normal_shutdown(tmp_path):
    """The hook runs for them, which here (the hook raises SIGINT) changes the code: the shutdown ran."""
    proc = _run(2, tmp_path / "hook")
    assert (tmp_path / "hook").read_text() == "ran"
    assert proc.returncode != 2
