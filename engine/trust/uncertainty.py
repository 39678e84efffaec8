"""Uncertainty of a pixel's class, from the probabilities the classifier already computes (numpy only).

Three measures, each on 0..1 (README, "Trust outputs"):

- entropy: the Shannon entropy of the fused class probabilities p (the mean of the branch softmaxes)
  divided by log(n_classes): 0 when one class has all the probability, 1 when every class is equally
  likely. Any package gives it.
- branch disagreement: the Jensen-Shannon divergence of the M branch softmaxes p_1..p_M with equal
  weights, JSD = H(mean_i p_i) - mean_i H(p_i), divided by log(min(M, n_classes)), the largest value it
  can take (branches certain of different classes): 0 when the branches give the same probabilities,
  whatever they are. It separates "the branches agree that the pixel is ambiguous" (high entropy, low
  disagreement) from "each branch is sure, of a different class" (high both).
- branch agreement: the share of branches whose most likely class is the fused class (0 .. 1: the
  mean of the softmaxes can favour a class no branch ranks first); high = trustworthy, the opposite
  sense of the other two.

The last two need each branch's probabilities: packages whose graphs give them (the card's capability
`branch_probabilities`); `engine.model.card.check_request` refuses them for other packages before any work.

    h = normalised_entropy(probs)                 # probs (n_classes, ...) -> (...)
    jsd = branch_disagreement(branch_probs)       # (n_branches, n_classes, ...) -> (...)
    share = branch_agreement(branch_probs, probs.argmax(0))
"""
from __future__ import annotations

import math

import numpy as np


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Shannon entropy (nats) along `axis`, 0 log 0 = 0; float64."""
    p = np.clip(np.asarray(p, np.float64), 0.0, None)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=axis)


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """H(p) / log(n_classes) over axis 0 of `probs` (n_classes, ...), clipped to 0..1, float32; 0 for a
    one-class model."""
    k = probs.shape[0]
    if k < 2:
        return np.zeros(probs.shape[1:], np.float32)
    return np.clip(_entropy(probs, 0) / math.log(k), 0.0, 1.0).astype(np.float32)


def disagreement_scale(n_branches: int, n_classes: int) -> float:
    """The largest Jensen-Shannon divergence of n_branches distributions over n_classes (equal weights):
    log(min(n_branches, n_classes)), reached when the branches are certain of different classes."""
    return math.log(min(n_branches, n_classes))


def branch_disagreement(branch_probs: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence of the branch softmaxes (n_branches, n_classes, ...) over axis 0, divided
    by `disagreement_scale`, clipped to 0..1, float32."""
    m, k = branch_probs.shape[:2]
    if m < 2 or k < 2:
        return np.zeros(branch_probs.shape[2:], np.float32)
    p = np.asarray(branch_probs, np.float64)
    jsd = _entropy(p.mean(0), 0) - _entropy(p, 1).mean(0)
    return np.clip(jsd / disagreement_scale(m, k), 0.0, 1.0).astype(np.float32)


def branch_agreement(branch_probs: np.ndarray, fused_class: np.ndarray) -> np.ndarray:
    """Share of branches (axis 0 of (n_branches, n_classes, ...)) whose argmax is `fused_class` (...),
    float32."""
    return (branch_probs.argmax(1) == fused_class[None]).mean(0).astype(np.float32)
