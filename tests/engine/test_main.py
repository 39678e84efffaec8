"""`python -m engine` (engine/__main__.py), what the verbs share: exit codes and one-line user errors. Each
verb's own behaviour is tested beside its room (tests/engine/<room>/test_cli.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])


def _engine(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _classify_args(scene, model, out) -> list:
    return ["classify", "--spectral", scene["hsi"], "--aux", scene["sar"], "--aux", scene["dsm"],
            "--model", model, "--out", out]


def test_cli_user_errors_are_one_line_exit_2(engine_model, fixture_scene, tmp_path):
    out = tmp_path / "classes.tif"
    cases = {
        "missing model": _classify_args(fixture_scene, tmp_path / "nope.bdgf", out),
        "wrong band count": ["classify", "--spectral", fixture_scene["hsi"], "--aux", fixture_scene["dsm"],
                             "--aux", fixture_scene["sar"], "--model", engine_model, "--out", out],
        "missing modality": ["classify", "--spectral", fixture_scene["hsi"], "--aux", fixture_scene["sar"],
                             "--model", engine_model, "--out", out],
        "cuda unavailable": [*_classify_args(fixture_scene, engine_model, out), "--device", "cuda"],
    }
    expected = {"missing model": "Model package not found", "wrong band count": "expected 4 bands, found 1",
                "missing modality": "found no layer (missing)", "cuda unavailable": "cuda"}
    for name, args in cases.items():
        proc = _engine(*args)
        assert proc.returncode == 2, (name, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected[name] in errors[0], (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not out.exists()




class _Verb:
    """A command whose run stops the way a run can stop: Ctrl+C, the user's cancel, a SIGTERM sent to this
    very process."""

    def __init__(self, name: str, stop):
        self.name, self.stop = name, stop

    def add_parser(self, sub) -> None:
        sub.add_parser(self.name)

    def run(self, args) -> int:
        self.stop()
        return 0


def _sigterm() -> None:
    import os
    import signal
    import time

    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler raises in this frame long before


def _raise(error):
    def stop():
        raise error
    return stop


def test_cancelling_and_sigterm_exit_130_and_143_and_the_sigterm_handler_is_restored(monkeypatch, capsys):
    import signal

    from engine import __main__ as engine_main
    from engine.errors import Cancelled

    before = signal.getsignal(signal.SIGTERM)
    cases = [("classify", _raise(KeyboardInterrupt()), 130, "cancelled: no output written"),
             ("classify", _raise(Cancelled("cancelled by the user")), 130, "cancelled: no output written"),
             ("classify", _sigterm, 143, "terminated (SIGTERM): no output written"),
             ("batch", _sigterm, 143, "terminated (SIGTERM): the finished blocks are kept; rerun the same "
                                      "command to resume")]
    for name, stop, code, line in cases:
        monkeypatch.setitem(engine_main.COMMANDS, name, _Verb(name, stop))
        assert engine_main.main([name]) == code
        assert capsys.readouterr().err == line + "\n"
        assert signal.getsignal(signal.SIGTERM) is before
    assert list(engine_main.COMMANDS) == ["classify", "info", "accuracy", "batch", "suggest"]
