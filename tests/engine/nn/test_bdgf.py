"""engine.nn.bdgf: BDGFClassifier's shapes, gradients, seeding, guidance switch, branch subsets and
features of another DDPM (the spiral orders: test_branches.py)."""
import pytest
import torch

from engine.nn.bdgf import BDGFClassifier
from engine.nn.config import BDGFConfig
from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
from engine.nn.losses import mutual_learning_loss


def batch(cfg, b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = cfg.patch_size
    return (torch.randn(b, cfg.in_channels, p, p, generator=g),
            torch.randn(b, sum(cfg.feature_channels()), p, p, generator=g))


@pytest.mark.parametrize("mods", [(6, 2), (6, 2, 1), (5, 2, 1, 3)])
def test_classifier_shapes(mods):
    cfg = BDGFConfig.quick(list(mods), n_classes=5)
    torch.manual_seed(0)
    model = BDGFClassifier(cfg).eval()
    x, d = batch(cfg, b=3)
    probs = model(x, d)
    assert probs.shape == (3, 5)
    assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-6)
    out = model.forward_train(x, d)
    assert len(out["logits"]) == len(out["features"]) == 3
    assert all(lg.shape == (3, 5) for lg in out["logits"])
    assert all(f.shape == (3, cfg.classifier.proj_dim) for f in out["features"])
    assert torch.allclose(out["probs"], probs, atol=1e-6)


def test_gradients_reach_every_classifier_parameter():
    cfg = BDGFConfig.quick()
    torch.manual_seed(0)
    model = BDGFClassifier(cfg).train()
    x, d = batch(cfg, b=6)
    out = model.forward_train(x, d)
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    total, _ = mutual_learning_loss(out["logits"], out["features"], target, cfg.mutual)
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_same_seed_same_outputs():
    cfg = BDGFConfig.quick()
    outs = []
    for _ in range(2):
        torch.manual_seed(42)
        model = BDGFClassifier(cfg).eval()
        outs.append(model(*batch(cfg)))
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(43)
    assert not torch.allclose(BDGFClassifier(cfg).eval()(*batch(cfg)), outs[0])


@pytest.mark.parametrize("branch", ["cnn", "mamba", "transformer"])
def test_guidance_switch(branch):
    cfg = BDGFConfig.quick()
    cfg.classifier.branches = [branch]
    x, d = batch(cfg)
    torch.manual_seed(0)
    guided = BDGFClassifier(cfg).eval()
    assert not torch.allclose(guided(x, d), guided(x, d * 2 + 1), atol=1e-5)
    cfg.classifier.guidance[branch] = False
    unguided = BDGFClassifier(cfg).eval()
    assert torch.equal(unguided(x, d), unguided(x, torch.randn_like(d)))
    assert sum(p.numel() for p in unguided.parameters()) < sum(p.numel() for p in guided.parameters())


def test_branch_subsets():
    for branches in (["cnn"], ["mamba", "transformer"], ["cnn", "mamba", "transformer"]):
        cfg = BDGFConfig.quick()
        cfg.classifier.branches = branches
        out = BDGFClassifier(cfg).forward_train(*batch(cfg))
        assert len(out["logits"]) == len(branches)


def test_cross_model_features_plug_in():
    cfg = BDGFConfig.quick()
    torch.manual_seed(0)
    classifier = BDGFClassifier(cfg).eval()
    other = BDGFConfig.quick()  # a differently trained / configured DDPM with the same levels
    other.ddpm.T, other.ddpm.beta_schedule, other.ddpm.time_dim = 200, "cosine", 32
    other.ddpm.feature_timesteps, other.ddpm.noise_seed = [5, 60, 120], 1
    ex = DiffusionFeatureExtractor(MultimodalDDPM(other)).eval()
    assert classifier.accepts(ex.feature_channels())
    x = torch.randn(1, cfg.in_channels, 16, 16)
    with torch.no_grad():
        feats = ex(x, torch.randn(3, cfg.in_channels, 16, 16))
    p = cfg.patch_size
    probs = classifier(x[..., :p, :p], feats[..., :p, :p])
    assert probs.shape == (1, cfg.n_classes) and torch.isfinite(probs).all()
    wider = BDGFConfig.quick()
    wider.ddpm.base_width = 12
    assert not classifier.accepts(MultimodalDDPM(wider).feature_channels())
