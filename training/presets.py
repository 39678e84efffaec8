"""Presets: network size and hyper-parameters; the config's [network] / [training] override them."""
from __future__ import annotations

import dataclasses

from engine.nn.config import BDGFConfig
from training.config import TrainingConfig

PRESETS = ("quick", "default")


def preset(name: str, modality_channels: list[int], n_classes: int) -> tuple[BDGFConfig, TrainingConfig]:
    if name == "quick":  # tiny: the test scene in well under a minute on 2 CPU cores
        net = BDGFConfig.quick(modality_channels, n_classes)
        net.patch_size = 5  # small patches generalise better from a few sparse training blobs
        net.masking = dataclasses.replace(net.masking, warmup_iters=100)
        train = TrainingConfig(tile_size=32, ddpm_steps=240, ddpm_batch=8, ddpm_tile=32, ddpm_lr=3e-3,
                               epochs=40, batch_size=16, lr=2e-3, weight_decay=1e-4, val_fraction=0.2,
                               tsne_points=400)
        return net, train
    if name == "default":
        net = BDGFConfig.default(modality_channels, n_classes)
        train = TrainingConfig(tile_size=128, ddpm_steps=4000, ddpm_batch=8, ddpm_tile=64, ddpm_lr=1e-3,
                               epochs=60, batch_size=64, lr=1e-3)
        net.masking = dataclasses.replace(net.masking, warmup_iters=min(2000, train.ddpm_steps // 2))
        return net, train
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
