"""Class probabilities of a tile's valid core pixels from its normalised inputs and diffusion features:
the dense classifier in strips when the backend has it, else the patchwise classifier on patch copies.

The step of `engine.classify.run` after reading and the features, kept free of GDAL so that it runs on
arrays anywhere (bench/gpu.py times it on a GPU machine that has no GDAL).
"""
from __future__ import annotations

import itertools
import time
from collections import deque
from contextlib import closing

import numpy as np

# Pixels per dense window (strip + patch radius) at each device: on a GPU the per-call costs swamp the
# work at the CPU's size (bench.gpu, docs/bench/gpu.md; tiling.GPU_TILE has the measured figures).
STRIP_PX = {"cpu": 8192, "cuda": 1 << 18}


def patch_batches(x: np.ndarray, feats: np.ndarray, rows: np.ndarray, cols: np.ndarray, patch: int,
                  batch: int):
    """Yield (x_patches, d_patches, slice) for pixels (rows, cols) of a window, `batch` at a time.

    Patches are gathered from sliding-window views (no per-pixel Python loop); rows/cols are the
    patch centres in window coordinates.
    """
    r = patch // 2
    xv = np.lib.stride_tricks.sliding_window_view(x[0], (patch, patch), axis=(1, 2))
    dv = np.lib.stride_tricks.sliding_window_view(feats[0], (patch, patch), axis=(1, 2))
    # (H', W', C, P, P) views: indexing the two leading axes gathers (B, C, P, P) in one copy
    xv, dv = np.moveaxis(xv, 0, 2), np.moveaxis(dv, 0, 2)
    for s in range(0, len(rows), batch):
        rr, cc = rows[s:s + batch] - r, cols[s:s + batch] - r
        yield xv[rr, cc], dv[rr, cc], slice(s, s + len(rr))


def patch_index(rows: np.ndarray, cols: np.ndarray, width: int, patch: int) -> np.ndarray:
    """(B, P*P) int64: flat positions (row * width + col) in a window `width` wide of the row-major
    patches centred on (rows, cols): the dense classifier's gather index (engine.nn.dense)."""
    r = patch // 2
    offsets = np.arange(-r, r + 1, dtype=np.int64)
    flat = (offsets[:, None] * width + offsets[None, :]).reshape(-1)
    return (np.asarray(rows, np.int64) * width + np.asarray(cols, np.int64))[:, None] + flat[None, :]


def dense_strip_rows(window_width: int, patch: int, rows: int, budget_px: int = STRIP_PX["cpu"],
                     workers: int = 1) -> int:
    """Core rows per call of the dense classifier's per-window step: windows of about `budget_px`
    pixels (the strip + the patch radius above and below), at least `patch` rows so that the
    recomputed radius rows stay a minor share; at most `rows` (the whole core). With `workers` strips in
    flight, the rows are shared out into a multiple of `workers` strips of equal height where those stay
    at least `patch` rows high: 3 strips on 2 workers leave one core idle for a third of the time."""
    height = max(1, min(rows, max(patch, budget_px // max(window_width, 1) - 2 * (patch // 2))))
    n = -(-rows // height)
    if workers > 1 and n > 1:
        even = -(-rows // (-(-n // workers) * workers))
        if even >= patch:
            return even
    return height


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
    each classifier call. strip_px: pixels per dense window (dense_strip_rows' budget;
    default STRIP_PX of the backend's device)."""
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
    (engine/nn/dense.py). A backend with `workers` > 1 computes that many strips at once (one thread
    each); `put` and `on_batch` run on this thread, after each strip, in strip order."""
    r = patch // 2
    c0, c1 = cols.start - r, cols.stop + r  # window columns: the core + the patch radius
    budget = strip_px or STRIP_PX.get(backend.device, STRIP_PX["cpu"])
    height = dense_strip_rows(c1 - c0, patch, rows.stop - rows.start, budget, backend.workers)
    pixels = backend.dense_pixels_branches if branches else backend.dense_pixels
    strips = []  # (core row of the strip's top, first and last + 1 pixel of rr in it)
    for top in range(0, rows.stop - rows.start, height):
        lo, hi = (int(v) for v in np.searchsorted(rr, [top, top + height]))  # rr ascends (np.nonzero)
        if lo < hi:
            strips.append((top, lo, hi))

    def strip(top: int, lo: int, hi: int):
        """[(first, last + 1 pixel of rr, result) per batch], seconds in the tables, seconds in the pixels."""
        t0 = time.perf_counter()
        w0 = rows.start + top - r  # window rows: the strip + the patch radius
        w1 = rows.start + min(top + height, rows.stop - rows.start) + r
        tables = backend.dense_maps(x[:, :, w0:w1, c0:c1], feats[:, :, w0:w1, c0:c1])
        index = patch_index(rr[lo:hi] - top + r, cc[lo:hi] + r, c1 - c0, patch)
        t1 = time.perf_counter()
        out = [(s, min(s + batch, hi), pixels(tables, index[s - lo:min(s + batch, hi) - lo]))
               for s in range(lo, hi, batch)]
        return out, t1 - t0, time.perf_counter() - t1

    # The profile splits the wall time between the two steps in proportion to the time spent in each (with
    # strips in flight the workers' times overlap), so that the steps still add up to the run's time.
    started, spent = time.perf_counter(), [0.0, 0.0]
    with closing(_strip_results(backend, strips, strip)) as results:
        for out, maps_s, pixels_s in results:
            spent[0] += maps_s
            spent[1] += pixels_s
            for s, e, result in out:
                put(rr[s:e], cc[s:e], result)
            on_batch(out[-1][1] / len(rr))  # may raise Cancelled
    wall = time.perf_counter() - started
    share = spent[0] / max(spent[0] + spent[1], 1e-12)
    prof["classifier maps"] = prof.get("classifier maps", 0.0) + wall * share
    prof["classifier pixels"] = prof.get("classifier pixels", 0.0) + wall * (1 - share)


def _strip_results(backend, strips: list, strip):
    """strip(*s) for each of `strips`, in order: here, one at a time, or with `backend.workers` > 1 that many
    at once on the backend's strip threads (ONNX Runtime releases the GIL; each session call runs on its
    caller's thread), so that at most `workers` strips' tables exist at once. Closed early (a cancel, an
    error), it waits for the strips in flight: none outlives the tile."""
    if backend.workers < 2 or len(strips) < 2:
        for s in strips:
            yield strip(*s)
        return
    pool, todo, flight = backend.strip_pool, iter(strips), deque()
    try:
        flight.extend(pool.submit(strip, *s) for s in itertools.islice(todo, backend.workers))
        while flight:
            done = flight.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                flight.append(pool.submit(strip, *nxt))
            yield done
    finally:
        for future in flight:
            future.cancel() or future.exception()
