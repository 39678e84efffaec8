"""Helpers to run this plugin inside a real QGIS: in-process and through qgis_process.bin."""
from __future__ import annotations

import importlib
import sys
import sysconfig
from pathlib import Path

from scripts.qgis_runner import (  # noqa: F401 (re-exported for tests)
    PLUGIN_NAME,
    QGIS_PROCESS,
    REPO,
    enable_plugin,
    plugins_dir,
    qgis_process,
    qgis_process_env,
    run_with_qgis_process,
)


def import_plugin_package(base: Path):
    """Import the repository as the package `bdgf`, the way QGIS imports an installed plugin."""
    folder = str(plugins_dir(base))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(PLUGIN_NAME)


def venv_site_packages() -> str:
    """The site-packages of the running interpreter's venv (for QGIS's embedded Python)."""
    return sysconfig.get_paths()["purelib"]


def run_in_process(algorithm: str, params: dict, feedback=None) -> dict:
    """processing.run inside the running QgsApplication (pytest-qgis's qgis_processing fixture)."""
    import processing

    return processing.run(algorithm, params, feedback=feedback)
