"""Presets: network size and hyper-parameters; the config's [network] / [training] override them.

- quick: tests, CI and the demo (seconds to a minute on 2 CPU cores for a small scene);
- cpu: the best accuracy a 2-core CPU reaches in about 15 minutes on a 100,000-pixel scene with ~70
  bands (timed in the README); the default of `python -m training.run`;
- paper: close to the paper's size (about 4.3 M parameters at Augsburg shapes, 180 + 4 + 1 bands,
  7 classes), meant for a GPU (`--device cuda`).
"""
from __future__ import annotations

import dataclasses

from engine.nn.config import BDGFConfig
from training.config import TrainingConfig

PRESETS = ("quick", "cpu", "paper")
# The few-label recipe (issue 17; docs/bench/scarcity.md measures it against the plain recipe): at least
# 600 classifier steps however few the labels, no validation split below 25 labels in some class, one
# round of self-training on branch-agreeing confident pixels. On a well-labelled scene it changes nothing
# but the self-training round (min_steps is reached by the epochs alone, the validation split is kept).
# Modality dropout (issue 15): a model that has seen patches without each auxiliary modality can classify
# when that layer is missing, and its card states how well (metrics.missing_modality).
MODALITY_DROPOUT = 0.15
FEW_LABELS = {"min_steps": 600, "val_min_per_class": 25, "pseudo_rounds": 1, "pseudo_per_class": 50,
              "pseudo_threshold": 0.9}


def preset(name: str, modality_channels: list[int], n_classes: int) -> tuple[BDGFConfig, TrainingConfig]:
    if name == "quick":
        net = BDGFConfig.quick(modality_channels, n_classes)
        net.patch_size = 5  # small patches generalise better from a few sparse training blobs
        net.masking = dataclasses.replace(net.masking, warmup_iters=100)
        train = TrainingConfig(tile_size=32, ddpm_steps=240, ddpm_batch=8, ddpm_tile=32, ddpm_lr=3e-3,
                               epochs=40, batch_size=16, lr=2e-3, weight_decay=1e-4, val_fraction=0.2,
                               tsne_points=400, modality_dropout=MODALITY_DROPOUT, **FEW_LABELS)
        return net, train
    if name == "cpu":
        net = BDGFConfig.default(modality_channels, n_classes)
        net.patch_size = 9
        net.ddpm = dataclasses.replace(net.ddpm, base_width=24)
        train = TrainingConfig(tile_size=128, ddpm_steps=1200, ddpm_batch=8, ddpm_tile=32, ddpm_lr=2e-3,
                               epochs=40, batch_size=32, lr=1e-3, tsne_points=500, eval_stride=2,
                               eval_test_pixels=10000, modality_dropout=MODALITY_DROPOUT, **FEW_LABELS)
        net.masking = dataclasses.replace(net.masking, warmup_iters=300, probe_every=25)
        return net, train
    if name == "paper":
        net = BDGFConfig.default(modality_channels, n_classes)
        net.ddpm = dataclasses.replace(net.ddpm, base_width=80, time_dim=128)
        net.classifier = dataclasses.replace(net.classifier, embed_dim=112, proj_dim=64, d_state=16, heads=8)
        train = TrainingConfig(tile_size=128, ddpm_steps=8000, ddpm_batch=16, ddpm_tile=64, ddpm_lr=1e-3,
                               epochs=80, batch_size=64, lr=1e-3, modality_dropout=MODALITY_DROPOUT,
                               **FEW_LABELS)
        net.masking = dataclasses.replace(net.masking, warmup_iters=2000, probe_every=50)
        return net, train
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
