"""Stage 6: the model package (.bdgf): features.onnx + classifier.onnx + weights + model card."""
from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import numpy as np
import torch

import engine
from engine.nn.config import BDGFConfig
from engine.nn.export import export_classifier, export_features
from engine.package import write_package
from training.prepare import Prepared


def software_versions() -> dict:
    versions = {"bdgf": engine.__version__, "python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__}
    for name in ("onnx", "onnxruntime", "sklearn"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # optional at training time
            pass
    from osgeo import gdal

    versions["gdal"] = gdal.__version__
    return versions


def card_modalities(prep: Prepared) -> list[dict]:
    out = []
    for entry in prep.modalities:
        mod = {k: v for k, v in entry.items() if k != "source_bands"}
        if entry["source_bands"] != list(range(1, len(entry["source_bands"]) + 1)):
            mod["band_subset"] = entry["source_bands"]  # 1-based bands of the training raster
        out.append(mod)
    return out


def build_card(name: str, description: str, prep: Prepared, net: BDGFConfig, tile: int, halo: int,
               stride: int, training: dict, metrics: dict) -> dict:
    return {
        "schema": "bdgf-model-card", "schema_version": 1, "name": name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "description": description or f"BDGF model trained on {name}",
        "classes": [{"value": c.value, "name": c.name, "color": c.color} for c in prep.classes],
        "modalities": card_modalities(prep),
        "normalization": {**prep.normalization,
                          "method": "per band: 2nd-98th percentile of training pixels -> [-1, 1], "
                                    "clipped to [-3, 3]; nodata -> 0"},
        "pca": prep.pca,
        "patch_size": net.patch_size, "tile_size": tile, "halo": halo, "stride": stride,
        "diffusion": {"timesteps": list(net.ddpm.feature_timesteps), "noise_seed": net.ddpm.noise_seed,
                      "T": net.ddpm.T, "beta_schedule": net.ddpm.beta_schedule,
                      "noise": "engine.noise.position_noise(noise_seed, row0, col0, H, W, C, K)"},
        "network": net.to_dict(),
        "training": training,
        "metrics": metrics,
        "software": software_versions(),
    }


def export_package(path: Path, card: dict, extractor, ddpm, classifier, tile: int) -> str:
    """Write the package; weights: `ddpm.` + MultimodalDDPM state, `classifier.` + BDGFClassifier state."""
    cpu_extractor = extractor.to("cpu").float().eval()
    classifier = classifier.to("cpu").float().eval()
    onnx = {"features": export_features(cpu_extractor, tile=min(tile, 32)),
            "classifier": export_classifier(classifier)}
    tensors = {f"ddpm.{k}": v.detach().cpu().numpy() for k, v in ddpm.state_dict().items()}
    tensors.update({f"classifier.{k}": v.detach().cpu().numpy() for k, v in classifier.state_dict().items()})
    return write_package(path, card, onnx=onnx, tensors=tensors)
