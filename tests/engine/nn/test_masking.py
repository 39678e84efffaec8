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


def _steer(mode: str, shares, probes: int = 5, step: int = 10_000, **kw) -> ModalityMasking:
    m = make(mode, **kw)
    for _ in range(probes):
        m.observe_shares(shares, step)
    return m


def test_controller_raises_masking_when_the_spectral_share_is_above_target_and_lowers_it_below():
    base = make().ratios(200)
    assert make().target_share() == pytest.approx(1 / 3)
    more = _steer("adaptive", [0.8, 0.15, 0.05])  # spectral image drives most of the features
    assert more.ratios(200)[0] > base[0] and more.ratios(200)[1] > base[1]
    less = _steer("adaptive", [0.1, 0.5, 0.4])  # auxiliaries drive most of the features
    assert less.ratios(200)[0] < base[0] and less.ratios(200)[1] < base[1]
    even = _steer("adaptive", [1 / 3, 1 / 3, 1 / 3])  # on target: nothing moves
    assert even.ratios(200) == pytest.approx(base)
    huge = _steer("adaptive", [1.0, 0.0, 0.0], probes=50)
    r_s, p_m = huge.ratios(200)
    assert huge.factor() == pytest.approx(huge.cfg.max_factor)
    assert r_s <= huge.cfg.max_structure_ratio and p_m <= huge.cfg.max_sample_ratio
    tiny = _steer("adaptive", [0.0, 0.5, 0.5], probes=50)
    assert tiny.factor() == pytest.approx(tiny.cfg.min_factor)
    assert tiny.ratios(200) == pytest.approx(tiny.floor_ratios())
    fixed = _steer("fixed", [0.8, 0.15, 0.05])
    assert fixed.ratios(200) == pytest.approx(make("fixed").ratios(200)) and fixed.factor() == 1.0
    assert _steer("off", [0.8, 0.15, 0.05]).ratios(200) == (0.0, 0.0)
    warming = _steer("adaptive", [0.8, 0.15, 0.05], step=50)  # during warm-up: measured, not acted on
    assert warming.factor() == 1.0 and warming.share == pytest.approx(0.8)


def test_target_share_is_configurable_and_state_round_trips():
    m = _steer("adaptive", [0.4, 0.3, 0.3], target_share=0.5)  # below a 0.5 target: masking falls
    assert m.factor() < 1.0
    again = make("adaptive", target_share=0.5)
    again.load_state_dict(m.state_dict())
    assert again.factor() == m.factor() and again.share == m.share
    assert m.probe_due(0) and m.probe_due(m.cfg.probe_every) and not m.probe_due(1)


def test_measured_share_is_smoothed():
    m = ModalityMasking(MaskingConfig(ema=0.5), [4, 1])
    assert m.observe_shares([0.8, 0.2], 0) == pytest.approx(0.8)
    assert m.observe_shares([0.4, 0.6], 20) == pytest.approx(0.6)
    assert m.observe_shares([float("nan"), 1.0], 40) == pytest.approx(0.6)
