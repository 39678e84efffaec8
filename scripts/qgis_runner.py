"""Run this repository as the QGIS plugin `bdgf` through qgis_process.bin (used by the demo and tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN_NAME = "bdgf"
QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # Debian's qgis_process wrapper passes a bad option


def plugins_dir(base: Path) -> Path:
    """A QGIS plugin folder holding this repository as the plugin `bdgf` (a symlink)."""
    folder = Path(base) / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / PLUGIN_NAME
    if not link.exists():
        link.symlink_to(REPO, target_is_directory=True)
    return folder


def qgis_process_env(base: Path) -> dict:
    """Environment for qgis_process: offscreen, this plugin, a throw-away profile, the venv's packages."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(plugins_dir(base)),
        QGIS_CUSTOM_CONFIG_PATH=str(Path(base) / "profile"),
        PYTHONPATH=sysconfig.get_paths()["purelib"],
    )
    return env


def qgis_process(base: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run qgis_process.bin with this plugin discoverable."""
    return subprocess.run(
        [QGIS_PROCESS, *args], env=qgis_process_env(base), capture_output=True, text=True, timeout=timeout
    )


def enable_plugin(base: Path) -> None:
    done = qgis_process(base, "plugins", "enable", PLUGIN_NAME)
    if done.returncode != 0 and "already enabled" not in done.stdout + done.stderr:
        raise RuntimeError(f"enabling {PLUGIN_NAME} failed:\n{done.stdout}\n{done.stderr}")


def run_with_qgis_process(base: Path, algorithm: str, params: dict, timeout: float = 600) -> dict:
    """Run a Processing algorithm through qgis_process.bin with this plugin enabled; JSON results."""
    enable_plugin(base)
    args = ["--json", "run", algorithm, "--"] + [f"{k}={v}" for k, v in params.items()]
    done = qgis_process(base, *args, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"qgis_process {algorithm} failed (rc {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    start = done.stdout.find("{")
    return json.loads(done.stdout[start:])
