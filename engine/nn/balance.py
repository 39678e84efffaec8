"""Modality contribution to the diffusion features: the one measure of balance.

The contribution of modality m is the relative change of the features, ||f - f_m|| / ||f||, when m's
content is replaced: by default ("swap") with m's values from elsewhere (another probe tile, or the
image rolled by half its size), so that the measure asks how much the features follow m's *content*;
or ("mean") by its per-channel mean over the valid pixels. The mean is also the value masking writes
into masked spectral cells, so a DDPM pre-trained with masking learns to treat a mean-filled spectral
image as "masked" and changes its features wholesale: with "mean" the measured spectral share rises
with the masking, and a controller steering by it runs away (measured on the hard testbed). The
masking controller steers by this measure and the training report shows it per feature level, so
what is reported is what is steered.

    change = feature_change(extractor, x, noise, [180, 4, 1], valid)   # (M, levels + 1)
    shares = contribution_shares(change[:, -1])                        # spectral share = shares[0]
"""
from __future__ import annotations

import numpy as np
import torch


@torch.no_grad()
def feature_change(extractor, x: torch.Tensor, noise: torch.Tensor, modality_channels: list[int],
                   valid: torch.Tensor | None = None, fill: str = "swap") -> np.ndarray:
    """(M, L + 1) relative feature change per modality: one column per feature level, then all levels.

    x: (B, C, H, W) normalised input; noise: (K, C, H, W); valid: (B, H, W) bool (None = all pixels).
    Only pixels valid in the input (and, for "swap", where the swapped-in values come from) enter the
    norms; the means of "mean" are over valid pixels.
    """
    if fill not in ("swap", "mean"):
        raise ValueError(f"fill must be 'swap' or 'mean', got {fill!r}")
    valid = torch.ones(x.shape[0], *x.shape[2:], dtype=torch.bool, device=x.device) if valid is None \
        else valid.to(x.device)
    base = extractor(x, noise)
    levels = list(extractor.feature_channels())
    bounds = np.cumsum([0] + levels)
    measured = valid & _elsewhere(valid) if fill == "swap" else valid
    sel = measured[:, None].expand(-1, base.shape[1], -1, -1)
    out = np.zeros((len(modality_channels), len(levels) + 1))
    start = 0
    for m, n in enumerate(modality_channels):
        filled = x.clone()
        part = x[:, start:start + n]
        if fill == "swap":
            filled[:, start:start + n] = _elsewhere(part)
        else:
            means = (part * valid[:, None]).sum((0, 2, 3)) / valid.sum().clamp(min=1)
            filled[:, start:start + n] = torch.where(valid[:, None], means[None, :, None, None], part)
        diff = (extractor(filled, noise) - base).masked_fill(~sel, 0.0)
        ref = base.masked_fill(~sel, 0.0)
        for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            out[m, j] = _ratio(diff[:, a:b], ref[:, a:b])
        out[m, -1] = _ratio(diff, ref)
        start += n
    return out


def _elsewhere(t: torch.Tensor) -> torch.Tensor:
    """The same modality from another place: the next tile of the batch, or (one tile) the tile rolled
    by half its height and width."""
    if t.shape[0] > 1:
        return torch.roll(t, 1, dims=0)
    return torch.roll(t, (t.shape[-2] // 2, t.shape[-1] // 2), dims=(-2, -1))


def _ratio(diff: torch.Tensor, ref: torch.Tensor) -> float:
    norm = torch.linalg.vector_norm
    return float(norm(diff.double()) / norm(ref.double()).clamp(min=1e-12))


def contribution_shares(change: np.ndarray) -> np.ndarray:
    """Shares (summing to 1) from per-modality relative changes; equal shares when nothing changes."""
    change = np.clip(np.asarray(change, np.float64), 0.0, None)
    total = change.sum()
    return change / total if total > 0 else np.full(len(change), 1.0 / len(change))
