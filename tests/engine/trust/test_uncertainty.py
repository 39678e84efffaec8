"""engine.trust.uncertainty: normalised entropy, branch disagreement (Jensen-Shannon divergence over its
largest value) and branch agreement, checked against values computed by hand."""
from __future__ import annotations

import math

import numpy as np

from engine.trust.uncertainty import (
    branch_agreement,
    branch_disagreement,
    disagreement_scale,
    normalised_entropy,
)


def test_normalised_entropy_by_hand():
    probs = np.array([[1.0, 0.25, 0.5], [0.0, 0.25, 0.5], [0.0, 0.25, 0.0], [0.0, 0.25, 0.0]])  # 4 classes
    h = normalised_entropy(probs)
    assert h.dtype == np.float32 and h.shape == (3,)
    np.testing.assert_allclose(h, [0.0, 1.0, 0.5], atol=1e-7)  # one class, uniform, two of four: ln 2 / ln 4
    assert (normalised_entropy(np.ones((1, 2, 2))) == 0).all()  # a one-class model is never uncertain


def test_branch_disagreement_by_hand_separates_shared_doubt_from_conflict():
    even, trees, water = [0.5, 0.5], [1.0, 0.0], [0.0, 1.0]
    pixels = [(even, even), (trees, water), (even, trees)]  # shared doubt, conflict, half
    branch_probs = np.array(pixels).transpose(1, 2, 0)  # (2 branches, 2 classes, 3 pixels)
    mean = np.array([0.75, 0.25])
    jsd = -(mean * np.log(mean)).sum() - 0.5 * math.log(2)  # H(mean) - mean of H(p_i)
    np.testing.assert_allclose(branch_disagreement(branch_probs), [0.0, 1.0, jsd / math.log(2)], atol=1e-6)
    assert disagreement_scale(3, 2) == math.log(2) and disagreement_scale(3, 6) == math.log(3)
    three = np.eye(3)[:, :, None]  # three branches each certain of another of 3 classes: the largest JSD
    assert branch_disagreement(three)[0] == np.float32(1.0)
    assert (branch_disagreement(branch_probs[:1]) == 0).all()  # one branch: nothing to disagree with


def test_branch_agreement_is_the_share_of_branches_ranking_the_fused_class_first():
    branch_probs = np.array([[[0.6, 0.1], [0.4, 0.9]],  # branch 0: class 0, class 1
                             [[0.2, 0.3], [0.8, 0.7]],  # branch 1: class 1, class 1
                             [[0.7, 0.2], [0.3, 0.8]]])  # branch 2: class 0, class 1
    fused = np.array([0, 1])
    np.testing.assert_allclose(branch_agreement(branch_probs, fused), [2 / 3, 1.0])
    np.testing.assert_allclose(branch_agreement(branch_probs, np.array([1, 0])), [1 / 3, 0.0])
