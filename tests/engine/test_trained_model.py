"""classify() with a model from `training.run --preset quick`: the engine reproduces training's test OA
(same normalisation, noise, tiling and features), with both backends."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal

from engine.classify.run import classify
from engine.settings import ClassifySettings

pytestmark = pytest.mark.slow


def _test_oa(classes: np.ndarray, test_path: str) -> float:
    truth = gdal.Open(test_path).ReadAsArray()
    labelled = (truth > 0) & (classes > 0)
    return float((classes[labelled] == truth[labelled]).mean())


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_engine_reproduces_training_test_accuracy(engine_trained_run, fixture_scene, tmp_path, backend):
    out = tmp_path / f"classes_{backend}.tif"
    inputs = {name: fixture_scene[name] for name in ("hsi", "sar", "dsm")}
    summary = classify(inputs, engine_trained_run / "model.bdgf", out,
                       ClassifySettings(device="cpu", backend=backend, tile_size_px=16))
    metrics = json.loads((engine_trained_run / "metrics.json").read_text())
    oa = _test_oa(gdal.Open(str(out)).ReadAsArray(), fixture_scene["test"])
    assert summary.pixels_classified > 0
    assert abs(oa - metrics["oa"]) <= 0.01, (oa, metrics["oa"])
