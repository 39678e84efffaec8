"""Stage 6: the model package (.bdgf): features.onnx + classifier.onnx + weights + model card."""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import torch

import engine
from engine.model.card import build_card
from engine.model.package import write_package
from engine.model.tiling import card_halo
from engine.nn.config import BDGFConfig
from engine.nn.export import export_classifier, export_dense, export_features
from training.prepare import Prepared


def software_versions() -> dict:
    versions = {"bdgf": engine.__version__, "python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__}
    for name in ("onnx", "onnxruntime", "sklearn"):
        try:
            versions[name] = __import__(name).__version__
        except Exception as exc:  # noqa: BLE001 (optional at training time: the card says what happened)
            versions[name] = f"not available ({type(exc).__name__})"
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


def export_package(path: Path, card: dict, extractor, ddpm, classifier, tile: int, dense: bool = True) -> str:
    """Write the package; weights: `ddpm.` + MultimodalDDPM state, `classifier.` + BDGFClassifier state.
    dense: also the dense classifier graphs (classifier_maps / classifier_pixels); without them ONNX
    Runtime runs the patchwise classifier.onnx (the reference; benchmarks compare the two)."""
    cpu_extractor = extractor.to("cpu").float().eval()
    classifier = classifier.to("cpu").float().eval()
    onnx = {"features": export_features(cpu_extractor, tile=min(tile, 32)),
            "classifier": export_classifier(classifier)}
    if dense:
        onnx["classifier_maps"], onnx["classifier_pixels"] = export_dense(classifier)
    tensors = {f"ddpm.{k}": v.detach().cpu().numpy() for k, v in ddpm.state_dict().items()}
    tensors.update({f"classifier.{k}": v.detach().cpu().numpy() for k, v in classifier.state_dict().items()})
    return write_package(path, card, onnx=onnx, tensors=tensors)


def build_random_package(path: str | Path, modalities: list[dict], classes: list[dict], normalization: dict,
                         network: BDGFConfig | None = None, seed: int = 0,
                         name: str = "random-init test model", tile_size: int = 128,
                         dense: bool = True) -> str:
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
    export_package(Path(path), card, DiffusionFeatureExtractor(ddpm), ddpm, classifier, tile_size, dense)
    return str(path)


def add_dense_graphs(source: str | Path, target: str | Path | None = None) -> str:
    """Re-write a package written before the dense classifier graphs with them: exported from its own
    classifier weights (nothing retrained; card, graphs and weights kept). target: default `source`
    (replaced atomically). Returns the new content hash."""
    from engine.model.package import ONNX_MEMBERS, ModelPackage

    package = ModelPackage(source)
    classifier = _package_classifier(package)
    onnx = {m: package.onnx(m) for m in ONNX_MEMBERS}
    onnx["classifier_maps"], onnx["classifier_pixels"] = export_dense(classifier)
    card = {k: v for k, v in package.card.items() if k != "content_hash"}
    return write_package(target or source, card, onnx=onnx, tensors=package.tensors(strip=False))


def add_branch_outputs(source: str | Path, target: str | Path | None = None, branches: bool = True) -> str:
    """Re-write a package with its classifier graphs (classifier.onnx and the dense pair, added when missing)
    exported again from its own classifier weights, with the branch probabilities output the trust outputs
    need (engine/trust/uncertainty.py): nothing retrained; card (its capabilities follow the graphs),
    features.onnx and weights kept; the fused probabilities are computed as before. branches=False writes
    the graphs as packages exported before that output (tests). target: default `source` (replaced
    atomically). Returns the new content hash."""
    from engine.model.package import ModelPackage

    package = ModelPackage(source)
    classifier = _package_classifier(package)
    onnx = {"features": package.onnx("features"),
            "classifier": export_classifier(classifier, branches=branches)}
    onnx["classifier_maps"], onnx["classifier_pixels"] = export_dense(classifier, branches=branches)
    card = {k: v for k, v in package.card.items() if k not in ("content_hash", "capabilities")}
    return write_package(target or source, card, onnx=onnx, tensors=package.tensors(strip=False))


def _package_classifier(package):
    """The package's BDGFClassifier, weights loaded strictly (safetensors, never unpickled), eval mode."""
    from engine.nn.bdgf import BDGFClassifier

    classifier = BDGFClassifier(BDGFConfig.from_dict(package.card["network"])).eval()
    state = {k: torch.from_numpy(np.array(v)) for k, v in package.tensors("classifier.").items()}
    classifier.load_state_dict(state, strict=True)
    return classifier


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.export_model",
                                     description="Upgrade a model package written by an earlier version, "
                                                 "from its own weights (nothing retrained).")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--add-dense", metavar="PACKAGE", help="add the dense classifier graphs")
    what.add_argument("--add-branch-outputs", metavar="PACKAGE",
                      help="export the classifier graphs again with each branch's probabilities (the branch "
                           "disagreement and agreement outputs need them); adds the dense graphs too")
    parser.add_argument("--out", help="write the upgraded package here (default: replace PACKAGE)")
    args = parser.parse_args(argv)
    if args.add_dense:
        digest = add_dense_graphs(args.add_dense, args.out)
        print(f"{args.out or args.add_dense}: dense classifier graphs added ({digest})")
    else:
        digest = add_branch_outputs(args.add_branch_outputs, args.out)
        print(f"{args.out or args.add_branch_outputs}: branch probabilities output added ({digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
