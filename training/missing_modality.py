"""Missing auxiliary modalities: the inputs a model sees when a layer is not given, and how well it does.

When an auxiliary layer is missing the engine fills its channels with the neutral value 0 (the training
mean after normalisation, the fill the DDPM's masking uses) and computes the diffusion features of the
input so filled. Training builds exactly those inputs (`missing_inputs`) for modality dropout, and
measures the test metrics with each auxiliary modality missing (`missing_modality_metrics`); the figures
go into the model card, and only a card that has the figure for a modality lets the engine run without it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.normalise import fill_modality
from training.context import RunContext
from training.evaluate import test_metrics
from training.prepare import Prepared
from training.stage_classifier import PatchSource, predict
from training.stage_features import cached_features


@dataclass(frozen=True)
class MissingInput:
    name: str  # the modality's name (model card)
    channels: slice  # its channels in the network input
    features: np.ndarray  # diffusion features of the input with those channels at the neutral fill


def auxiliary_channels(prep: Prepared) -> list[tuple[str, slice]]:
    """(name, channel slice) of each auxiliary modality (every modality after the spectral one)."""
    bounds = np.cumsum([0, *prep.modality_channels])
    return [(m["name"], slice(int(bounds[i]), int(bounds[i + 1])))
            for i, m in enumerate(prep.modalities) if i > 0]


def missing_inputs(ctx: RunContext, extractor, prep: Prepared, patch: int, tile: int, halo: int,
                   noise_seed: int, cache_dir: Path, spectral: bool = False) -> list[MissingInput]:
    """One input per auxiliary modality missing, then (`spectral`) the spectral one missing."""
    out = []
    modalities = [(i, name, channels) for i, (name, channels) in enumerate(auxiliary_channels(prep), 1)]
    if spectral:
        modalities.append((0, prep.modalities[0]["name"], slice(0, int(prep.modality_channels[0]))))
    for m, name, channels in modalities:
        x = fill_modality(prep.x[None], prep.modality_channels, m)[0]  # the engine's one rule
        feats, _ = cached_features(ctx, extractor, x, prep.window, patch, tile, halo, noise_seed, cache_dir)
        out.append(MissingInput(name, channels, feats))
    return out


def missing_modality_metrics(ctx: RunContext, model, source: PatchSource, prep: Prepared,
                             evaluated: np.ndarray, names: list[str]) -> dict[str, dict]:
    """{modality: {oa, aa, kappa, test_pixels}} on the evaluated test pixels with that modality missing
    (variant i + 1 of `source` is modality names[i] missing)."""
    flat = np.flatnonzero(evaluated.ravel())
    out = {}
    for v, name in enumerate(names, 1):
        probs = predict(ctx, model, source, flat, variant=v)
        pred = np.full(prep.valid.shape, -1, np.int16)
        pred.ravel()[flat] = probs.argmax(1)
        m = test_metrics(prep, pred, evaluated)
        out[name] = {"oa": m["oa"], "aa": m["aa"], "kappa": m["kappa"], "test_pixels": m["n"]}
        ctx.info(f"{name} missing: test OA {100 * m['oa']:.2f} %")
    return out
