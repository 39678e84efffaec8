"""Position-keyed deterministic Gaussian noise (numpy only).

position_noise(seed, row0, col0, H, W, C, K)[k, c, i, j] is a pure function of
(seed, k, c, row0 + i, col0 + j): a counter-based hash (splitmix64 finaliser on uint64) gives 64
random bits per element, turned into a standard normal by Box-Muller. So a pixel gets the same
noise whatever tile it falls in.
"""
from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_ROW_KEY = np.uint64(0xD1B54A32D192ED03)
_COL_KEY = np.uint64(0x8CB92BA72F3D8DD7)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (bijective on uint64), in place on a fresh array."""
    x = np.array(x, dtype=np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def _u64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype(np.uint64)


def position_keys(seed: int, row0: int, col0: int, H: int, W: int, C: int,
                  K: int) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of every element's counter, uint64: (K, C) from (seed, k, c) and (H, W) from the
    global row and column. An element's 64 random bits are `finalise(kc[k, c] + rc[i, j])`: the large
    (K, C, H, W) part is that sum and the finaliser (`position_noise`; engine.nn.noise does it on a GPU)."""
    with np.errstate(over="ignore"):
        s = _mix(_u64([seed & 0x7FFFFFFFFFFFFFFF]))
        kc = np.arange(K, dtype=np.uint64)[:, None] * np.uint64(1 << 20) + np.arange(C, dtype=np.uint64)[None]
        kc = _mix(s + (kc + np.uint64(1)) * _GOLDEN)  # K C
        rows = _mix(_u64(np.arange(row0, row0 + H)) * _ROW_KEY + _GOLDEN)[:, None]
        cols = _mix(_u64(np.arange(col0, col0 + W)) * _COL_KEY + _M1)[None, :]
        rc = _mix(rows ^ (cols + _M2))  # H W
    return kc, rc


def position_noise(seed: int, row0: int, col0: int, H: int, W: int, C: int, K: int) -> np.ndarray:
    """Standard-normal float32 noise of shape (K, C, H, W) keyed by global pixel position."""
    kc, rc = position_keys(seed, row0, col0, H, W, C, K)
    with np.errstate(over="ignore"):
        bits = kc[:, :, None, None] + rc
        bits ^= bits >> np.uint64(30)
        bits *= _M1
        bits ^= bits >> np.uint64(27)
        bits *= _M2
        bits ^= bits >> np.uint64(31)
    # 24-bit uniforms: u1 in (0, 1] (log safe), u2 in [0, 1)
    u1 = ((bits >> np.uint64(40)).astype(np.float32) + np.float32(1.0)) * np.float32(2.0 ** -24)
    u2 = ((bits >> np.uint64(8)) & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0 ** -24)
    del bits
    radius = np.sqrt(np.float32(-2.0) * np.log(u1))
    u2 *= np.float32(2.0 * np.pi)
    np.cos(u2, out=u2)
    radius *= u2
    return radius
