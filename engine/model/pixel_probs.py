"""Class probabilities of a tile's valid core pixels from its normalised inputs and diffusion features:
the dense classifier in strips when the backend has it, else the patchwise classifier on patch copies.

The step of `engine.classify.run` after reading and the features, kept free of GDAL so that it runs on
arrays anywhere (bench/gpu.py times it on a GPU machine that has no GDAL).
"""
from __future__ import annotations

import time

import numpy as np

from .tiling import STRIP_PX, dense_strip_rows, patch_batches, patch_index


class Profile(dict):
    """Seconds spent per step; `add` returns the new start time."""

    def add(self, key: str, t0: float) -> float:
        now = time.perf_counter()
        self[key] = self.get(key, 0.0) + now - t0
        return now


def pixel_probs(x: np.ndarray, feats: np.ndarray, rows: slice, cols: slice, rr: np.ndarray, cc: np.ndarray,
                backend, batch: int, patch: int, n_classes: int, n_branches: int, prof: Profile, on_batch,
                branches: bool, strip_px: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Fused probabilities (n_classes, h, w) of the valid core pixels (rr, cc) of a tile window (x (1, C,
    H, W), feats (1, F, H, W); the core is window[rows, cols]) and, with `branches`, each branch's
    (n_branches, n_classes, h, w): dense when the backend can, else patchwise. `on_batch(fraction)` after
    each classifier call. strip_px: pixels per dense window (engine.model.tiling.dense_strip_rows' budget;
    default engine.model.tiling.STRIP_PX of the backend's device)."""
    probs = np.zeros((n_classes, rows.stop - rows.start, cols.stop - cols.start), np.float32)
    branch = np.zeros((n_branches, *probs.shape), np.float32) if branches else None

    def put(r: np.ndarray, c: np.ndarray, result) -> None:
        if branches:
            result, per_branch = result
            branch[:, :, r, c] = per_branch.transpose(1, 2, 0)
        probs[:, r, c] = result.T

    if backend.dense:
        _classify_dense(x, feats, rows, cols, rr, cc, backend, batch, patch, put, prof, on_batch, branches,
                        strip_px)
        return probs, branch
    t0 = time.perf_counter()
    for xp, dp, sl in patch_batches(x, feats, rr + rows.start, cc + cols.start, patch, batch):
        t0 = prof.add("patches", t0)
        step = backend.probabilities_branches if branches else backend.probabilities
        put(rr[sl], cc[sl], step(xp, dp))
        t0 = prof.add("classifier", t0)
        on_batch(sl.stop / len(rr))
    return probs, branch


def _classify_dense(x: np.ndarray, feats: np.ndarray, rows: slice, cols: slice, rr: np.ndarray,
                    cc: np.ndarray, backend, batch: int, patch: int, put, prof: Profile, on_batch,
                    branches: bool, strip_px: int | None = None) -> None:
    """The dense classifier on the valid core pixels (rr, cc) of a tile: per strip of core rows, the
    per-pixel tables of the strip's window (the strip + the patch radius), then `batch` pixels at a
    time from them, handed to `put(rows, cols, result)`. Same probabilities as the patchwise classifier
    (engine/nn/dense.py)."""
    t0 = time.perf_counter()
    r = patch // 2
    c0, c1 = cols.start - r, cols.stop + r  # window columns: the core + the patch radius
    budget = strip_px or STRIP_PX.get(backend.device, STRIP_PX["cpu"])
    height = dense_strip_rows(c1 - c0, patch, rows.stop - rows.start, budget)
    pixels = backend.dense_pixels_branches if branches else backend.dense_pixels
    for top in range(0, rows.stop - rows.start, height):
        lo, hi = np.searchsorted(rr, [top, top + height])  # rr ascends (np.nonzero)
        if lo == hi:
            continue
        w0 = rows.start + top - r  # window rows: the strip + the patch radius
        w1 = rows.start + min(top + height, rows.stop - rows.start) + r
        tables = backend.dense_maps(x[:, :, w0:w1, c0:c1], feats[:, :, w0:w1, c0:c1])
        index = patch_index(rr[lo:hi] - top + r, cc[lo:hi] + r, c1 - c0, patch)
        t0 = prof.add("classifier maps", t0)
        for s in range(lo, hi, batch):
            e = min(s + batch, hi)
            put(rr[s:e], cc[s:e], pixels(tables, index[s - lo:e - lo]))
            t0 = prof.add("classifier pixels", t0)
            on_batch(e / len(rr))
        del tables
