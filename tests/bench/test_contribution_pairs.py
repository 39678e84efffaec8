"""bench.contribution_pairs' measures on hand-made probabilities (the benchmark itself trains models)."""
import numpy as np

from bench.contribution_pairs import measure


def test_drop_and_pair_drop_of_each_group():
    # 4 pixels, classes 1..4: (1, 2) an aux-only pair, (3, 4) a spectral-only pair
    meta = {"aux_only_pairs": [[1, 2]], "spectral_only_pairs": [[3, 4]]}
    truth = np.array([[1, 2, 3, 4]])
    full = np.array([[.8, .1, .0, .0], [.1, .8, .0, .0], [.1, .1, .9, .2], [.0, .0, .1, .8]])[:, None, :]
    # filling "x": p(c) of the aux-only pixels falls to 0.4 while their partner's stays 0.1 (pair kept);
    # the spectral-only pixels lose their class to the partner (0.5 / 0.5)
    x = np.array([[.4, .1, .0, .0], [.1, .4, .0, .0], [.2, .2, .5, .5], [.3, .3, .5, .5]])[:, None, :]
    out = measure(full, {"x": x}, np.ones((1, 4), bool), truth, meta, [1, 2, 3, 4])
    aux, spectral = out["aux_only"], out["spectral_only"]
    assert aux["pixels"] == spectral["pixels"] == 2
    assert np.isclose(aux["x"]["drop"], 0.4)
    assert np.isclose(aux["x"]["pair_drop"], 0.8 / 0.9 - 0.4 / 0.5)
    q0 = (0.9 / 1.0 + 0.8 / 1.0) / 2
    assert np.isclose(spectral["x"]["pair_drop"], q0 - 0.5)
    assert np.isclose(spectral["x"]["drop"], (0.4 + 0.3) / 2)
