"""training.baselines' spatial-spectral features: the 5 x 5 mean counts valid pixels only."""
from __future__ import annotations

import numpy as np

from training.baselines import window_means


def test_window_means_leave_nodata_and_the_scene_edge_out():
    rng = np.random.default_rng(0)
    stack = rng.normal(size=(2, 9, 11)).astype(np.float32)
    valid = np.ones((9, 11), bool)
    valid[4, 5] = False
    stack[:, 4, 5] = 1e6  # a nodata value that would dominate any mean reading it
    out = window_means(stack, valid)
    # inside: the mean of the 24 valid pixels of the 5 x 5 window around (4, 6), (4, 5) left out
    box = stack[:, 2:7, 4:9].reshape(2, -1)
    keep = valid[2:7, 4:9].reshape(-1)
    assert np.allclose(out[:, 4, 6], box[:, keep].mean(1), atol=1e-5)
    # a corner: only the 3 x 3 pixels of the window inside the scene count
    assert np.allclose(out[:, 0, 0], stack[:, :3, :3].reshape(2, -1).mean(1), atol=1e-5)
    assert np.abs(out).max() < 10  # the nodata value never enters a mean
    # no valid pixel in the window: 0
    assert np.all(window_means(stack, np.zeros_like(valid)) == 0)
