"""engine.nn.balance (modality contribution to the diffusion features) and the masking controller it
drives, on DDPMs constructed to depend on one side only."""
import numpy as np
import pytest
import torch

from engine.nn.balance import contribution_shares, feature_change
from engine.nn.config import BDGFConfig
from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM

CHANNELS = [6, 2, 1]


def _extractor(blind_to: str, mode: str = "adaptive") -> DiffusionFeatureExtractor:
    """A quick DDPM whose first convolution ignores the auxiliaries ("aux") or the spectral image."""
    torch.manual_seed(0)
    cfg = BDGFConfig.quick(CHANNELS, 4)
    cfg.masking.mode = mode
    ddpm = MultimodalDDPM(cfg).eval()
    with torch.no_grad():
        weight = ddpm.unet.conv_in.weight
        if blind_to == "aux":
            weight[:, CHANNELS[0]:] = 0
        elif blind_to == "spectral":
            weight[:, :CHANNELS[0]] = 0
    return DiffusionFeatureExtractor(ddpm)


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 9, 16, 16, generator=g), torch.randn(2, 9, 16, 16, generator=g)


def test_feature_change_sees_only_the_modalities_the_network_reads():
    x, noise = _inputs()
    spectral_only = feature_change(_extractor("aux"), x, noise, CHANNELS)
    assert spectral_only.shape == (3, 4)  # 3 modalities x (fine, mid, coarse, all levels)
    assert spectral_only[0].min() > 0.01 and spectral_only[1:].max() == 0.0
    assert contribution_shares(spectral_only[:, -1]) == pytest.approx([1.0, 0.0, 0.0])
    aux_only = feature_change(_extractor("spectral"), x, noise, CHANNELS)
    assert aux_only[0].max() == 0.0 and aux_only[1:, -1].min() > 0.001
    both = contribution_shares(feature_change(_extractor("none"), x, noise, CHANNELS)[:, -1])
    assert both.sum() == pytest.approx(1.0) and both.min() > 0


def test_the_valid_mask_selects_the_pixels_measured():
    x, noise = _inputs()
    ext = _extractor("none")
    everything = feature_change(ext, x, noise, CHANNELS)
    all_valid = torch.ones(2, 16, 16, dtype=torch.bool)
    assert np.array_equal(everything, feature_change(ext, x, noise, CHANNELS, all_valid))
    valid = torch.ones(2, 16, 16, dtype=torch.bool)
    valid[:, :, 8:] = False
    half = feature_change(ext, x, noise, CHANNELS, valid)
    assert not np.allclose(half, everything)
    x_out = x.clone()
    x_out[:, :, :, 8:] = 1e3  # huge values on invalid pixels: they must not enter the fill means
    shares = contribution_shares(feature_change(ext, x_out, noise, CHANNELS, valid)[:, -1])
    assert np.isfinite(shares).all() and shares.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("blind_to, direction", [("aux", +1), ("spectral", -1)])
def test_controller_on_a_constructed_ddpm_moves_the_masking_the_right_way(blind_to, direction):
    x, noise = _inputs()
    ext = _extractor(blind_to)
    masking = ext.ddpm.masking
    before = masking.ratios(10_000)
    for _ in range(5):
        shares = contribution_shares(feature_change(ext, x, noise, CHANNELS)[:, -1])
        masking.observe_shares(shares, 10_000)
    after = masking.ratios(10_000)
    assert np.sign(after[0] - before[0]) == direction and np.sign(after[1] - before[1]) == direction
    fixed = _extractor(blind_to, mode="fixed")
    still = fixed.ddpm.masking.ratios(10_000)
    shares = contribution_shares(feature_change(fixed, x, noise, CHANNELS)[:, -1])
    fixed.ddpm.masking.observe_shares(shares, 10_000)
    assert fixed.ddpm.masking.ratios(10_000) == still
