"""Multimodal DDPM: tile-local 2-D UNet denoiser, beta schedules, balanced loss, feature extractor.

No normalisation or attention across pixels (only a per-pixel LayerNorm over channels), so a
pixel's features depend only on its neighbourhood within `receptive_radius()`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BDGFConfig, DDPMConfig
from .masking import ModalityMasking


def beta_schedule(cfg: DDPMConfig) -> torch.Tensor:
    if cfg.beta_schedule == "linear":
        return torch.linspace(cfg.beta_start, cfg.beta_end, cfg.T, dtype=torch.float64)
    s = 0.008  # cosine schedule (Nichol & Dhariwal)
    steps = torch.arange(cfg.T + 1, dtype=torch.float64) / cfg.T
    abar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - abar[1:] / abar[:-1]).clamp(max=0.999)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class PixelNorm(nn.Module):
    """LayerNorm over channels at each pixel (no statistics across space)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight[:, None, None] + self.bias[:, None, None]


class ResBlock(nn.Module):
    """norm-SiLU-conv3x3 (+ time) -> norm-SiLU-conv1x1, residual."""

    def __init__(self, cin: int, cout: int, time_dim: int):
        super().__init__()
        self.norm1, self.conv1 = PixelNorm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_dim, cout)
        self.norm2, self.conv2 = PixelNorm(cout), nn.Conv2d(cout, cout, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x))) + self.time(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """Three resolution levels (1, 1/2, 1/4); decoder outputs are the fine/mid/coarse features."""

    def __init__(self, in_channels: int, widths: list[int], time_dim: int):
        super().__init__()
        w0, w1, w2 = widths
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim * 2), nn.SiLU(),
                                      nn.Linear(time_dim * 2, time_dim))
        self.conv_in = nn.Conv2d(in_channels, w0, 3, padding=1)
        self.enc0 = ResBlock(w0, w0, time_dim)
        self.down1 = nn.Conv2d(w0, w0, 3, stride=2, padding=1)
        self.enc1 = ResBlock(w0, w1, time_dim)
        self.down2 = nn.Conv2d(w1, w1, 3, stride=2, padding=1)
        self.enc2 = ResBlock(w1, w2, time_dim)
        self.mid = ResBlock(w2, w2, time_dim)
        self.dec2 = ResBlock(2 * w2, w2, time_dim)
        self.up1 = Upsample(w2)
        self.dec1 = ResBlock(w2 + w1, w1, time_dim)
        self.up0 = Upsample(w1)
        self.dec0 = ResBlock(w1 + w0, w0, time_dim)
        self.norm_out = PixelNorm(w0)
        self.conv_out = nn.Conv2d(w0, in_channels, 3, padding=1)

    @staticmethod
    def stride() -> int:
        return 4

    @staticmethod
    def receptive_radius() -> int:
        """Upper bound (full-res pixels) of how far any output or feature pixel sees, rounded up to
        the stride. Per layer: a 3x3 conv at scale s adds s, a stride-2 conv from scale s adds s,
        a x2 nearest upsample to scale s adds s, a bilinear x f upsample adds f."""
        enc = 1 + 1 + 1 + 2 + 2 + 4 + 4  # conv_in, enc0, down1, enc1, down2, enc2, mid
        coarse = enc + 4  # dec2
        mid = coarse + 2 + 2 + 2  # up1 (nearest + conv), dec1
        fine = mid + 1 + 1 + 1  # up0, dec0
        radius = max(coarse + 4, mid + 2, fine + 1)  # feature upsampling, conv_out
        return -(-radius // 4) * 4

    def features(self, x, t):
        """Returns the decoder levels (fine, mid, coarse) at their own resolution."""
        temb = self.time_mlp(timestep_embedding(t, self.time_dim))
        e0 = self.enc0(self.conv_in(x), temb)
        e1 = self.enc1(self.down1(e0), temb)
        e2 = self.enc2(self.down2(e1), temb)
        m = self.mid(e2, temb)
        c2 = self.dec2(torch.cat([m, e2], 1), temb)
        c1 = self.dec1(torch.cat([self.up1(c2), e1], 1), temb)
        c0 = self.dec0(torch.cat([self.up0(c1), e0], 1), temb)
        return c0, c1, c2

    def forward(self, x, t):
        fine, _, _ = self.features(x, t)
        return self.conv_out(F.silu(self.norm_out(fine)))


def balanced_mse(err2: torch.Tensor, modality_channels: list[int]):
    """Modality-balanced loss from squared errors (B, C, H, W): mean per modality, then mean of
    those. Returns (total, per_modality tensor (M,))."""
    parts = torch.split(err2, list(modality_channels), dim=1)
    per = torch.stack([p.mean() for p in parts])
    return per.mean(), per


class MultimodalDDPM(nn.Module):
    def __init__(self, cfg: BDGFConfig):
        super().__init__()
        self.cfg = cfg
        self.modality_channels = list(cfg.modality_channels)
        self.unet = UNet(cfg.in_channels, cfg.ddpm.widths(), cfg.ddpm.time_dim)
        abar = torch.cumprod(1 - beta_schedule(cfg.ddpm), 0)
        self.register_buffer("sqrt_abar", abar.sqrt().float(), persistent=False)
        self.register_buffer("sqrt_1m_abar", (1 - abar).sqrt().float(), persistent=False)
        self.masking = ModalityMasking(cfg.masking, self.modality_channels)

    @property
    def T(self) -> int:
        return self.cfg.ddpm.T

    def stride(self) -> int:
        return self.unet.stride()

    def receptive_radius(self) -> int:
        return self.unet.receptive_radius()

    def feature_channels(self) -> list[int]:
        return self.cfg.ddpm.feature_channels()

    def q_sample(self, x0, t, noise):
        return self.sqrt_abar[t][:, None, None, None] * x0 + self.sqrt_1m_abar[t][:, None, None, None] * noise

    def loss(self, x, step: int = 0, generator: torch.Generator | None = None):
        """Balanced denoising loss with spectral masking in the forward diffusion.

        Masked spectral values enter the diffusion as 0; the target is the noise relative to the
        *unmasked* image, eps + sqrt(abar)/sqrt(1-abar) * (x_masked - x), so on masked cells the
        denoiser must recover the spectral content from context and auxiliaries. Masked cells are
        weighted 1/max(1, SNR(t)) to keep that target bounded. Returns (total, per-modality losses
        (detached)). The masking ratios are steered by the training loop (ModalityMasking.observe_shares).
        """
        b = x.shape[0]
        t = torch.randint(0, self.T, (b,), generator=generator).to(x.device)
        noise = torch.randn(x.shape, generator=generator).to(x)
        x_in, mask = self.masking.apply(x, step, generator)
        sa = self.sqrt_abar[t][:, None, None, None]
        s1 = self.sqrt_1m_abar[t][:, None, None, None]
        target = noise + sa / s1 * (x_in - x)
        pred = self.unet(sa * x_in + s1 * noise, t)
        err2 = (pred - target).pow(2)
        if mask.any():
            snr = (sa / s1) ** 2
            err2 = torch.where(mask, err2 / snr.clamp(min=1.0), err2)
        total, per = balanced_mse(err2, self.modality_channels)
        return total, per.detach()


class DiffusionFeatureExtractor(nn.Module):
    """forward(x (B, C, H, W), noise (K, C, H, W)) -> (B, F, H, W); see ARCHITECTURE.md."""

    def __init__(self, ddpm: MultimodalDDPM, timesteps: list[int] | None = None):
        super().__init__()
        self.ddpm = ddpm
        ts = list(ddpm.cfg.ddpm.feature_timesteps if timesteps is None else timesteps)
        if any(not 0 <= t < ddpm.T for t in ts):
            raise ValueError(f"timesteps must lie in [0, {ddpm.T}), got {ts}")
        self.timesteps = ts
        self.register_buffer("t", torch.tensor(ts, dtype=torch.long), persistent=False)

    def feature_channels(self) -> list[int]:
        return self.ddpm.feature_channels()

    def stride(self) -> int:
        return self.ddpm.stride()

    def receptive_radius(self) -> int:
        return self.ddpm.receptive_radius()

    def forward(self, x, noise):
        b, c, h, w = x.shape
        k = len(self.timesteps)
        sa = self.ddpm.sqrt_abar[self.t][:, None, None, None]
        s1 = self.ddpm.sqrt_1m_abar[self.t][:, None, None, None]
        xt = (sa * x[:, None] + s1 * noise[None]).reshape(b * k, c, h, w)
        fine, mid, coarse = self.ddpm.unet.features(xt, self.t.repeat(b))
        mid = F.interpolate(mid, scale_factor=2.0, mode="bilinear", align_corners=False)
        coarse = F.interpolate(coarse, scale_factor=4.0, mode="bilinear", align_corners=False)
        feats = torch.cat([fine, mid, coarse], dim=1)
        return feats.reshape(b, k, feats.shape[1], h, w).mean(1)
