"""Tiled streaming inference: input layers + model package -> class raster (+ probabilities, confidence).

Tiles have a core of T x T pixels (T a multiple of the DDPM stride, origins at multiples of T on the
reference grid) and a halo on every side. Diffusion features are computed over the haloed window with
noise keyed by the global pixel position, so a pixel's features, patches and class do not depend on
the tiling. Windows are read one at a time: memory does not grow with the scene.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .backends import make_backend
from .errors import BDGFError, InputMismatchError
from .package import ModelPackage
from .progress import Progress, SilentProgress, check_cancel
from .raster import aligned_vrt, describe_raster, grid_of, intersection_window, read_window, reference_grid

PathLike = str | os.PathLike


# ---------------------------------------------------------------- input validation

@dataclass
class Layer:
    """One input modality: card entry, source path, 1-based band subset (None = all bands)."""

    name: str
    role: str
    path: str
    bands: list[int] | None


def _input_mapping(inputs, names: list[str]) -> dict[str, PathLike]:
    if isinstance(inputs, Mapping):
        return {str(k): v for k, v in inputs.items()}
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    seq = list(inputs)
    mapped = dict(zip(names, seq))
    for i, extra in enumerate(seq[len(names):]):
        mapped[f"input #{len(names) + i + 1}"] = extra
    return mapped


def _resolve_keys(given: Mapping, modalities: list[dict], what: str) -> tuple[dict, list[str]]:
    """Map keys given as modality names (or unique roles) to modality names; list unknown keys."""
    roles = [m["role"] for m in modalities]
    by_role = {m["role"]: m["name"] for m in modalities if roles.count(m["role"]) == 1}
    names = {m["name"] for m in modalities}
    resolved, unknown = {}, []
    for key, value in given.items():
        name = key if key in names else by_role.get(key)
        if name is None:
            unknown.append(f"  {key}: not a modality of this model ({what} {value})")
        else:
            resolved[name] = value
    return resolved, unknown


def check_inputs(card: Mapping, inputs, bands: Mapping | None = None) -> list[Layer]:
    """Match input rasters to the card's modalities; InputMismatchError lists expected vs found for all."""
    modalities = card["modalities"]
    names = [m["name"] for m in modalities]
    given, unknown = _resolve_keys(_input_mapping(inputs, names), modalities, "input")
    subsets, unknown_bands = _resolve_keys(dict(bands or {}), modalities, "bands")
    lines, layers, bad = [], [], bool(unknown or unknown_bands)
    for mod in modalities:
        name, expected = mod["name"], mod["bands"]
        head = f"  {name} ({mod['role']}): expected {expected} band{'s' * (expected != 1)}"
        subset = subsets.get(name)
        if name not in given or given[name] in (None, ""):
            lines.append(f"{head}, found no layer (missing)")
            bad = True
            continue
        path = os.fspath(given[name])
        try:
            count = describe_raster(path).band_count
        except BDGFError as exc:
            lines.append(f"{head}, found an unreadable layer: {exc}")
            bad = True
            continue
        problem = _band_problem(subset, count, expected)
        if problem:
            lines.append(f"{head}, found {problem} in {path}")
            bad = True
        else:
            found = f"bands {subset}" if subset else f"{count} band{'s' * (count != 1)}"
            lines.append(f"{head}, found {found} in {path}: ok")
        layers.append(Layer(name, mod["role"], path, [int(b) for b in subset] if subset else None))
    if bad:
        raise InputMismatchError(
            f"The input layers do not match model '{card.get('name', '?')}':\n"
            + "\n".join(lines + unknown + unknown_bands))
    return layers


def _band_problem(subset, count: int, expected: int) -> str | None:
    if subset is None:
        return None if count == expected else f"{count} band{'s' * (count != 1)}"
    subset = list(subset)
    out_of_range = [b for b in subset if not isinstance(b, (int, np.integer)) or not 1 <= b <= count]
    if out_of_range:
        return f"band subset {subset} with band(s) {out_of_range} outside 1..{count}"
    if len(set(subset)) != len(subset):
        return f"band subset {subset} with repeated bands"
    if len(subset) != expected:
        return f"a band subset of {len(subset)} band{'s' * (len(subset) != 1)} {subset} (layer has {count})"
    return None


# ---------------------------------------------------------------- normalisation

