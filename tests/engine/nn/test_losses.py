import math

import pytest
import torch
import torch.nn.functional as F

from engine.nn.config import MutualConfig
from engine.nn.losses import mutual_learning_loss


def test_mutual_loss_parts_hand_computed():
    la = torch.tensor([[2.0, 0.0]])
    lb = torch.tensor([[0.0, 0.0]])
    fa, fb = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    y = torch.tensor([0])
    cfg = MutualConfig(lambda_kl=0.5, lambda_ent=0.1, lambda_sim=0.2)
    total, parts = mutual_learning_loss([la, lb], [fa, fb], y, cfg)
    pa = torch.softmax(la, 1)[0]
    ce = F.cross_entropy(la, y) + F.cross_entropy(lb, y)
    kl_ab = float((pa * (pa / 0.5).log()).sum())  # KL(p_a || p_b)
    kl_ba = float((0.5 * (0.5 / pa).log()).sum())
    ent_a = float(-(pa * pa.log()).sum())
    sim = 1 - 1 / math.sqrt(2)
    assert parts["ce"].item() == pytest.approx(ce.item(), rel=1e-6)
    assert parts["kl"].item() == pytest.approx((kl_ab + kl_ba) / 2, rel=1e-5)
    assert parts["ent"].item() == pytest.approx(math.log(2) - ent_a, rel=1e-5)
    assert parts["sim"].item() == pytest.approx(sim, rel=1e-5)
    expected = ce.item() + 0.5 * (kl_ab + kl_ba) / 2 + 0.1 * (math.log(2) - ent_a) + 0.2 * sim
    assert total.item() == pytest.approx(expected, rel=1e-5)


def test_mutual_learning_off_is_plain_cross_entropy_sum():
    torch.manual_seed(0)
    logits = [torch.randn(5, 3, requires_grad=True) for _ in range(3)]
    feats = [torch.randn(5, 4) for _ in range(3)]
    y = torch.randint(0, 3, (5,))
    total, parts = mutual_learning_loss(logits, feats, y, MutualConfig(enabled=False))
    assert total.item() == pytest.approx(sum(F.cross_entropy(lg, y) for lg in logits).item())
    on, _ = mutual_learning_loss(logits, feats, y, MutualConfig())
    assert on.item() > total.item()


def test_kl_pulls_each_branch_toward_detached_others_only():
    la = torch.tensor([[1.0, -1.0]], requires_grad=True)
    lb = torch.tensor([[-1.0, 1.0]], requires_grad=True)
    y = torch.tensor([0])
    feats = [torch.ones(1, 2)] * 2
    cfg = MutualConfig(lambda_kl=1.0, lambda_ent=0.0, lambda_sim=0.0)
    total, _ = mutual_learning_loss([la, lb], feats, y, cfg)
    g_total = torch.autograd.grad(total, [la, lb])
    ce, _ = mutual_learning_loss([la, lb], feats, y, MutualConfig(enabled=False))
    g_ce = torch.autograd.grad(ce, [la, lb])
    pa, pb = torch.softmax(la, 1).detach(), torch.softmax(lb, 1).detach()
    # with the other branch detached, d KL(p_b || p_a) / d logits_a = p_a - p_b (mean over 2 terms)
    assert torch.allclose(g_total[0] - g_ce[0], (pa - pb) / 2, atol=1e-6)
    assert torch.allclose(g_total[1] - g_ce[1], (pb - pa) / 2, atol=1e-6)
    _, p = mutual_learning_loss([la, la], feats, y, cfg)
    assert p["kl"].item() == pytest.approx(0.0, abs=1e-7)
