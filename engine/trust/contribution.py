"""How much each modality holds up a pixel's predicted class (README, "Trust outputs").

The contribution of modality m at a pixel is the drop of the predicted (fused) class's probability when m
is replaced by its neutral fill, clipped at 0:

    contribution_m = max(0, p(c* | all modalities) - p(c* | m filled)),   c* = the class in the class map

The fill is `engine.normalise.fill_modality` (NEUTRAL_FILL, 0, the normalised training mean): what nodata
pixels hold and what the DDPM's masking writes into the spectral cells it hides. It replaces the modality's
channels over the whole tile window (core and halo), so both the network input and the diffusion features
change: each modality costs one more features + classifier pass of the tile (M + 1 passes in all). The
pass reuses the tile's own noise, so nothing but the modality differs.

A value near 0 for every modality: no single modality holds the class (the others carry it, or removing one
even raises its probability). The dominant modality is the one with the largest contribution; `NONE` when
every contribution is 0.

    contribution = modality_contribution(x, probs, valid, [24, 4, 1], probs_without)  # (M, h, w)
    index = dominant_modality(contribution)  # (h, w): 0..M-1, or NONE
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..normalise import fill_modality
from ..palette import default_colour

NONE = -1  # dominant_modality where no modality's removal lowers the predicted class's probability


def modality_contribution(x: np.ndarray, probs: np.ndarray, valid: np.ndarray, channels: Sequence[int],
                          probs_without: Callable[[np.ndarray, int], np.ndarray],
                          absent: Sequence[int] = ()) -> np.ndarray:
    """(M, h, w) float32 contributions of the M modalities at the `valid` core pixels (0 elsewhere).

    x: the tile window's normalised input (1, C, H, W), channels in card order (`channels` per modality);
    probs: the fused probabilities of the core (n_classes, h, w) computed from x;
    probs_without(x_filled, m): the fused probabilities of the core computed from x with modality m filled;
    absent: modalities already at the fill in x (a layer left out, missing_modality): their contribution is
    0 (filling them again changes nothing), so their pass is skipped.
    """
    predicted = probs.argmax(0)[None]
    p_full = np.take_along_axis(probs, predicted, 0)[0]
    out = np.zeros((len(channels), *valid.shape), np.float32)
    for m in range(len(channels)):
        if m in absent:
            continue
        p_filled = np.take_along_axis(probs_without(fill_modality(x, channels, m), m), predicted, 0)[0]
        out[m] = np.where(valid, np.maximum(p_full - p_filled, 0.0), 0.0)
    return out


def dominant_modality(contribution: np.ndarray) -> np.ndarray:
    """(h, w) int: the index of the largest contribution (first in card order on ties), NONE where all are
    0."""
    index = contribution.argmax(0)
    return np.where(contribution.max(0) > 0, index, NONE)


def modality_classes(modalities: Sequence[Mapping]) -> list[dict]:
    """The dominant-modality raster's categories, as class-raster classes: value i + 1 = modality i (card
    order), value M + 1 = none; colours from the one palette."""
    out = [{"value": i + 1, "name": str(m["name"]), "color": default_colour(i)}
           for i, m in enumerate(modalities)]
    out.append({"value": len(modalities) + 1, "name": "none (no single modality holds the class)",
                "color": "#bdbdbd"})
    return out


def category_indices(dominant: np.ndarray, n_modalities: int) -> np.ndarray:
    """Indices into `modality_classes` (NONE -> the last entry), for ClassRasterWriter.write_indices."""
    return np.where(dominant == NONE, n_modalities, dominant)


def contribution_ratio(extra_s: float, total_s: float) -> float:
    """The contribution's added time over the time of the classification without it (`total_s`: both), as
    the CLI, the QGIS log and `make demo` print it."""
    return extra_s / max(total_s - extra_s, 1e-9)
