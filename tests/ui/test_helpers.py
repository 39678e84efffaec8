"""Helpers for the QGIS tests (no tests here): a tiny model package, waiting on tasks.

The tiny package follows the package contract (docs/ARCHITECTURE.md) with two small random ONNX
graphs instead of a trained network, so the QGIS tests run in seconds on two shared cores:
features = 1x1 conv of (x + mean over timesteps of noise); classifier = P x P conv of [x, d] + softmax.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from osgeo import gdal

FEATURE_WIDTH = 2  # card network.ddpm.base_width; channel_mults [1, 1, 1] -> F = 6
PATCH = 5


def _features_graph(channels: int, feats: int, rng) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(rng.normal(0, 0.5, (feats, channels, 1, 1)).astype(np.float32), "w")
    nodes = [
        helper.make_node("ReduceMean", ["noise"], ["noise_mean"], axes=[0], keepdims=1),
        helper.make_node("Add", ["x", "noise_mean"], ["x_noisy"]),
        helper.make_node("Conv", ["x_noisy", "w"], ["feats"]),
    ]
    graph = helper.make_graph(
        nodes, "features",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, "H", "W"]),
         helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["K", channels, "H", "W"])],
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, [1, feats, "H", "W"])], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8) \
        .SerializeToString()


def _classifier_graph(channels: int, feats: int, n_classes: int, rng, patch: int = PATCH) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    shape = (n_classes, channels + feats, patch, patch)
    weight = numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), "w")
    nodes = [
        helper.make_node("Concat", ["x", "d"], ["xd"], axis=1),
        helper.make_node("Conv", ["xd", "w"], ["logits4"]),
        helper.make_node("Flatten", ["logits4"], ["logits"], axis=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", channels, patch, patch]),
         helper.make_tensor_value_info("d", TensorProto.FLOAT, ["B", feats, patch, patch])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["B", n_classes])], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8) \
        .SerializeToString()


def _band_range(path: str) -> tuple[list[float], list[float]]:
    """2nd / 98th percentile per band (valid pixels), as the card's normalisation."""
    ds = gdal.Open(path)
    low, high = [], []
    for i in range(ds.RasterCount):
        band = ds.GetRasterBand(i + 1)
        data = band.ReadAsArray().astype(np.float64)
        ok = np.isfinite(data)
        if band.GetNoDataValue() is not None:
            ok &= data != band.GetNoDataValue()
        lo, hi = np.percentile(data[ok], [2, 98])
        low.append(float(lo))
        high.append(float(hi if hi > lo else lo + 1))
    return low, high


def tiny_card(scene: dict, name: str = "Tiny random model") -> dict:
    modalities = [
        {"name": "hsi", "role": "spectral", "bands": gdal.Open(scene["hsi"]).RasterCount},
        {"name": "sar", "role": "sar", "bands": gdal.Open(scene["sar"]).RasterCount,
         "band_names": ["VV", "VH", "HH", "HV"]},
        {"name": "dsm", "role": "lidar", "bands": 1},
    ]
    ranges = [_band_range(scene[m["name"]]) for m in modalities]
    return {
        "schema": "bdgf-model-card", "schema_version": 1, "name": name,
        "created": "2026-11-26T00:00:00Z", "description": "Random weights, for tests only.",
        "classes": scene["classes"], "modalities": modalities,
        "normalization": {"low": [r[0] for r in ranges], "high": [r[1] for r in ranges]},
        "pca": None, "patch_size": PATCH, "tile_size": 32, "halo": 4, "stride": 4,
        "diffusion": {"timesteps": [50, 150], "noise_seed": 20240917},
        "network": {"ddpm": {"base_width": FEATURE_WIDTH, "channel_mults": [1, 1, 1]}},
        "training": {}, "metrics": {"oa": 0.5, "aa": 0.4, "kappa": 0.3},
        "software": {"bdgf": "test"},
    }


def write_tiny_package(path: str | Path, scene: dict, seed: int = 0, hsi_bands: int | None = None,
                       **card_changes) -> str:
    """A valid .bdgf package for the fixture scene's layers (random ONNX graphs).

    hsi_bands: make the card expect another spectral band count (a model that does not fit the scene).
    """
    from engine.model.package import write_package

    card = {**tiny_card(scene), **card_changes}
    if hsi_bands is not None:
        card["modalities"][0]["bands"] = hsi_bands
        for key in ("low", "high"):
            card["normalization"][key][0] = [float(key == "high")] * hsi_bands
    write_package(path, card, tiny_graphs(card, seed), {"classifier.tiny": np.zeros(1, np.float32)})
    return str(path)


def tiny_graphs(card: dict, seed: int = 0) -> dict[str, bytes]:
    """Random ONNX graphs of the shapes a card without PCA declares: channels, features, patch, classes."""
    from engine.model.card import feature_channels

    channels, feats = sum(m["bands"] for m in card["modalities"]), feature_channels(card)
    rng = np.random.default_rng(seed)
    return {"features": _features_graph(channels, feats, rng),
            "classifier": _classifier_graph(channels, feats, len(card["classes"]), rng, card["patch_size"])}


def read_band(path: str) -> np.ndarray:
    ds = gdal.Open(str(path))  # keep the dataset alive while its band is read
    return ds.GetRasterBand(1).ReadAsArray()


def hide_package(monkeypatch, package):
    """Simulate a package missing from QGIS's Python: `import package` raises ImportError."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)


def wait_until(condition, timeout: float = 120.0, step_ms: int = 20) -> bool:
    """Process Qt events until `condition()` is true or the timeout passes."""
    from qgis.PyQt.QtCore import QCoreApplication, QEventLoop, QThread

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        QCoreApplication.processEvents(QEventLoop.AllEvents, step_ms)
        QThread.msleep(step_ms)
    return True
