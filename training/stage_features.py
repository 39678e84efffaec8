"""Stage 3: diffusion features of the whole scene, tile by tile with a halo, exactly as the engine tiles
(model.tiling: plan_tiles / effective_halo / tile_noise, noise keyed by the global pixel position), cached on
disk as float16 .npy keyed by a hash of the DDPM weights, the settings and the input stack.

The feature map covers the prepared area plus a margin of patch//2 pixels on every side (computed
from zero input there, as the engine does), so border patches see the same features as in inference.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from engine.model.tiling import core_size, effective_halo, plan_tiles, tile_noise
from engine.nn.ddpm import DiffusionFeatureExtractor
from engine.raster.atomic import atomic_file
from training import checkpoint as ckpt
from training.context import RunContext
from training.stage_ddpm import as_tensor


def feature_geometry(window, patch: int, halo: int, stride: int) -> tuple[tuple[int, int, int, int], int]:
    """(area on the reference grid incl. the patch margin, effective halo as in the engine)."""
    r = patch // 2
    r0, c0, h, w = window
    return (r0 - r, c0 - r, h + 2 * r, w + 2 * r), effective_halo(halo, patch, stride)


def cache_key(ddpm_state: dict, x: np.ndarray, settings: dict) -> str:
    digest = hashlib.sha256()
    digest.update(ckpt.tensor_digest(ddpm_state).encode())
    digest.update(hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest().encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def window_of(x: np.ndarray, origin: tuple[int, int], row0: int, col0: int, h: int, w: int) -> np.ndarray:
    """(1, C, h, w) window of x (whose [0, 0] lies at `origin` on the grid), zero outside."""
    c, xh, xw = x.shape
    out = np.zeros((1, c, h, w), np.float32)
    lr0, lc0 = row0 - origin[0], col0 - origin[1]
    a0, b0 = max(lr0, 0), max(lc0, 0)
    a1, b1 = min(lr0 + h, xh), min(lc0 + w, xw)
    if a1 > a0 and b1 > b0:
        out[0, :, a0 - lr0:a1 - lr0, b0 - lc0:b1 - lc0] = x[:, a0:a1, b0:b1]
    return out


@torch.no_grad()
def compute_features(ctx: RunContext, extractor: DiffusionFeatureExtractor, x: np.ndarray,
                     window: tuple[int, int, int, int], patch: int, tile: int, halo: int,
                     noise_seed: int, desc: str = "diffusion features") -> np.ndarray:
    """float16 (F, h + 2r, w + 2r) features over `window` (+ patch margin r) of the reference grid."""
    stride = extractor.stride()
    area, eff_halo = feature_geometry(window, patch, halo, stride)
    tiles = plan_tiles(area, core_size(tile, tile, stride), eff_halo, stride)
    n_feat = sum(extractor.feature_channels())
    out = np.zeros((n_feat, area[2], area[3]), np.float16)
    k = len(extractor.timesteps)
    extractor.to(ctx.device).eval()
    bar = ctx.progress(len(tiles), desc)
    for t in tiles:
        xt = window_of(x, window[:2], t.row0, t.col0, t.height, t.width)
        noise = tile_noise(noise_seed, t, x.shape[0], k, torch.get_num_threads())
        with ctx.autocast():
            feats = extractor(as_tensor(xt, ctx.device), as_tensor(noise, ctx.device))
        rows, cols = t.core_in_window()
        r, c, h, w = t.core
        out[:, r - area[0]:r - area[0] + h, c - area[1]:c - area[1] + w] = \
            feats[0, :, rows, cols].float().cpu().numpy().astype(np.float16)
        bar.update(1)
    bar.close()
    return out


def cached_features(ctx: RunContext, extractor: DiffusionFeatureExtractor, x: np.ndarray, window, patch: int,
                    tile: int, halo: int, noise_seed: int, cache_dir: Path) -> tuple[np.ndarray, Path]:
    """Features from the cache when present, else computed (rank 0) and cached atomically."""
    settings = {"timesteps": list(extractor.timesteps), "noise_seed": noise_seed, "tile": tile, "halo": halo,
                "patch": patch, "window": list(window), "version": 1}
    key = cache_key(extractor.ddpm.state_dict(), x, settings)
    path = cache_dir / f"features_{key}.npy"
    if not path.is_file():
        if ctx.is_main:
            feats = compute_features(ctx, extractor, x, window, patch, tile, halo, noise_seed)
            save_npy(path, feats)
            ckpt.atomic_write_json(path.with_suffix(".json"), {**settings, "shape": list(feats.shape)})
            ctx.info(f"features: computed {feats.shape} -> {path}")
        ctx.barrier()
    else:
        ctx.info(f"features: reusing cache {path}")
    return np.load(path), path


def save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as fh:
        np.save(fh, array)
