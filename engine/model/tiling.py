"""Tiling: tile plan with a halo, position-keyed tile noise, the default tile core and batch per device.

Tiles have a core of T x T pixels (origins at multiples of T on the reference grid) and a halo on every
side; noise is keyed by the global pixel position. Together these make a pixel's class independent of
the tiling. Training computes its feature cache with the same functions.

    halo = effective_halo(card["halo"], card["patch_size"], card["stride"])
    for t in plan_tiles((0, 0, 332, 485), tile=128, halo=halo, stride=4): ...
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Tile:
    row0: int  # window origin on the reference grid (multiple of the stride, may be negative)
    col0: int
    height: int  # window size (multiples of the stride)
    width: int
    core: tuple[int, int, int, int]  # (row0, col0, h, w) written, on the reference grid

    def core_in_window(self) -> tuple[slice, slice]:
        r, c, h, w = self.core
        return slice(r - self.row0, r - self.row0 + h), slice(c - self.col0, c - self.col0 + w)


def iter_tiles(area: tuple[int, int, int, int], tile: int, halo: int, stride: int) -> Iterator[Tile]:
    """Tiles covering `area` (row0, col0, h, w), row by row; tile origins at multiples of `tile` on the
    grid. A generator: a scene of 10^12 pixels has 10^9 tiles, far too many to hold in a list."""
    r0, c0, h, w = area
    for tr in range(r0 // tile * tile, r0 + h, tile):
        for tc in range(c0 // tile * tile, c0 + w, tile):
            cr0, cc0 = max(tr, r0), max(tc, c0)
            cr1, cc1 = min(tr + tile, r0 + h), min(tc + tile, c0 + w)
            wh = round_up(cr1 - tr, stride) + 2 * halo
            ww = round_up(cc1 - tc, stride) + 2 * halo
            yield Tile(tr - halo, tc - halo, wh, ww, (cr0, cc0, cr1 - cr0, cc1 - cc0))


def count_tiles(area: tuple[int, int, int, int], tile: int) -> int:
    """len(list(iter_tiles(area, tile, ...))) without building them."""
    r0, c0, h, w = area
    rows = len(range(r0 // tile * tile, r0 + h, tile))
    return rows * len(range(c0 // tile * tile, c0 + w, tile))


def plan_tiles(area: tuple[int, int, int, int], tile: int, halo: int, stride: int) -> list[Tile]:
    """iter_tiles as a list (training's feature cache, small scenes)."""
    return list(iter_tiles(area, tile, halo, stride))


def plan_blocks(height: int, width: int, tile: int, block_px: int) -> list[tuple[int, int, int, int]]:
    """Blocks (row0, col0, h, w) covering a height x width grid, row by row, for a batch job: a side of
    `block_px` rounded up to a multiple of the tile core, origins at multiples of that side, clipped at
    the grid's edges. Each block's tiles are exactly the whole-scene run's tiles."""
    side = round_up(max(int(block_px), 1), tile)
    return [(r, c, min(side, height - r), min(side, width - c))
            for r in range(0, height, side) for c in range(0, width, side)]


def round_up(n: int, m: int) -> int:
    """Smallest multiple of m that is >= n."""
    return -(-n // m) * m


def card_halo(receptive_radius: int, stride: int) -> int:
    """The halo a model card records: the DDPM's receptive radius on the stride grid, so a tile's core
    pixels see all the context they would see in one whole-scene pass."""
    return round_up(int(receptive_radius), int(stride))


def effective_halo(halo: int, patch_size: int, stride: int) -> int:
    """Halo the tiler uses: the card halo plus the patch radius, because patches centred on the core
    edge read features up to patch//2 pixels outside the core."""
    return round_up(int(halo) + int(patch_size) // 2, int(stride))


def core_size(requested: int | None, card_tile: int, stride: int) -> int:
    """Tile core in pixels: the request (or the card's), rounded up to the stride so that tile origins
    stay on the DDPM's stride grid."""
    return round_up(int(requested or card_tile), int(stride))


@dataclass(frozen=True)
class TileNoise:
    """A tile window's noise, made where it is used: `array()` on the host (numpy, what the CPU paths and
    ONNX Runtime take), `tensor(device)` on a GPU (engine.nn.noise: the same values up to the last bit of
    log and cos, without building ~0.5 GB per tile on the host and copying it over)."""

    seed: int
    tile: Tile
    channels: int
    steps: int
    threads: int = 1  # host threads that make it (the backend's: engine.noise.position_noise)

    def array(self) -> np.ndarray:
        return self._host

    @cached_property  # once per tile: the modality-contribution passes reuse it
    def _host(self) -> np.ndarray:
        return tile_noise(self.seed, self.tile, self.channels, self.steps, self.threads)

    def tensor(self, device):
        from ..nn.noise import position_noise

        t = self.tile
        return position_noise(self.seed, t.row0, t.col0, t.height, t.width, self.channels, self.steps, device)


def noise_array(noise) -> np.ndarray:
    """A TileNoise's host array; an array as it is."""
    return noise.array() if isinstance(noise, TileNoise) else noise


def tile_noise(seed: int, t: Tile, channels: int, steps: int, threads: int = 1) -> np.ndarray:
    """position_noise for a tile window (engine.noise: made in cache-sized blocks, on `threads` threads)."""
    from ..noise import position_noise

    return position_noise(seed, t.row0, t.col0, t.height, t.width, channels, steps, threads)


# On a GPU the per-call costs (Python, kernel launches, transfers) swamp the work at the CPU's sizes:
# bench.gpu (H200, docs/bench/gpu.md) measured the `cpu` preset at 30,518 px/s with tiles of 128 px, batches
# of 1,024 and dense windows of 8,192 px, and 50,861 px/s at 512 / 16,384 / 262,144 (noise still made on the
# host then). Tiles and windows change no class (tile invariance); the batch is capped lower than measured
# so that the paper-size network fits on an 8 GB GPU.
GPU_TILE = 512  # STRIP_PX (model.pixel_probs): the dense windows at each device
# On a CPU the halo is the cost: a 128-px core with its 36-px halo (the `cpu` preset) computes features on
# 200^2 = 2.4x its pixels, a 256-px core on 328^2 = 1.6x. Features (noise + UNet) per core pixel, 1 thread,
# shared 2-core box: 128: 78 us, 256: 52-57 us, 512: 58 us (the larger windows leave the caches). Peak RSS
# of a whole run rose from ~0.9 to 1.4-1.6 GB (docs/bench/inference.md, Augsburg-size scene and mosaics).
# 336- and 384-px cores were 7-11 % faster on the Augsburg-size scene (less halo) but peaked at 2.6-2.8 GB on
# its 16x mosaic, against 1.6 GB at 256 (docs/METHOD_DECISIONS.md, Dense inference).
CPU_TILE = 256
CPU_BATCH_SHORT = 256  # default_batch on the dense path of network versions 2 and 3


def default_core(card_tile: int, device: str) -> int:
    """Tile core when the user sets none: the card's, at least GPU_TILE on a GPU and CPU_TILE on a CPU."""
    return max(int(card_tile), GPU_TILE if device == "cuda" else CPU_TILE)


def default_batch(channels: int, feat_channels: int, patch: int, device: str = "cpu",
                  short_sequences: bool = False) -> int:
    """Classifier batch (pixels per call) from the free RAM: ~16x the patch bytes per sample within a
    tenth of the available memory, capped per device and path:
    - CPU, per-token paths (patchwise, or version 1 dense: P^2 tokens per pixel): 64, so that a batch's
      per-token tensors stay in the caches (`cpu` preset, 1 thread, us per pixel at 64 / 256: dense eager
      110 / 138, dense ONNX Runtime 150 / 170, patchwise ONNX Runtime 278 / 323);
    - CPU, versions 2 and 3 dense (`short_sequences`: a few tokens and one query per pixel): 256; version
      2's per-pixel step is per-call overhead at 64 (`cpu` preset, 2 threads, idle 2-core box, us per pixel
      at 64 / 128 / 256 / 512: ONNX Runtime 40-42 / 34-38 / 33-34 / 32-34, eager 58-63 / 38-39 / 32-33 /
      39-40); version 3 dense (ten block tokens per pixel) the same (ONNX Runtime, 1 thread, busy box:
      px/s at 256 / 1024: 26,012 / 20,109);
    - CUDA: up to 8192 (see GPU_TILE)."""
    per_sample = 4 * (channels + feat_channels) * patch * patch * 16
    budget = available_memory() // 10
    cap = 8192 if device == "cuda" else CPU_BATCH_SHORT if short_sequences else 64
    return int(min(cap, max(16, budget // per_sample // 16 * 16)))


def available_memory(os_name: str = os.name, kernel32=None) -> int:
    """Bytes of memory available now: /proc/meminfo's MemAvailable on Linux, GlobalMemoryStatusEx's
    ullAvailPhys on Windows; 2 GiB when neither answers (macOS, a sandbox)."""
    if os_name == "nt":
        import ctypes

        class Status(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

        status = Status()
        status.dwLength = ctypes.sizeof(Status)
        kernel32 = kernel32 or ctypes.windll.kernel32  # type: ignore[attr-defined]
        if kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return int(status.ullAvailPhys)
        return 2 << 30
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 << 30
