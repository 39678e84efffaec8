"""Adaptive modality masking of the spectral image (never the auxiliaries) for DDPM pre-training.

Structure mask: random (band group x spatial block) cells of the spectral image, ratio r_s(k).
Sample mask: the whole spectral image of a fraction p_m(k) of the batch.
Masked spectral values are set to 0 (the normalised mean, the same fill as nodata).
Both ratios = base ratio x warm-up(k) x adaptive factor (adaptive mode), bounded; the factor
follows the smoothed imbalance ratio  mean(auxiliary losses) / spectral loss : above 1 the
auxiliaries are modelled worse than the spectral image (spectral dominance), so masking increases.
"""
from __future__ import annotations

import math

import torch

from .config import MaskingConfig


class ModalityMasking:
    def __init__(self, cfg: MaskingConfig, modality_channels: list[int]):
        self.cfg = cfg
        self.spectral_channels = int(modality_channels[0])
        self.imbalance: float | None = None  # smoothed aux/spectral loss ratio

    # --- schedule -------------------------------------------------------------------------
    def warmup(self, step: int) -> float:
        if self.cfg.mode == "fixed":
            return 1.0
        return min(1.0, max(0.0, step / max(1, self.cfg.warmup_iters)))

    def factor(self) -> float:
        """Adaptive factor in [min_factor, max_factor]; 1 unless the mode is adaptive."""
        if self.cfg.mode != "adaptive" or self.imbalance is None:
            return 1.0
        f = self.imbalance ** self.cfg.sensitivity
        return float(min(self.cfg.max_factor, max(self.cfg.min_factor, f)))

    def ratios(self, step: int) -> tuple[float, float]:
        """(r_s, p_m) at iteration `step`."""
        if self.cfg.mode == "off":
            return 0.0, 0.0
        g = self.warmup(step) * self.factor()
        r_s = min(self.cfg.max_structure_ratio, self.cfg.structure_ratio * g)
        p_m = min(self.cfg.max_sample_ratio, self.cfg.sample_ratio * g)
        return r_s, p_m

    # --- feedback -------------------------------------------------------------------------
    def observe(self, per_modality_losses) -> float | None:
        """Feed the per-modality denoising losses (spectral first); returns the smoothed ratio."""
        losses = [float(v) for v in per_modality_losses]
        if len(losses) < 2 or not all(math.isfinite(v) for v in losses):
            return self.imbalance
        ratio = (sum(losses[1:]) / (len(losses) - 1)) / max(losses[0], 1e-12)
        if self.imbalance is None:
            self.imbalance = ratio
        else:
            self.imbalance = self.cfg.ema * self.imbalance + (1.0 - self.cfg.ema) * ratio
        return self.imbalance

    def state_dict(self) -> dict:
        return {"imbalance": self.imbalance}

    def load_state_dict(self, state: dict) -> None:
        self.imbalance = state.get("imbalance")

    # --- masks ----------------------------------------------------------------------------
    def masks(self, shape, step: int, generator: torch.Generator | None = None,
              device=None) -> torch.Tensor:
        """Boolean mask (B, C, H, W), True = masked; only the spectral channels can be True."""
        b, c, h, w = shape
        cs = self.spectral_channels
        mask = torch.zeros(b, c, h, w, dtype=torch.bool, device=device)
        r_s, p_m = self.ratios(step)
        if r_s <= 0 and p_m <= 0:
            return mask
        groups = max(1, min(self.cfg.band_groups, cs))
        bs = max(1, self.cfg.block_size)
        gh, gw = -(-h // bs), -(-w // bs)
        cells = torch.rand(b, groups, gh, gw, generator=generator) < r_s
        band_group = torch.arange(cs) * groups // cs  # contiguous band groups
        struct = cells[:, band_group].repeat_interleave(bs, 2).repeat_interleave(bs, 3)[:, :, :h, :w]
        sample = (torch.rand(b, generator=generator) < p_m)[:, None, None, None]
        mask[:, :cs] = (struct | sample).to(mask.device)
        return mask

    def apply(self, x: torch.Tensor, step: int, generator: torch.Generator | None = None):
        """Returns (masked x, mask). Masked spectral values become 0; auxiliaries are untouched."""
        mask = self.masks(x.shape, step, generator, x.device)
        return x.masked_fill(mask, 0.0), mask
