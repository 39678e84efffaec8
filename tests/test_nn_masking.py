import pytest
import torch

from engine.nn.config import MaskingConfig
from engine.nn.masking import ModalityMasking


def make(mode="adaptive", **kw):
    cfg = MaskingConfig(mode=mode, structure_ratio=0.4, sample_ratio=0.2, warmup_iters=100, block_size=2,
                        band_groups=4, ema=0.0, **kw)
    return ModalityMasking(cfg, [8, 2, 1])


def test_warmup_schedule_gives_intended_ratios():
    m = make()
    assert m.ratios(0) == (0.0, 0.0)
    assert m.ratios(50) == pytest.approx((0.2, 0.1))
    assert m.ratios(100) == pytest.approx((0.4, 0.2))
    assert m.ratios(10_000) == pytest.approx((0.4, 0.2))
    assert make("fixed").ratios(0) == pytest.approx((0.4, 0.2))
    assert make("off").ratios(500) == (0.0, 0.0)


def test_masks_hit_the_ratios_and_never_the_auxiliaries():
    m = make("fixed")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 11, 8, 8, generator=g) + 5.0
    xm, mask = m.apply(x, step=0, generator=g)
    assert not mask[:, 8:].any()
    assert torch.equal(xm[:, 8:], x[:, 8:])
    assert torch.all(xm[mask] == 0) and torch.equal(xm[~mask], x[~mask])
    whole = mask[:, :8].flatten(1).all(1)
    assert whole.float().mean().item() == pytest.approx(0.2 + 0.8 * 0.4 ** 32, abs=0.05)
    partial = mask[~whole, :8].float().mean().item()
    assert partial == pytest.approx(0.4, abs=0.03)
    # structure: constant over 2x2 blocks and over groups of 2 bands
    cell = mask[~whole][:, :8].reshape(-1, 4, 2, 4, 2, 4, 2)
    assert torch.equal(cell.amin((2, 4, 6)), cell.amax((2, 4, 6)))


def test_off_mode_masks_nothing():
    x = torch.randn(4, 11, 8, 8)
    xm, mask = make("off").apply(x, step=10_000)
    assert not mask.any() and torch.equal(xm, x)


def test_adaptive_masking_reacts_to_imbalance_in_both_directions():
    base = make().ratios(200)
    more = make()
    more.observe([0.1, 0.3, 0.2])  # auxiliaries modelled worse: spectral dominates
    assert more.ratios(200)[0] > base[0] and more.ratios(200)[1] > base[1]
    less = make()
    less.observe([0.4, 0.1, 0.2])  # auxiliaries modelled better
    assert less.ratios(200)[0] < base[0] and less.ratios(200)[1] < base[1]
    huge = make()
    huge.observe([1e-6, 10.0, 10.0])
    r_s, p_m = huge.ratios(200)
    assert r_s <= huge.cfg.max_structure_ratio and p_m <= huge.cfg.max_sample_ratio
    assert huge.factor() == huge.cfg.max_factor
    fixed = make("fixed")
    fixed.observe([0.1, 0.3, 0.2])
    assert fixed.ratios(200) == pytest.approx(base)


def test_imbalance_signal_is_smoothed():
    cfg = MaskingConfig(ema=0.5)
    m = ModalityMasking(cfg, [4, 1])
    assert m.observe([1.0, 2.0]) == pytest.approx(2.0)
    assert m.observe([1.0, 1.0]) == pytest.approx(1.5)
    assert m.observe([float("nan"), 1.0]) == pytest.approx(1.5)
