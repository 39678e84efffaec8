"""The first ten minutes, in the real QGIS desktop application: start /usr/bin/qgis under Xvfb with a
fresh profile that has this plugin linked and enabled, open the panel, *Load demo*, *Run*, wait for the
styled result and save a screenshot of the main window (scripts/desktop_startup.py does the clicking).

    .venv/bin/python -m scripts.desktop_demo --out DIR   # DIR/desktop.png, diagnostics.png, status.json, …
    make screenshots                                          # writes docs/img/desktop.png

tests/ui/test_desktop.py runs it and checks what QGIS saw.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from scripts.qgis_runner import PLUGIN_NAME, REPO

QGIS = "/usr/bin/qgis"
STARTUP = REPO / "scripts" / "desktop_startup.py"
SIZE = "1400x1000"
QUIT_GRACE_S = 20
STARTUP_FAILED = "An error occurred during execution of following code"  # QGIS's words for a --code error


class DesktopError(RuntimeError):
    """The desktop scenario failed; the message carries QGIS's status, log and output."""


def make_profile(root: Path) -> Path:
    """root/profiles/default with the plugin linked into python/plugins and enabled in QGIS3.ini."""
    profile = root / "profiles" / "default"
    (profile / "python" / "plugins").mkdir(parents=True)
    (profile / "python" / "plugins" / PLUGIN_NAME).symlink_to(REPO, target_is_directory=True)
    (profile / "QGIS").mkdir()
    (profile / "QGIS" / "QGIS3.ini").write_text(
        "[PythonPlugins]\n"
        f"{PLUGIN_NAME}=true\n"
        "[qgis]\n"
        "askToSaveProjectChanges=false\n"
        "checkVersion=false\n"
        "showTips=false\n"
        "[app]\n"
        "askToSaveMemoryLayers=false\n"  # the result is a temporary file: no "temporary layers" question
        "[core]\n"
        "NewsFeed\\httpsfeedqgisorg\\disabled=true\n", encoding="utf-8")
    (root / "profiles" / "profiles.ini").write_text("[core]\ndefaultProfile=default\n", encoding="utf-8")
    return root  # QGIS's --profiles-path: the folder that holds profiles/


def desktop_env(out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "QGIS_CUSTOM_CONFIG_PATH")}
    env.update(
        BDGF_DESKTOP_OUT=str(out),
        BDGF_DESKTOP_SIZE=SIZE,
        PYTHONPATH=sysconfig.get_paths()["purelib"],  # the venv's onnxruntime for QGIS's Python
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"),
    )
    return env


def run_desktop(out: Path, timeout: float = 90, scenario: str = "classify",
                train_settings: str = "") -> dict:
    """Run the scenario ("classify", or "train": Train on the demo labels, then Run); the status dict QGIS
    wrote, or DesktopError with everything needed to debug."""
    for tool in (QGIS, shutil.which("xvfb-run")):
        if not tool or not os.path.exists(tool):
            raise DesktopError(f"{tool or 'xvfb-run'} not found (apt install qgis xvfb xauth)")
    out = Path(out).resolve()  # QGIS runs in a temporary folder
    out.mkdir(parents=True, exist_ok=True)
    for name in ("status.json", "desktop.png", "desktop_train.png", "diagnostics.png", "qgis_log.txt",
                 "qgis_output.txt", "trained.bdgf"):
        (out / name).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="bdgf_desktop_") as tmp:
        profiles = make_profile(Path(tmp))
        env = desktop_env(out)
        env["BDGF_DESKTOP_TIMEOUT"] = str(max(10, timeout - 15))  # QGIS gives up before we kill it
        env["BDGF_DESKTOP_SCENARIO"] = scenario
        env["BDGF_DESKTOP_TRAIN_SETTINGS"] = train_settings
        width, height = SIZE.split("x")
        cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", QGIS, "--nologo",
               "--noversioncheck", "--profiles-path", str(profiles), "--code", str(STARTUP)]
        started = time.monotonic()
        log = out / "qgis_output.txt"
        with open(log, "w", encoding="utf-8") as sink:
            proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=sink, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            problem = _watch(proc, log, started + timeout)
        elapsed = time.monotonic() - started
        output = log.read_text(encoding="utf-8", errors="replace")
        if problem:
            raise DesktopError(_explain(out, problem, output))
    status_file = out / "status.json"
    if not status_file.exists():
        raise DesktopError(_explain(out, f"QGIS exited (rc {proc.returncode}) without a status", output))
    status = json.loads(status_file.read_text(encoding="utf-8"))
    status["elapsed_s"] = round(elapsed, 1)
    if not status.get("ok") or proc.returncode != 0:
        raise DesktopError(_explain(out, f"the scenario failed (rc {proc.returncode})", output))
    return status


def _watch(proc: subprocess.Popen, log: Path, deadline: float) -> str | None:
    """Wait for QGIS; stop it early when the startup script failed to run (QGIS then stays open)."""
    finished_at = None
    while proc.poll() is None:
        if finished_at is None and _status(log.parent).get("finished"):
            finished_at = time.monotonic()
        if STARTUP_FAILED in log.read_text(encoding="utf-8", errors="replace"):
            problem = "QGIS could not run the startup script"
        elif finished_at is not None and time.monotonic() > finished_at + QUIT_GRACE_S:
            problem = f"QGIS did not quit within {QUIT_GRACE_S} s of the end of the scenario (a dialog?)"
        elif time.monotonic() > deadline:
            problem = "QGIS did not finish in time"
        else:
            time.sleep(0.5)
            continue
        os.killpg(proc.pid, signal.SIGKILL)  # xvfb-run, Xvfb and QGIS: the session this call started
        proc.wait()
        return problem
    return None


def _status(out: Path) -> dict:
    try:
        return json.loads((out / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not written yet, or being written
        return {}


def _explain(out: Path, what: str, output: str) -> str:
    parts = [what]
    for name in ("status.json", "qgis_log.txt"):
        path = out / name
        if path.exists():
            parts.append(f"--- {name}\n" + path.read_text(encoding="utf-8", errors="replace")[-6000:])
    parts.append("--- QGIS output\n" + (output or "")[-4000:])
    return "\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "desktop")
    parser.add_argument("--screenshot", type=Path, help="also copy the screenshot here (docs/img/…)")
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--scenario", choices=("classify", "train"), default="classify",
                        help="train: Load demo, Train (quick) on the demo's label polygons, then Run")
    parser.add_argument("--train-settings", default="",
                        help="the Train section's settings, e.g. 'epochs=2' (a shorter run)")
    args = parser.parse_args(argv)
    try:
        status = run_desktop(args.out, args.timeout, args.scenario, args.train_settings)
    except DesktopError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.screenshot:
        shot = "desktop_train.png" if args.scenario == "train" else "desktop.png"
        shutil.copyfile(args.out / shot, args.screenshot)
    print(json.dumps(status, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
