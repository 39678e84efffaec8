"""engine.noise: the diffusion noise keyed by the global pixel position (the same values in any tile), its
statistics and speed."""
from __future__ import annotations

import time

import numpy as np

from engine.noise import position_noise


def test_noise_depends_only_on_global_position():
    a = position_noise(11, 96, 200, 40, 48, 5, 2)
    b = position_noise(11, 104, 212, 40, 48, 5, 2)
    assert a.shape == (2, 5, 40, 48) and a.dtype == np.float32
    np.testing.assert_array_equal(a[:, :, 8:, 12:], b[:, :, :32, :36])
    np.testing.assert_array_equal(a, position_noise(11, 96, 200, 40, 48, 5, 2))
    # the first K / C fields do not depend on how many are requested
    np.testing.assert_array_equal(a[:1, :3], position_noise(11, 96, 200, 40, 48, 3, 1))


def test_noise_differs_by_seed_channel_timestep_and_position():
    a = position_noise(1, 0, 0, 32, 32, 3, 2)
    b = position_noise(2, 0, 0, 32, 32, 3, 2)
    assert np.abs(a - b).mean() > 0.5
    for x, y in [(a[0, 0], a[0, 1]), (a[0, 0], a[1, 0]), (a[0, 0, :, :-1], a[0, 0, :, 1:]),
                 (a[0, 0, :-1], a[0, 0, 1:])]:
        assert abs(np.corrcoef(x.ravel(), y.ravel())[0, 1]) < 0.1


def test_noise_is_standard_normal_and_fast():
    t0 = time.perf_counter()
    n = position_noise(20240917, 1000, -500, 160, 160, 185, 2)
    elapsed = time.perf_counter() - t0
    assert n.shape == (2, 185, 160, 160)
    assert abs(float(n.mean())) < 0.01 and abs(float(n.std()) - 1.0) < 0.01
    assert np.isfinite(n).all()
    frac = [float((np.abs(n) < k).mean()) for k in (1, 2, 3)]
    np.testing.assert_allclose(frac, [0.6827, 0.9545, 0.9973], atol=0.005)
    assert elapsed < 3.0  # ~0.25 s on an idle 2-core box; generous for a shared one


