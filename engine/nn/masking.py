"""Adaptive modality masking of the spectral image (never the auxiliaries) for DDPM pre-training.

Structure mask: random (band group x spatial block) cells of the spectral image, ratio r_s(k).
Sample mask: the whole spectral image of a fraction p_m(k) of the batch.
Masked spectral values are set to 0 (the normalised mean, the same fill as nodata).
Both ratios = base ratio x warm-up(k) x factor, bounded. In adaptive mode the factor is a controller
on the measured **spectral share of the diffusion features** (engine.nn.balance, measured on a fixed
probe batch every `probe_every` iterations by the training loop): once warm-up is over, while the
spectral image drives more than its target share of the features, log(factor) grows in proportion to
the relative excess (and shrinks when below), between min_factor and max_factor. The controller waits
for the end of warm-up because the share of a DDPM that has not learnt anything yet is no signal: at
initialisation the many spectral channels dominate the first convolution (share ~0.86 on the hard
testbed), and acting on that drove the masking to its ceiling before pre-training had begun. An
earlier signal, the ratio of per-modality denoising losses, never signalled dominance on our data and
was retired.
"""
from __future__ import annotations

import math

import torch

from ..normalise import NEUTRAL_FILL
from .config import MaskingConfig


class ModalityMasking:
    def __init__(self, cfg: MaskingConfig, modality_channels: list[int]):
        self.cfg = cfg
        self.spectral_channels = int(modality_channels[0])
        self.n_modalities = len(modality_channels)
        self.share: float | None = None  # smoothed measured spectral share of the features
        self.log_factor = 0.0  # the controller's state (factor = exp(log_factor))

    # --- schedule -------------------------------------------------------------------------
    def warmup(self, step: int) -> float:
        if self.cfg.mode == "fixed":
            return 1.0
        return min(1.0, max(0.0, step / max(1, self.cfg.warmup_iters)))

    def target_share(self) -> float:
        return self.cfg.target_share if self.cfg.target_share > 0 else 1.0 / self.n_modalities

    def factor(self) -> float:
        """Adaptive factor in [min_factor, max_factor]; 1 unless the mode is adaptive."""
        return math.exp(self.log_factor) if self.cfg.mode == "adaptive" else 1.0

    def ratios(self, step: int) -> tuple[float, float]:
        """(r_s, p_m) at iteration `step`."""
        if self.cfg.mode == "off":
            return 0.0, 0.0
        g = self.warmup(step) * self.factor()
        r_s = min(self.cfg.max_structure_ratio, self.cfg.structure_ratio * g)
        p_m = min(self.cfg.max_sample_ratio, self.cfg.sample_ratio * g)
        return r_s, p_m

    def floor_ratios(self) -> tuple[float, float]:
        """(r_s, p_m) after warm-up with the factor on its lower bound."""
        if self.cfg.mode == "off":
            return 0.0, 0.0
        low = self.cfg.min_factor if self.cfg.mode == "adaptive" else 1.0
        return self.cfg.structure_ratio * low, self.cfg.sample_ratio * low

    # --- feedback -------------------------------------------------------------------------
    def probe_due(self, step: int) -> bool:
        """Whether the training loop should measure the shares before this step (every mode logs
        them; only the adaptive mode acts on them)."""
        return self.cfg.probe_every > 0 and step % self.cfg.probe_every == 0

    def observe_shares(self, shares, step: int) -> float | None:
        """Feed the contribution shares measured before iteration `step` (spectral first); returns the
        smoothed spectral share. The factor moves only in adaptive mode and after warm-up."""
        spectral = float(shares[0])
        if not math.isfinite(spectral):
            return self.share
        self.share = spectral if self.share is None else \
            self.cfg.ema * self.share + (1.0 - self.cfg.ema) * spectral
        if self.cfg.mode == "adaptive" and step >= self.cfg.warmup_iters:
            target = self.target_share()
            step = self.cfg.gain * (self.share - target) / target
            low, high = math.log(self.cfg.min_factor), math.log(self.cfg.max_factor)
            self.log_factor = min(high, max(low, self.log_factor + step))
        return self.share

    def state_dict(self) -> dict:
        return {"share": self.share, "log_factor": self.log_factor}

    def load_state_dict(self, state: dict) -> None:
        self.share = state.get("share")
        self.log_factor = float(state.get("log_factor", 0.0))

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
        return x.masked_fill(mask, NEUTRAL_FILL), mask
