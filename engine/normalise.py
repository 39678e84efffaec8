"""The one input transform of training and inference: robust per-band scaling and optional PCA.

Training builds it from its statistics (`from_stats`), inference from the model card (`from_card`);
both then call `apply`, so a pixel is transformed identically in both.

    norm = Normaliser.from_card(card)
    x = norm.apply([hsi, sar, dsm], valid)   # (1, C, H, W) float32, invalid pixels 0
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import BDGFError

# The value of a channel that carries nothing: 0, the normalised training mean (the 2-98 % scaling maps
# the training range to [-1, 1]). Nodata pixels, the spectral cells the DDPM's masking hides, and a modality
# removed to measure its contribution (engine.trust.contribution) all hold it.
NEUTRAL_FILL = 0.0


def fill_modality(x: np.ndarray, channels: Sequence[int], m: int,
                  out: np.ndarray | None = None) -> np.ndarray:
    """x (1, C, H, W) with modality m's channels (`channels` per modality, card order) at NEUTRAL_FILL at
    every pixel: a copy, or `out` (x itself: in place). The one rule for a modality that is not there: the
    contribution's removed modality (trust.contribution), a layer left out of a run (model.missing_modality);
    training's modality dropout fills the same channels with the same value."""
    out = x.copy() if out is None else out
    start = int(sum(channels[:m]))
    out[:, start:start + int(channels[m])] = NEUTRAL_FILL
    return out


@dataclass
class Normaliser:
    """Per-band robust scaling to [-1, 1] (clipped to [-3, 3]) and optional PCA of the spectral bands."""

    low: list[np.ndarray]
    span: list[np.ndarray]  # high - low
    pca_mean: np.ndarray | None = None
    pca_matrix: np.ndarray | None = None  # (components, bands)
    channels: list[int] = field(default_factory=list)

    @classmethod
    def from_card(cls, card: Mapping) -> Normaliser:
        norm = card["normalization"]
        bands = [m["bands"] for m in card["modalities"]]
        return cls.from_stats(norm["low"], norm["high"], card.get("pca"), bands)

    @classmethod
    def from_stats(cls, lows, highs, pca, bands: list[int]) -> Normaliser:
        """From per-modality 2nd/98th percentiles, the card's PCA entry (or None) and band counts."""
        low = [np.asarray(v, np.float32) for v in lows]
        span = [np.asarray(h, np.float32) - lo for lo, h in zip(low, highs)]
        mean, matrix = _pca_arrays(pca)
        channels = list(bands)
        if matrix is not None:
            channels[0] = matrix.shape[0]
        return cls(low, span, mean, matrix, channels)

    def with_input_scale(self, scales: list[float]) -> Normaliser:
        """The same transform for layers whose values are `scales[i]` times smaller than the training
        data's (x * scale is in training units): folded into low and span, so no pass over the pixels."""
        low = [lo / np.float32(s) for lo, s in zip(self.low, scales)]
        span = [sp / np.float32(s) for sp, s in zip(self.span, scales)]
        return Normaliser(low, span, self.pca_mean, self.pca_matrix, list(self.channels))

    def apply(self, arrays: list[np.ndarray], valid: np.ndarray) -> np.ndarray:
        """Normalised (1, C, H, W) stack; invalid pixels are 0 in every channel. Overwrites `arrays`."""
        h, w = valid.shape
        out = np.empty((1, sum(self.channels), h, w), np.float32)
        c = 0
        for i, x in enumerate(arrays):  # in place on the freshly read arrays
            x -= self.low[i][:, None, None]
            x *= np.float32(2)
            x /= self.span[i][:, None, None]
            x -= np.float32(1)
            np.clip(x, -3, 3, out=x)
            if i == 0 and self.pca_matrix is not None:
                flat = x.reshape(x.shape[0], -1) - self.pca_mean[:, None]
                x = (self.pca_matrix @ flat).reshape(-1, h, w)
            out[0, c:c + x.shape[0]] = x
            c += x.shape[0]
        out[0, :, ~valid] = NEUTRAL_FILL
        return out


def _pca_arrays(pca) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not pca:
        return None, None
    if isinstance(pca, Mapping):
        matrix = pca.get("matrix", pca.get("components"))
        if isinstance(matrix, list) and matrix and isinstance(matrix[0], list):
            matrix = np.asarray(matrix, np.float32)
            mean = np.asarray(pca.get("mean", np.zeros(matrix.shape[1])), np.float32)
            return mean, matrix
    raise BDGFError("The model card's 'pca' entry has no projection matrix this engine can read "
                    "(expected {'mean': [...], 'matrix': [[...], ...]}).")
