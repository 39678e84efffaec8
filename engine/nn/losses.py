"""Mutual-learning loss over the branches of BDGFClassifier.forward_train."""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from .config import MutualConfig


def _entropy(logp: torch.Tensor) -> torch.Tensor:
    return -(logp.exp() * logp).sum(1).mean()


def mutual_learning_loss(logits: list[torch.Tensor], features: list[torch.Tensor], target: torch.Tensor,
                         cfg: MutualConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """total = sum_b CE_b + lambda_kl * KL + lambda_ent * ENT + lambda_sim * SIM, where
    KL  = mean over branches b of mean over others o of KL(p_o.detach() || p_b)   (each toward the
          detached others; summed over b this is symmetric),
    ENT = mean over branch pairs of |H(p_a) - H(p_b)|  (mean prediction entropies),
    SIM = mean over branch pairs of 1 - cos(f_a, f_b)  (projected features, mean over the batch).
    With mutual learning disabled, or one branch, only the cross-entropies remain.
    Returns (total, parts) with parts ce, kl, ent, sim (detached)."""
    ce = sum(F.cross_entropy(lg, target) for lg in logits)
    zero = ce.new_zeros(())
    kl = ent = sim = zero
    n = len(logits)
    if cfg.enabled and n > 1:
        logps = [F.log_softmax(lg, dim=1) for lg in logits]
        kl = sum(F.kl_div(logps[b], logps[o].detach(), log_target=True, reduction="batchmean")
                 for b in range(n) for o in range(n) if o != b) / (n * (n - 1))
        pairs = list(itertools.combinations(range(n), 2))
        ents = [_entropy(lp) for lp in logps]
        ent = sum((ents[a] - ents[b]).abs() for a, b in pairs) / len(pairs)
        cos = [F.cosine_similarity(features[a], features[b], dim=1).mean() for a, b in pairs]
        sim = sum(1 - c for c in cos) / len(pairs)
    total = ce
    if cfg.enabled:
        total = total + cfg.lambda_kl * kl + cfg.lambda_ent * ent + cfg.lambda_sim * sim
    parts = {"ce": ce.detach(), "kl": kl.detach(), "ent": ent.detach(), "sim": sim.detach()}
    return total, parts
