"""The few-label recipe (min_steps, no validation split below val_min_per_class, self-training) and
modality dropout's inputs, on real tensors and a real (small) BDGF classifier."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from engine.nn.bdgf import BDGFClassifier
from engine.nn.config import BDGFConfig
from training.config import TrainingConfig
from training.context import make_context
from training.prepare import statistics_pixels
from training.pseudo_labels import branches_agree, select_pseudo_labels
from training.splits import validation_fraction
from training.stage_classifier import PatchSource, dropout_variants, epoch_repeats


def test_epoch_repeats_reach_min_steps_only_when_needed():
    tcfg = TrainingConfig(batch_size=32, epochs=40, min_steps=600)
    assert epoch_repeats(80, tcfg) == 5  # 3 steps per pass x 40 epochs = 120 < 600
    assert 3 * 40 * epoch_repeats(80, tcfg) >= 600
    assert epoch_repeats(10_000, tcfg) == 1  # 313 steps per epoch: epochs alone suffice
    assert epoch_repeats(80, dataclasses.replace(tcfg, min_steps=0)) == 1
    assert epoch_repeats(80, tcfg, world=2) == 8  # 40 pixels = 2 steps per pass on each of 2 ranks


def test_validation_split_dropped_below_val_min_per_class():
    train = np.full((20, 20), -1, np.int16)
    train.ravel()[:30] = 0
    train.ravel()[100:103] = 1  # class 1 has 3 labels
    tcfg = TrainingConfig(val_fraction=0.2, val_min_per_class=25)
    assert validation_fraction(train, tcfg) == 0.0
    train.ravel()[100:130] = 1
    assert validation_fraction(train, tcfg) == 0.2
    assert validation_fraction(train, dataclasses.replace(tcfg, val_min_per_class=0)) == 0.2


def test_statistics_pixels_ignore_labels_and_sample_seeded():
    valid = np.ones((400, 400), bool)
    valid[:10] = False
    a, b = statistics_pixels(valid, limit=5000), statistics_pixels(valid, limit=5000)
    assert len(a) == 5000 and np.array_equal(a, b) and valid.ravel()[a].all()
    assert len(statistics_pixels(valid[:50, :50])) == int(valid[:50, :50].sum())


def _scene(seed=0, h=24, w=28, c=(6, 2, 1), feats=12):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(sum(c), h, w)).astype(np.float32)
    d = rng.normal(size=(feats, h + 8, w + 8)).astype(np.float16)
    return x, d


def _classifier(n_classes=3, patch=9, feats=12):
    cfg = BDGFConfig.quick([6, 2, 1], n_classes)
    cfg.patch_size = patch
    torch.manual_seed(0)
    model = BDGFClassifier(cfg)
    assert sum(model.feature_channels) > 0
    return model


def test_patch_source_variants_fill_the_missing_modality_and_take_its_features():
    model = _classifier()
    feats_n = sum(model.feature_channels)
    x, _ = _scene(feats=feats_n)
    rng = np.random.default_rng(1)
    d = rng.normal(size=(feats_n, 24 + 8, 28 + 8)).astype(np.float16)
    d_sar = rng.normal(size=d.shape).astype(np.float16)
    source = PatchSource(x, d, 9, torch.device("cpu"), [(slice(6, 8), d_sar)])
    flat = torch.tensor([0, 100, 300, 650])
    variant = torch.tensor([0, 1, 0, 1])
    xp, dp = source.get(flat, variant)
    x0, d0 = source.get(flat)
    assert torch.equal(xp[variant == 0], x0[variant == 0]) and torch.equal(dp[variant == 0], d0[variant == 0])
    assert (xp[variant == 1][:, 6:8] == 0).all()
    assert torch.equal(xp[variant == 1][:, :6], x0[variant == 1][:, :6])
    assert torch.equal(xp[variant == 1][:, 8:], x0[variant == 1][:, 8:])
    ref = PatchSource(x, d_sar, 9, torch.device("cpu")).get(flat)[1]
    assert torch.equal(dp[variant == 1], ref[variant == 1])


def test_dropout_variants_rate_and_off_switch():
    model = _classifier()
    x, _ = _scene()
    d = np.zeros((sum(model.feature_channels), 32, 36), np.float16)
    source = PatchSource(x, d, 9, torch.device("cpu"), [(slice(6, 8), d), (slice(8, 9), d)])
    gen = torch.Generator().manual_seed(0)
    v = dropout_variants(20000, source, TrainingConfig(modality_dropout=0.3), gen, torch.device("cpu"))
    assert abs(float((v > 0).float().mean()) - 0.3) < 0.02
    assert set(v.unique().tolist()) == {0, 1, 2}
    assert dropout_variants(10, source, TrainingConfig(modality_dropout=0.0), gen, torch.device("cpu")) == 0


def test_pseudo_labels_agree_across_branches_are_confident_unlabelled_and_capped(tmp_path):
    model = _classifier(n_classes=3)
    feats_n = sum(model.feature_channels)
    x, _ = _scene(feats=feats_n)
    d = np.random.default_rng(2).normal(size=(feats_n, 32, 36)).astype(np.float16)
    source = PatchSource(x, d, 9, torch.device("cpu"))
    ctx = make_context("cpu")
    valid = np.ones((24, 28), bool)
    valid[:, :3] = False
    train = np.full((24, 28), -1, np.int16)
    train[5, 5], train[10, 10], train[15, 15] = 0, 1, 2
    all_flat = np.flatnonzero(valid.ravel() & (train.ravel() < 0))
    probs, agree = branches_agree(ctx, model, source, all_flat)
    threshold = float(np.quantile(probs.max(1), 0.3))
    tcfg = TrainingConfig(pseudo_per_class=7, pseudo_threshold=threshold)
    got = select_pseudo_labels(ctx, model, source, valid, train, tcfg, seed=3)
    ok = agree & (probs.max(1) >= threshold)
    eligible = dict(zip(all_flat[ok].tolist(), probs.argmax(1)[ok].tolist()))
    assert got.confident == int(ok.sum()) and got.candidates == len(all_flat)
    assert len(got.flat) > 0
    for f, k in zip(got.flat.tolist(), got.classes.tolist()):
        assert eligible[f] == k  # confident, branch-agreeing, labelled with the fused class
    assert not np.isin(got.flat, np.flatnonzero(train.ravel() >= 0)).any()
    assert valid.ravel()[got.flat].all()
    available = np.bincount(list(eligible.values()), minlength=3)
    assert got.per_class == np.minimum(available, 7).tolist()
    again = select_pseudo_labels(ctx, model, source, valid, train, tcfg, seed=3)
    assert np.array_equal(again.flat, got.flat)


def test_spectral_dropout_uses_the_spectral_variant_and_keeps_the_auxiliary_draws():
    model = _classifier()
    x, _ = _scene()
    d = np.zeros((sum(model.feature_channels), 32, 36), np.float16)
    missing = [(slice(6, 8), d), (slice(8, 9), d)]
    aux_only = PatchSource(x, d, 9, torch.device("cpu"), missing)
    with_spectral = PatchSource(x, d, 9, torch.device("cpu"), missing + [(slice(0, 6), d)],
                                spectral_variant=3)
    tcfg = TrainingConfig(modality_dropout=0.2, spectral_dropout=0.1)
    a = dropout_variants(20000, aux_only, tcfg, torch.Generator().manual_seed(5), torch.device("cpu"))
    b = dropout_variants(20000, with_spectral, tcfg, torch.Generator().manual_seed(5), torch.device("cpu"))
    assert torch.equal(a[a > 0], b[a > 0])  # the auxiliary draws are the same
    assert abs(float((b == 3).float().mean()) - 0.1) < 0.015 and not (a == 3).any()
    xp, _ = with_spectral.get(torch.tensor([40, 41]), torch.tensor([3, 0]))
    assert (xp[0, :6] == 0).all() and (xp[1, :6] != 0).any()
