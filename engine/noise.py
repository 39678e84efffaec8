"""Position-keyed deterministic Gaussian noise (numpy only).

position_noise(seed, row0, col0, H, W, C, K)[k, c, i, j] is a pure function of
(seed, k, c, row0 + i, col0 + j): a counter-based hash (splitmix64 finaliser on uint64) gives 64
random bits per element, turned into a standard normal by Box-Muller. So a pixel gets the same
noise whatever tile it falls in.

`position_noise` is the fast path the engine and training use: blocks of ~64 K elements (a block's uint64
temporaries stay in the core's cache, where whole-window passes ran from memory) with no temporary per
operation, on `threads` threads (numpy releases the GIL in its loops). `position_noise_reference` is the
same function written plainly, kept as the definition the fast path is tested against bit for bit.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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


BLOCK_ELEMENTS = 1 << 16  # per block: 512 KB of uint64 bits + their shifts, within a core's L2 cache
_S8, _S27, _S30, _S31, _S40 = (np.uint64(k) for k in (8, 27, 30, 31, 40))
_LOW24 = np.uint64(0xFFFFFF)
_UNIT = np.float32(2.0 ** -24)


def position_noise(seed: int, row0: int, col0: int, H: int, W: int, C: int, K: int,
                   threads: int = 1) -> np.ndarray:
    """Standard-normal float32 noise of shape (K, C, H, W) keyed by global pixel position; the values of
    `position_noise_reference`, bit for bit, made block by block on `threads` threads."""
    kc, rc = position_keys(seed, row0, col0, H, W, C, K)
    kc = kc.reshape(-1)
    out = np.empty((K * C, H, W), np.float32)
    rows = max(1, min(H, BLOCK_ELEMENTS // max(W, 1)))
    fields = max(1, BLOCK_ELEMENTS // (rows * max(W, 1)))
    blocks = [(slice(f, f + fields), slice(r, r + rows)) for r in range(0, H, rows)
              for f in range(0, K * C, fields)]

    def fill(block: tuple[slice, slice]) -> None:
        f, r = block
        _normal_into(out[f, r], kc[f], rc[r])

    if threads > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(min(threads, len(blocks))) as pool:
            list(pool.map(fill, blocks))
    else:
        for block in blocks:
            fill(block)
    return out.reshape(K, C, H, W)


def _normal_into(out: np.ndarray, kc: np.ndarray, rc: np.ndarray) -> None:
    """out (n, h, W) float32 <- the normals of the counters kc (n,) + rc (h, W): the reference's steps,
    each written into one of two uint64 buffers instead of a fresh array."""
    with np.errstate(over="ignore"):
        bits = np.add(kc[:, None, None], rc)
        shifted = np.empty_like(bits)
        for shift, mult in ((_S30, _M1), (_S27, _M2), (_S31, None)):  # the splitmix64 finaliser
            np.right_shift(bits, shift, out=shifted)
            np.bitwise_xor(bits, shifted, out=bits)
            if mult is not None:
                np.multiply(bits, mult, out=bits)
    np.right_shift(bits, _S40, out=shifted)
    radius = shifted.astype(np.float32)
    radius += np.float32(1.0)
    radius *= _UNIT  # u1 in (0, 1]
    np.right_shift(bits, _S8, out=shifted)
    np.bitwise_and(shifted, _LOW24, out=shifted)
    out[...] = shifted
    out *= _UNIT  # u2 in [0, 1)
    np.log(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    out *= np.float32(2.0 * np.pi)
    np.cos(out, out=out)
    out *= radius


def position_noise_reference(seed: int, row0: int, col0: int, H: int, W: int, C: int, K: int) -> np.ndarray:
    """Standard-normal float32 noise of shape (K, C, H, W) keyed by global pixel position (the definition;
    whole-array numpy, several times slower than `position_noise`)."""
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
