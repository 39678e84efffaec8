"""Shared fixtures. QGIS itself is started by pytest-qgis (see pyproject: qgis_gui_enabled = false)."""
from __future__ import annotations

import pytest

from tests.qgis_tools import import_plugin_package


@pytest.fixture(scope="session")
def qgis_base(tmp_path_factory):
    """A temporary folder holding the plugin link and a throw-away QGIS profile."""
    return tmp_path_factory.mktemp("qgis")


@pytest.fixture()
def bdgf_plugin(qgis_app, qgis_iface, qgis_processing, qgis_base):
    """The plugin loaded through classFactory + initGui, unloaded afterwards."""
    package = import_plugin_package(qgis_base)
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    plugin.unload()


# ---- scene fixtures (tests/fixtures.py) below ----
# Owned by the data engineer: only fixtures in this block.


@pytest.fixture(scope="session")
def fixture_scene(tmp_path_factory):
    """Small aligned scene (48 x 64 px, 24 HSI bands, SAR, DSM, labels): dict of paths."""
    from tests.fixtures import write_fixture_scene

    return write_fixture_scene(tmp_path_factory.mktemp("scene_aligned"), "aligned")


@pytest.fixture(scope="session")
def fixture_scene_mixed(tmp_path_factory):
    """Same scene with SAR (3 m, EPSG:3857) and DSM (1 m, cropped) on their own grids."""
    from tests.fixtures import write_fixture_scene

    return write_fixture_scene(tmp_path_factory.mktemp("scene_mixed"), "mixed")


# ---- end of scene fixtures ----


# ---- engine fixtures (inference engineer): model packages for tests/engine/ and tests/ui/ ----

def _fixture_normalization(scene) -> dict:
    import numpy as np

    from engine.raster.read import read_aligned_stack

    arrays, valid = read_aligned_stack([scene["hsi"], scene["sar"], scene["dsm"]])
    low, high = [], []
    for a in arrays:
        lo, hi = np.percentile(a[:, valid], [2, 98], axis=1)
        low.append(lo.tolist())
        high.append(np.maximum(hi, lo + 1e-3).tolist())
    return {"low": low, "high": high}


@pytest.fixture(scope="session")
def engine_model(fixture_scene, tmp_path_factory) -> str:
    """Random-init quick-config package (hsi 24 + sar 4 + dsm 1 bands, the fixture's 6 classes)."""
    from engine.nn.config import BDGFConfig
    from training.export_model import build_random_package

    mods = [{"name": "hsi", "role": "spectral", "bands": 24}, {"name": "sar", "role": "sar", "bands": 4},
            {"name": "dsm", "role": "lidar", "bands": 1}]
    path = str(tmp_path_factory.mktemp("engine_model") / "quick_random.bdgf")
    return build_random_package(path, mods, fixture_scene["classes"], _fixture_normalization(fixture_scene),
                                network=BDGFConfig.quick([24, 4, 1], len(fixture_scene["classes"])),
                                tile_size=32, seed=0)


@pytest.fixture(scope="session")
def engine_trained_run(fixture_scene, tmp_path_factory):
    """Output folder of one `python -m training.run --preset quick` on the fixture scene."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("engine_trained_run")
    env = {**os.environ, "PYTHONPATH": str(repo), "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "training.run", "--config", str(fixture_scene["config"]), "--out", str(out),
           "--preset", "quick", "--device", "cpu"]
    result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


# ---- end of engine fixtures ----


@pytest.fixture()
def one_thread(monkeypatch):
    """One thread for both backends (engine.model.backends.cpu_threads reads OMP_NUM_THREADS): on a CPU shared
    with other jobs two competing threads ran small tiles up to 50x slower. Use with
    `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    threads = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    import gc

    gc.collect()  # GDAL datasets of the test closed before the next one


class LogProgress:
    """An engine Progress that keeps the logged lines (for tests that read the engine's log)."""

    def __init__(self):
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)

    def set_progress(self, percent: float) -> None:
        pass

    def is_cancelled(self) -> bool:
        return False