@dataclass
class Normaliser:
    """Per-band robust scaling to [-1, 1] (clipped to [-3, 3]) and optional PCA of the spectral bands."""

    low: list[np.ndarray]
    span: list[np.ndarray]  # high - low
    pca_mean: np.ndarray | None = None
    pca_matrix: np.ndarray | None = None  # (components, bands)
    channels: list[int] = field(default_factory=list)

    @classmethod
    def from_card(cls, card: Mapping) -> Normaliser:
        norm = card["normalization"]
        bands = [m["bands"] for m in card["modalities"]]
        return cls.from_stats(norm["low"], norm["high"], card.get("pca"), bands)

    @classmethod
    def from_stats(cls, lows, highs, pca, bands: list[int]) -> Normaliser:
        """From per-modality 2nd/98th percentiles, the card's PCA entry (or None) and band counts."""
        low = [np.asarray(v, np.float32) for v in lows]
        span = [np.asarray(h, np.float32) - lo for lo, h in zip(low, highs)]
        mean, matrix = _pca_arrays(pca)
        channels = list(bands)
        if matrix is not None:
            channels[0] = matrix.shape[0]
        return cls(low, span, mean, matrix, channels)

    def apply(self, arrays: list[np.ndarray], valid: np.ndarray) -> np.ndarray:
        """Normalised (1, C, H, W) stack; invalid pixels are 0 in every channel. Overwrites `arrays`."""
        h, w = valid.shape
        out = np.empty((1, sum(self.channels), h, w), np.float32)
        c = 0
        for i, x in enumerate(arrays):  # in place on the freshly read arrays
            x -= self.low[i][:, None, None]
            x *= np.float32(2)
            x /= self.span[i][:, None, None]
            x -= np.float32(1)
            np.clip(x, -3, 3, out=x)
            if i == 0 and self.pca_matrix is not None:
                flat = x.reshape(x.shape[0], -1) - self.pca_mean[:, None]
                x = (self.pca_matrix @ flat).reshape(-1, h, w)
            out[0, c:c + x.shape[0]] = x
            c += x.shape[0]
        out[0, :, ~valid] = 0
        return out


def _pca_arrays(pca) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not pca:
        return None, None
    if isinstance(pca, Mapping):
        matrix = pca.get("matrix", pca.get("components"))
        if isinstance(matrix, list) and matrix and isinstance(matrix[0], list):
            matrix = np.asarray(matrix, np.float32)
            mean = np.asarray(pca.get("mean", np.zeros(matrix.shape[1])), np.float32)
            return mean, matrix
    raise BDGFError("The model card's 'pca' entry has no projection matrix this engine can read "
                    "(expected {'mean': [...], 'matrix': [[...], ...]}).")


# ---------------------------------------------------------------- tiling

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


