"""engine.noise.position_noise computed where the features are, on a GPU: the same 64 random bits per
element (splitmix64 finaliser in int64 arithmetic, which wraps like uint64; logical shifts by masking), the
same Box-Muller in float32 (log and cos may differ from numpy's in the last bit). On the CPU the engine keeps
the numpy version. Generating the (K, C, H, W) noise of a tile window on the host and copying it over took
most of a GPU run's time (docs/bench/gpu.md)."""
from __future__ import annotations

import numpy as np
import torch

from ..noise import _M1, _M2, position_keys


def _signed(value: np.uint64) -> int:
    """A uint64 constant as the int64 with the same bits."""
    return int(np.array(value, np.uint64).view(np.int64))


M1, M2 = _signed(_M1), _signed(_M2)


def _shr(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 bits (torch's >> on int64 is arithmetic)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def position_noise(seed: int, row0: int, col0: int, H: int, W: int, C: int, K: int,
                   device: torch.device | str, chunk_bytes: int = 256 << 20) -> torch.Tensor:
    """Standard-normal float32 (K, C, H, W) on `device`; engine.noise.position_noise's values. Made a few
    rows at a time (rows are keyed by their position): the int64 temporaries stay under ~chunk_bytes,
    so a 512-px tile's noise also fits beside the network on a small GPU."""
    kc, rc = position_keys(seed, row0, col0, H, W, C, K)
    kc = torch.from_numpy(kc.view(np.int64)).to(device)[:, :, None, None]
    rc = torch.from_numpy(rc.view(np.int64)).to(device)
    out = torch.empty((K, C, H, W), dtype=torch.float32, device=device)
    rows = max(1, chunk_bytes // (8 * K * C * W))
    for r in range(0, H, rows):
        out[:, :, r:r + rows] = _normal(kc + rc[r:r + rows])
    return out


def _normal(bits: torch.Tensor) -> torch.Tensor:
    """splitmix64 finaliser of the summed keys, then Box-Muller, as engine.noise.position_noise."""
    bits ^= _shr(bits, 30)
    bits *= M1
    bits ^= _shr(bits, 27)
    bits *= M2
    bits ^= _shr(bits, 31)
    u1 = (_shr(bits, 40).to(torch.float32) + 1.0) * 2.0 ** -24
    u2 = (_shr(bits, 8) & 0xFFFFFF).to(torch.float32) * 2.0 ** -24
    del bits
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(u2 * np.float32(2.0 * np.pi))
