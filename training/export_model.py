"""Stage 6: the model package (.bdgf): features.onnx + classifier.onnx + weights + model card."""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import torch

import engine
from engine.card import build_card
from engine.nn.config import BDGFConfig
from engine.nn.export import export_classifier, export_features
from engine.package import write_package
from engine.tiling import card_halo
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


def trained_card(name: str, description: str, prep: Prepared, net: BDGFConfig, tile: int, halo: int,
                 stride: int, training: dict, metrics: dict) -> dict:
    """The card of a model trained on `prep` (through the engine's one card builder)."""
    return build_card(
        name=name, description=description,
        classes=[{"value": c.value, "name": c.name, "color": c.color} for c in prep.classes],
        modalities=card_modalities(prep), normalization=prep.normalization, pca=prep.pca, network=net,
        tile_size=tile, halo=halo, stride=stride, training=training, metrics=metrics,
        software=software_versions())


def export_package(path: Path, card: dict, extractor, ddpm, classifier, tile: int) -> str:
    """Write the package; weights: `ddpm.` + MultimodalDDPM state, `classifier.` + BDGFClassifier state."""
    cpu_extractor = extractor.to("cpu").float().eval()
    classifier = classifier.to("cpu").float().eval()
    onnx = {"features": export_features(cpu_extractor, tile=min(tile, 32)),
            "classifier": export_classifier(classifier)}
    tensors = {f"ddpm.{k}": v.detach().cpu().numpy() for k, v in ddpm.state_dict().items()}
    tensors.update({f"classifier.{k}": v.detach().cpu().numpy() for k, v in classifier.state_dict().items()})
    return write_package(path, card, onnx=onnx, tensors=tensors)


def build_random_package(path: str | Path, modalities: list[dict], classes: list[dict], normalization: dict,
                         network: BDGFConfig | None = None, seed: int = 0,
                         name: str = "random-init test model", tile_size: int = 128) -> str:
    """A valid .bdgf from randomly initialised networks, for tests and benchmarks (never for maps).

    modalities: card entries (name, role, bands, ...), spectral first; network: default BDGFConfig for
    these band counts and classes. Returns `path`.
    """
    from engine.nn.bdgf import BDGFClassifier
    from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM

    torch.manual_seed(seed)
    net = network or BDGFConfig.default([m["bands"] for m in modalities], n_classes=len(classes))
    ddpm, classifier = MultimodalDDPM(net).eval(), BDGFClassifier(net).eval()
    stride = ddpm.stride()
    card = build_card(
        name=name, description="Randomly initialised weights, for tests and benchmarks only.",
        classes=classes, modalities=modalities, normalization=normalization, network=net,
        tile_size=tile_size, halo=card_halo(ddpm.receptive_radius(), stride), stride=stride,
        training={"note": "none (random init)"}, software=software_versions())
    export_package(Path(path), card, DiffusionFeatureExtractor(ddpm), ddpm, classifier, tile_size)
    return str(path)