def plan_tiles(area: tuple[int, int, int, int], tile: int, halo: int, stride: int) -> list[Tile]:
    """Tiles covering `area` (row0, col0, h, w); tile origins at multiples of `tile` on the grid."""
    r0, c0, h, w = area
    tiles = []
    for tr in range(r0 // tile * tile, r0 + h, tile):
        for tc in range(c0 // tile * tile, c0 + w, tile):
            cr0, cc0 = max(tr, r0), max(tc, c0)
            cr1, cc1 = min(tr + tile, r0 + h), min(tc + tile, c0 + w)
            wh = _round_up(cr1 - tr, stride) + 2 * halo
            ww = _round_up(cc1 - tc, stride) + 2 * halo
            tiles.append(Tile(tr - halo, tc - halo, wh, ww, (cr0, cc0, cr1 - cr0, cc1 - cc0)))
    return tiles


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def effective_halo(card: Mapping) -> int:
    """Halo used: card halo plus the patch radius (patches near the core edge read halo features)."""
    return _round_up(int(card["halo"]) + int(card["patch_size"]) // 2, int(card["stride"]))


def tile_noise(seed: int, t: Tile, channels: int, steps: int, chunk_bytes: int = 32 << 20) -> np.ndarray:
    """position_noise for a tile window, generated a few rows at a time: same values (rows are keyed
    by their global position) without the ~6x uint64 temporaries of one whole-window call."""
    from .noise import position_noise

    out = np.empty((steps, channels, t.height, t.width), np.float32)
    rows = max(1, chunk_bytes // (8 * steps * channels * t.width))
    for r in range(0, t.height, rows):
        h = min(rows, t.height - r)
        out[:, :, r:r + h] = position_noise(seed, t.row0 + r, t.col0, h, t.width, channels, steps)
    return out


# ---------------------------------------------------------------- patches

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


def default_batch(channels: int, feat_channels: int, patch: int, device: str = "cpu") -> int:
    """Classifier batch from the free RAM: ~16x the patch bytes per sample (ONNX Runtime keeps the
    activations of the unrolled scan) within a tenth of the available memory. CPU throughput is flat
    from 128 to 256 (and drops at 512), so the CPU cap is 256; CUDA takes up to 1024."""
    per_sample = 4 * (channels + feat_channels) * patch * patch * 16
    budget = _available_memory() // 10
    cap = 1024 if device == "cuda" else 256
    return int(min(cap, max(16, budget // per_sample // 16 * 16)))


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 << 30


# ---------------------------------------------------------------- run plan

class _Profile(dict):
    """Seconds spent per step; `add` returns the new start time."""

    def add(self, key: str, t0: float) -> float:
        now = time.perf_counter()
        self[key] = self.get(key, 0.0) + now - t0
        return now


@dataclass
class _Plan:
    """Everything a run needs, checked before any output is created."""

    card: dict
    grid: object  # raster.Grid of the spectral layer
    sources: list  # gdal datasets aligned on `grid`, card order
    area: tuple[int, int, int, int]  # window covered by every layer
    tile: int
    halo: int
    patch: int
    norm: Normaliser
    noise_seed: int
    noise_steps: int

    def tiles(self) -> list[Tile]:
        return plan_tiles((0, 0, self.grid.height, self.grid.width), self.tile, self.halo,
                          int(self.card["stride"]))


def _plan(card: dict, inputs, bands, tile_size) -> _Plan:
    layers = check_inputs(card, inputs, bands)
    ref = reference_grid(layers[0].path)
    sources = [aligned_vrt(layer.path, ref, "bilinear", layer.bands) for layer in layers]
    area = intersection_window(ref, [grid_of(s) for s in sources[1:]]) if len(sources) > 1 \
        else (0, 0, ref.height, ref.width)
    if tile_size is not None and int(tile_size) < 1:
        raise BDGFError(f"Tile size must be a positive number of pixels, got {tile_size}.")
    stride = int(card["stride"])
    tile = _round_up(int(tile_size or card["tile_size"]), stride)  # origins stay on the stride grid
    diffusion = card["diffusion"]
    return _Plan(card, ref, sources, area, tile, effective_halo(card), int(card["patch_size"]),
                 Normaliser.from_card(card), int(diffusion["noise_seed"]), len(diffusion["timesteps"]))


def _classify_tile(plan: _Plan, t: Tile, engine, batch: int, prof: _Profile,
                   on_batch) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (n_classes, h, w) and validity (h, w) of a tile's core."""
    t0 = time.perf_counter()
    _, _, h, w = t.core
    probs = np.zeros((len(plan.card["classes"]), h, w), np.float32)
    if not _overlaps(t.core, plan.area):
        return probs, np.zeros((h, w), bool)
    arrays, valid = _read_tile(plan.sources, t)
    rows, cols = t.core_in_window()
    core_valid = valid[rows, cols]
    rr, cc = np.nonzero(core_valid)
    t0 = prof.add("read", t0)
    if not len(rr):
        return probs, core_valid
    x = plan.norm.apply(arrays, valid)
    del arrays
    noise = tile_noise(plan.noise_seed, t, x.shape[1], plan.noise_steps)
    t0 = prof.add("normalise+noise", t0)
    feats = engine.features(x, noise)
    del noise
    t0 = prof.add("features", t0)
    batches = patch_batches(x, feats, rr + rows.start, cc + cols.start, plan.patch, batch)
    for xp, dp, sl in batches:
        t0 = prof.add("patches", t0)
        probs[:, rr[sl], cc[sl]] = engine.classify(xp, dp).T
        t0 = prof.add("classifier", t0)
        on_batch(sl.stop / len(rr))
    return probs, core_valid


# ---------------------------------------------------------------- main entry

def classify(inputs, model, out_path: PathLike, *, bands: Mapping | None = None,
             probabilities_path: PathLike | None = None, confidence_path: PathLike | None = None,
             device: str = "auto", backend: str = "onnx", tile_size: int | None = None,
             batch_size: int | None = None, progress: Progress | None = None) -> dict:
    """Classify a multimodal scene with a BDGF model package and write the class raster.

    inputs: {modality name (or unique role): raster path} or a list in card order (spectral first).
    bands: optional {modality: [1-based band numbers]} subsets. Output rasters are on the spectral
    layer's grid; invalid pixels (nodata/NaN in any layer, outside the common area) are 0 (nodata).
    Raises InputMismatchError / ModelPackageError / BDGFError (user errors), Cancelled.
    Returns a summary dict: device, backend, backend_detail, tile, halo, batch, tiles, seconds,
    pixels_classified, pixels_nodata, pixels_per_second, outputs {classes, probabilities, confidence},
    profile {step: seconds}.
    """
    progress = progress or SilentProgress()
    started = time.perf_counter()
    package = model if isinstance(model, ModelPackage) else ModelPackage(model)
    plan = _plan(package.card, inputs, bands, tile_size)
    if batch_size is not None and int(batch_size) < 1:
        raise BDGFError(f"Batch size must be at least 1, got {batch_size}.")
    engine = make_backend(package, backend, device, progress)
    batch = int(batch_size or default_batch(sum(plan.norm.channels), _feature_channels(plan.card),
                                            plan.patch, engine.device))
    tiles = plan.tiles()
    r0, c0, h, w = plan.area
    progress.log(f"Reference grid (spectral layer): {plan.grid.describe()}")
    progress.log(f"Common area: rows {r0}..{r0 + h}, cols {c0}..{c0 + w}; {len(tiles)} tile(s) of "
                 f"{plan.tile} px + halo {plan.halo} px, batch {batch}")
    prof, classified = _Profile(), 0
    with _Writers(out_path, probabilities_path, confidence_path, plan.grid, plan.card) as writer:
        for i, t in enumerate(tiles):

            def on_batch(fraction: float, i=i) -> None:
                check_cancel(progress)
                progress.set_progress(100.0 * (i + fraction) / len(tiles))

            check_cancel(progress)
            probs, valid = _classify_tile(plan, t, engine, batch, prof, on_batch)
            t0 = time.perf_counter()
            writer.write(t.core[0], t.core[1], probs, valid)
            prof.add("write", t0)
            classified += int(valid.sum())
            progress.set_progress(100.0 * (i + 1) / len(tiles))
        t0 = time.perf_counter()
    prof.add("write", t0)
    seconds = time.perf_counter() - started
    total = plan.grid.width * plan.grid.height
    progress.log(f"Classified {classified} pixels ({total - classified} nodata) in {seconds:.1f} s "
                 f"on {engine.describe()}")
    return {
        "device": engine.device, "backend": backend, "backend_detail": engine.describe(),
        "tile": plan.tile, "halo": plan.halo, "batch": batch, "tiles": len(tiles),
        "seconds": round(seconds, 3), "pixels_classified": classified, "pixels_nodata": total - classified,
        "pixels_per_second": round(classified / seconds, 1) if seconds > 0 else None,
        "outputs": {"classes": os.fspath(out_path),
                    "probabilities": os.fspath(probabilities_path) if probabilities_path else None,
                    "confidence": os.fspath(confidence_path) if confidence_path else None},
        "profile": {k: round(v, 3) for k, v in prof.items()},
    }


class _Writers:
    """Class raster (+ probabilities, confidence) written tile by tile; all or nothing."""

    def __init__(self, out_path, probabilities_path, confidence_path, grid, card):
        from .outputs import ClassRasterWriter, ConfidenceRasterWriter, ProbabilityRasterWriter

        meta = {"bdgf_model": card.get("name", ""), "bdgf_content_hash": card.get("content_hash", "")}
        self._all = []
        try:
            self.classes = self._add(ClassRasterWriter(out_path, grid, card["classes"], metadata=meta))
            self.probs = probabilities_path and self._add(
                ProbabilityRasterWriter.for_classes(probabilities_path, grid, card["classes"], metadata=meta))
            self.confidence = confidence_path and self._add(
                ConfidenceRasterWriter(confidence_path, grid, metadata=meta))
        except BaseException:
            self.abort()
            raise

    def _add(self, writer):
        self._all.append(writer)
        return writer

    def write(self, row0: int, col0: int, probs: np.ndarray, valid: np.ndarray) -> None:
        self.classes.write_indices(row0, col0, probs.argmax(0), valid)
        if self.probs:
            self.probs.write_probabilities(row0, col0, probs, valid)
        if self.confidence:
            self.confidence.write_from_probabilities(row0, col0, probs, valid)

    def abort(self) -> None:
        for writer in self._all:
            writer.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            for writer in reversed(self._all):  # the class raster last: it appears only when all did
                writer.finalize()
        except BaseException:
            self.abort()
            raise


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _feature_channels(card: Mapping) -> int:
    ddpm = card.get("network", {}).get("ddpm", {})
    base, mults = ddpm.get("base_width", 32), ddpm.get("channel_mults", [1, 2, 2])
    return int(sum(base * m for m in mults))


def _read_tile(sources: Sequence, t: Tile) -> tuple[list[np.ndarray], np.ndarray]:
    arrays, valid = [], None
    for ds in sources:
        data, ok = read_window(ds, t.row0, t.col0, t.height, t.width, pad=True, fill=0.0)
        arrays.append(data)
        valid = ok if valid is None else valid & ok
    return arrays, valid


__all__ = ["classify", "check_inputs", "plan_tiles", "effective_halo", "tile_noise", "patch_batches",
           "default_batch", "Normaliser", "Tile", "Layer"]
