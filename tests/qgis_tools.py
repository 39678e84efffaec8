"""Helpers to run this plugin inside a real QGIS: in-process and through qgis_process.bin."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
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


def import_plugin_package(base: Path):
    """Import the repository as the package `bdgf`, the way QGIS imports an installed plugin."""
    folder = str(plugins_dir(base))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(PLUGIN_NAME)


def venv_site_packages() -> str:
    """The site-packages of the running interpreter's venv (for QGIS's embedded Python)."""
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def qgis_process_env(base: Path) -> dict:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(plugins_dir(base)),
        QGIS_CUSTOM_CONFIG_PATH=str(Path(base) / "profile"),
        PYTHONPATH=venv_site_packages(),
    )
    return env


def qgis_process(base: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run qgis_process.bin with this plugin discoverable and a throw-away profile."""
    return subprocess.run(
        [QGIS_PROCESS, *args], env=qgis_process_env(base), capture_output=True, text=True, timeout=timeout
    )


def enable_plugin(base: Path) -> None:
    done = qgis_process(base, "plugins", "enable", PLUGIN_NAME)
    if done.returncode != 0:
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


def run_in_process(algorithm: str, params: dict, feedback=None) -> dict:
    """processing.run inside the running QgsApplication (pytest-qgis's qgis_processing fixture)."""
    import processing

    return processing.run(algorithm, params, feedback=feedback)
