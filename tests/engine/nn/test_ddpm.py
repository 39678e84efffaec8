import pytest
import torch

from engine.nn.config import BDGFConfig
from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM, balanced_mse, beta_schedule
from engine.noise import position_noise


def quick(mods=(6, 2, 1), **masking):
    cfg = BDGFConfig.quick(list(mods))
    for k, v in masking.items():
        setattr(cfg.masking, k, v)
    return cfg


def test_balanced_loss_hand_computed():
    err2 = torch.zeros(2, 4, 1, 2)
    err2[:, :3] = 1.0  # spectral modality (3 bands): mean 1
    err2[0, 3] = 4.0  # auxiliary (1 band): mean (4 + 4 + 0 + 0) / 4 = 2
    total, per = balanced_mse(err2, [3, 1])
    assert per.tolist() == [1.0, 2.0]
    assert total.item() == pytest.approx(1.5)
    assert err2.mean().item() == pytest.approx(1.25)  # plain MSE would differ


@pytest.mark.parametrize("mods", [(6, 2), (6, 2, 1), (5, 2, 1, 3)])
def test_ddpm_loss_and_features_shapes(mods):
    cfg = quick(mods)
    torch.manual_seed(0)
    ddpm = MultimodalDDPM(cfg)
    x = torch.randn(3, sum(mods), 16, 16)
    total, per = ddpm.loss(x, step=5)
    assert total.ndim == 0 and per.shape == (len(mods),) and torch.isfinite(total)
    ex = DiffusionFeatureExtractor(ddpm)
    k = len(cfg.ddpm.feature_timesteps)
    feats = ex(x[:1], torch.randn(k, sum(mods), 16, 16))
    assert feats.shape == (1, sum(ex.feature_channels()), 16, 16)
    assert ex.feature_channels() == cfg.ddpm.feature_channels()


def test_gradients_reach_every_ddpm_parameter():
    cfg = quick(mode="fixed")
    torch.manual_seed(0)
    ddpm = MultimodalDDPM(cfg).train()
    total, _ = ddpm.loss(torch.randn(4, 9, 16, 16), step=0, generator=torch.Generator().manual_seed(1))
    total.backward()
    missing = [n for n, p in ddpm.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_same_seed_same_loss():
    def run():
        torch.manual_seed(3)
        ddpm = MultimodalDDPM(quick()).train()
        x = torch.randn(2, 9, 16, 16, generator=torch.Generator().manual_seed(0))
        return ddpm.loss(x, step=50, generator=torch.Generator().manual_seed(5))
    t1, p1 = run()
    t2, p2 = run()
    assert torch.equal(t1, t2) and torch.equal(p1, p2) and len(p1) == 3


def test_schedules_and_no_spatial_normalisation():
    cfg = quick()
    for name in ("linear", "cosine"):
        cfg.ddpm.beta_schedule = name
        b = beta_schedule(cfg.ddpm)
        assert b.shape == (cfg.ddpm.T,) and (b > 0).all() and (b < 1).all()
    ddpm = MultimodalDDPM(cfg)
    banned = (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.InstanceNorm2d, torch.nn.MultiheadAttention)
    assert not any(isinstance(m, banned) for m in ddpm.modules())
    assert ddpm.stride() == 4 and ddpm.receptive_radius() % 4 == 0


def _extractor(seed=0):
    torch.manual_seed(seed)
    ddpm = MultimodalDDPM(quick()).eval()
    with torch.no_grad():  # make every layer matter (random biases too)
        for p in ddpm.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return DiffusionFeatureExtractor(ddpm)


def test_features_do_not_depend_on_the_tile_away_from_the_halo():
    ex = _extractor()
    c, k, r = 9, len(ex.timesteps), ex.receptive_radius()
    scene = torch.randn(1, c, 160, 160, generator=torch.Generator().manual_seed(2))
    seed = 77

    def tile(row0, col0, size):
        noise = torch.from_numpy(position_noise(seed, row0, col0, size, size, c, k))
        with torch.no_grad():
            return ex(scene[:, :, row0:row0 + size, col0:col0 + size], noise)

    a = tile(0, 0, 112)
    b = tile(20, 44, 96)  # origin multiple of the stride
    # global rows/cols at least r from both tiles' borders
    r0, r1 = max(r, 20 + r), min(112 - r, 20 + 96 - r)
    c0, c1 = max(r, 44 + r), min(112 - r, 44 + 96 - r)
    assert r1 > r0 and c1 > c0
    ra, ca = slice(r0, r1), slice(c0, c1)
    rb, cb = slice(r0 - 20, r1 - 20), slice(c0 - 44, c1 - 44)
    assert a[..., ra, ca].abs().mean() > 1e-3
    assert torch.allclose(a[..., ra, ca], b[..., rb, cb], atol=1e-5)
    # near the border (inside the halo) tiles do differ, so the check above is not vacuous
    assert not torch.allclose(a[..., 20:24, 44:48], b[..., 0:4, 0:4], atol=1e-5)


def test_receptive_radius_bounds_the_influence():
    ex = _extractor(1)
    r = ex.receptive_radius()
    size, centre = 2 * r + 24, r + 12
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 9, size, size, generator=g)
    noise = torch.randn(2, 9, size, size, generator=g)
    outside = torch.ones(size, size, dtype=torch.bool)
    outside[centre - r:centre + r + 1, centre - r:centre + r + 1] = False
    x2, n2 = x.clone(), noise.clone()
    x2[..., outside] += 3.0
    n2[..., outside] *= -1.0
    with torch.no_grad():
        f1, f2 = ex(x, noise), ex(x2, n2)
    assert torch.allclose(f1[..., centre, centre], f2[..., centre, centre], atol=1e-6)
    assert not torch.allclose(f1[..., centre - r, centre], f2[..., centre - r, centre], atol=1e-6)
