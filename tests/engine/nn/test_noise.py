"""engine.nn.noise: the PyTorch twin of engine.noise.position_noise (the values of the numpy function, keyed
by the global position)."""
from __future__ import annotations

import numpy as np

from engine.noise import position_noise


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
