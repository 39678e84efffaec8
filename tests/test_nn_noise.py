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


def test_torch_noise_has_numpys_values_and_is_keyed_by_position():
    """engine.nn.noise (TorchBackend's noise on a GPU) is engine.noise's function: the same 64 bits per
    element, so values equal up to the last bit of log/cos; and, like it, keyed by the global position."""
    import torch

    from engine.nn.noise import position_noise as torch_noise

    a = torch_noise(7, -13, 250, 37, 41, 5, 2, "cpu").numpy()
    host = position_noise(7, -13, 250, 37, 41, 5, 2)
    assert a.dtype == np.float32 and a.shape == host.shape
    assert np.abs(a - host).max() < 1e-5 and (a == host).mean() > 0.5
    b = torch_noise(7, -5, 262, 29, 29, 5, 2, torch.device("cpu")).numpy()
    np.testing.assert_array_equal(a[:, :, 8:, 12:], b[:, :, :29, :29])
    # made a few rows at a time (bounded temporaries): the same values
    np.testing.assert_array_equal(torch_noise(7, -13, 250, 37, 41, 5, 2, "cpu", chunk_bytes=3000).numpy(), a)


def test_tile_noise_is_made_once_per_tile_and_where_the_backend_asks():
    from engine.model.tiling import Tile, TileNoise, noise_array, tile_noise

    t = Tile(-8, 16, 24, 32, (0, 24, 16, 24))
    noise = TileNoise(3, t, 4, 2)
    assert noise.array() is noise.array()  # cached: the contribution passes reuse it
    np.testing.assert_array_equal(noise_array(noise), tile_noise(3, t, 4, 2))
    assert np.abs(noise.tensor("cpu").numpy() - noise.array()).max() < 1e-5
