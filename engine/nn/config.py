"""Network configuration: one JSON-safe dataclass tree for the DDPM and the classifier."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

BRANCHES = ("cnn", "mamba", "transformer")
MASKING_MODES = ("off", "fixed", "adaptive")
# Classifier network versions (docs/METHOD_DECISIONS.md, *Window-shared branches*):
# 1: patch-token branches (engine/nn/branches.py): convs zero-padded at every patch border, P^2 Mamba and
#    Transformer tokens, position embeddings before the projections. Packages made before 2026-12 hold it.
# 2: window-shared branches (engine/nn/branches_window.py): what overlapping patches share is computed
#    once per window pixel; ring tokens for Mamba, every patch pixel a key for the Transformer.
# 3: block tokens (engine/nn/branches_block.py): version 2's CNN; Mamba and Transformer read the means of a
#    3 x 3 grid of blocks of the patch and the centre pixel. New training builds it.
NETWORK_VERSIONS = (1, 2, 3)
NETWORK_VERSION = 3


@dataclass
class DDPMConfig:
    T: int = 500
    beta_schedule: str = "linear"  # "linear" | "cosine"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    base_width: int = 32
    channel_mults: list[int] = field(default_factory=lambda: [1, 2, 2])  # fine, mid, coarse
    time_dim: int = 64
    feature_timesteps: list[int] = field(default_factory=lambda: [50, 150])
    noise_seed: int = 20240917

    def widths(self) -> list[int]:
        return [self.base_width * m for m in self.channel_mults]

    def feature_channels(self) -> list[int]:
        """Channels of the fine, middle and coarse feature levels (in that order)."""
        return self.widths()

    def stride(self) -> int:
        return 2 ** (len(self.channel_mults) - 1)


@dataclass
class MaskingConfig:
    mode: str = "adaptive"  # "off" | "fixed" | "adaptive"
    structure_ratio: float = 0.3  # r_s at the end of warm-up, before adaptation
    sample_ratio: float = 0.1  # p_m at the end of warm-up, before adaptation
    max_structure_ratio: float = 0.75
    max_sample_ratio: float = 0.5
    warmup_iters: int = 2000
    block_size: int = 4  # spatial block side (pixels)
    band_groups: int = 8  # spectral bands are masked in this many contiguous groups
    # adaptive mode: every `probe_every` iterations the spectral share of the diffusion features is
    # measured on a fixed probe batch and the masking factor is steered towards `target_share`
    target_share: float = 0.0  # 0 = an equal share per modality (1/M)
    probe_every: int = 20
    probe_tiles: int = 4
    gain: float = 0.5  # change of log(factor) per probe for a share 100 % above the target
    min_factor: float = 0.25  # bounds of the adaptive factor
    max_factor: float = 2.5
    ema: float = 0.5  # smoothing of the measured spectral share


# Keys earlier versions wrote into model cards; accepted and ignored when a card is read back.
RETIRED_KEYS = {"masking": {"sensitivity"}}


@dataclass
class ClassifierConfig:
    version: int = NETWORK_VERSION  # a card without the key is version 1 (BDGFConfig.from_dict)
    branches: list[str] = field(default_factory=lambda: list(BRANCHES))
    guidance: dict[str, bool] = field(default_factory=lambda: {b: True for b in BRANCHES})
    embed_dim: int = 32
    proj_dim: int = 32  # projected branch feature (for the similarity term)
    d_state: int = 8
    d_conv: int = 4
    expand: int = 2
    mamba_groups: int = 8  # channel groups of the group channel attention
    heads: int = 4
    mlp_ratio: int = 2
    dropout: float = 0.1


@dataclass
class MutualConfig:
    enabled: bool = True
    lambda_kl: float = 0.5
    lambda_ent: float = 0.1
    lambda_sim: float = 0.1


@dataclass
class BDGFConfig:
    modality_channels: list[int] = field(default_factory=lambda: [180, 4, 1])  # spectral first
    n_classes: int = 7
    patch_size: int = 11
    ddpm: DDPMConfig = field(default_factory=DDPMConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    mutual: MutualConfig = field(default_factory=MutualConfig)

    @property
    def in_channels(self) -> int:
        return int(sum(self.modality_channels))

    def feature_channels(self) -> list[int]:
        return self.ddpm.feature_channels()

    def validate(self) -> BDGFConfig:
        if len(self.modality_channels) < 2 or min(self.modality_channels) < 1:
            raise ValueError(f"modality_channels needs >= 2 positive entries, got {self.modality_channels}")
        if self.patch_size % 2 != 1:
            raise ValueError(f"patch_size must be odd, got {self.patch_size}")
        if len(self.ddpm.channel_mults) != 3:
            raise ValueError("ddpm.channel_mults must have 3 levels (fine, mid, coarse)")
        if self.ddpm.beta_schedule not in ("linear", "cosine"):
            raise ValueError(f"unknown beta_schedule {self.ddpm.beta_schedule!r}")
        if any(not 0 <= t < self.ddpm.T for t in self.ddpm.feature_timesteps):
            raise ValueError("feature_timesteps must lie in [0, T)")
        if self.masking.mode not in MASKING_MODES:
            raise ValueError(f"masking.mode must be one of {MASKING_MODES}")
        bad = [b for b in self.classifier.branches if b not in BRANCHES]
        if bad or not self.classifier.branches:
            raise ValueError(f"classifier.branches must be a non-empty subset of {BRANCHES}")
        if self.classifier.version not in NETWORK_VERSIONS:
            raise ValueError(f"classifier.version {self.classifier.version!r} is not one this engine knows "
                             f"{NETWORK_VERSIONS}: the model was made by a newer BDGF; update the plugin")
        if self.classifier.embed_dim % self.classifier.heads or self.classifier.embed_dim % 2:
            raise ValueError("embed_dim must be divisible by heads and even")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BDGFConfig:
        data = dict(data)
        nested = {"ddpm": DDPMConfig, "masking": MaskingConfig, "classifier": ClassifierConfig,
                  "mutual": MutualConfig}
        kwargs = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key not in names:
                raise ValueError(f"unknown BDGFConfig field {key!r}")
            if key in nested:
                sub = nested[key]
                sub_names = {f.name for f in dataclasses.fields(sub)}
                value = {k: v for k, v in value.items() if k not in RETIRED_KEYS.get(key, ())}
                if key == "classifier":
                    # cards written before versions hold the patch-token network
                    value.setdefault("version", 1)
                unknown = set(value) - sub_names
                if unknown:
                    raise ValueError(f"unknown {key} fields {sorted(unknown)}")
                value = sub(**value)
            kwargs[key] = value
        return cls(**kwargs).validate()

    @classmethod
    def default(cls, modality_channels: list[int] | None = None, n_classes: int = 7) -> BDGFConfig:
        return cls(modality_channels=list(modality_channels or [180, 4, 1]), n_classes=n_classes).validate()

    @classmethod
    def quick(cls, modality_channels: list[int] | None = None, n_classes: int = 4) -> BDGFConfig:
        """Tiny preset for tests and CPU smoke runs."""
        return cls(
            modality_channels=list(modality_channels or [6, 2, 1]), n_classes=n_classes, patch_size=7,
            ddpm=DDPMConfig(T=100, base_width=8, channel_mults=[1, 2, 2], time_dim=16,
                            feature_timesteps=[10, 30]),
            masking=MaskingConfig(warmup_iters=10, block_size=2, band_groups=2),
            classifier=ClassifierConfig(embed_dim=16, proj_dim=8, d_state=4, mamba_groups=4, heads=2),
        ).validate()
