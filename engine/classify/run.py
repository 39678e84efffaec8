"""The run loop: input layers + model package -> class raster (+ probabilities, confidence, trust outputs).

Everything is checked before the first output file is created (`_plan`); then tiles are read, normalised,
turned into diffusion features and classified one at a time, so memory does not grow with the scene.
Inputs (`classify.inputs`), checks before work (`classify.preflight`), normalisation (`normalise`), tiling
(`model.tiling`), a tile's probabilities (`model.pixel_probs`) and the writers (`classify.writers`) live in
their own modules; this one only sequences them.

    result = classify({"hsi": "hsi.tif", "sar": "sar.tif", "dsm": "dsm.tif"}, ModelPackage("m.bdgf"),
                      ClassifyOutputs("classes.tif"), ClassifySettings(device="cpu"))
    print(result.pixels_classified, result.seconds)
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ..errors import BDGFError
from ..model.backends import make_backend
from ..model.card import branch_names, check_request, feature_channels, network_version
from ..model.missing_modality import fill_missing, left_out, left_out_figures
from ..model.package import ModelPackage
from ..model.pixel_probs import Profile, pixel_probs
from ..model.tiling import (
    Tile,
    TileNoise,
    core_size,
    count_tiles,
    default_batch,
    default_core,
    effective_halo,
    iter_tiles,
)
from ..normalise import Normaliser
from ..progress import Progress, SilentProgress, check_cancel
from ..raster.grid import intersection_window
from ..raster.read import GdalMessages, aligned_vrt, grid_of, read_window, reference_grid
from ..settings import ClassifyOutputs, ClassifySettings
from ..trust.contribution import contribution_ratio, modality_contribution
from .inputs import Layer, check_inputs
from .preflight import check_outputs, inspect_inputs
from .writers import RunWriters, TileResult

PathLike = Union[str, os.PathLike]  # typing.Union: a module-level `|` needs Python 3.10 (QGIS 3.22 ships 3.9)


@dataclass(frozen=True)
class ClassifyResult:
    """What a run did: where it ran, how it tiled, how long it took, what it wrote."""

    device: str  # "cpu" or "cuda": read back from the backend, never guessed
    backend: str
    backend_detail: str
    tile_size_px: int
    halo_px: int
    batch_size: int
    tiles: int
    seconds: float
    pixels_classified: int
    pixels_nodata: int
    outputs: ClassifyOutputs
    profile: dict[str, float] = field(default_factory=dict)  # seconds per step
    warnings: list[str] = field(default_factory=list)  # also logged, prefixed "Warning: "
    # layers left out (model.missing_modality): {modality: the card's metrics without it}; the warnings say it
    missing_modalities: dict[str, dict] = field(default_factory=dict)

    @property
    def pixels_per_second(self) -> float | None:
        return round(self.pixels_classified / self.seconds, 1) if self.seconds > 0 else None

    def to_dict(self) -> dict:
        """JSON-safe form (the CLI's --json)."""
        out = dataclasses.asdict(self)
        out["pixels_per_second"] = self.pixels_per_second
        return out


# ---------------------------------------------------------------- run plan

@dataclass
class _Plan:
    """Everything a run needs, checked before any output is created."""

    card: dict
    grid: object  # raster.Grid of the spectral layer
    layers: list[Layer]  # card order (a layer left out: path None)
    sources: list  # gdal datasets aligned on `grid`, card order (a layer left out: None)
    area: tuple[int, int, int, int]  # window covered by every layer's footprint
    tile: int
    halo: int
    patch: int
    norm: Normaliser
    noise_seed: int
    noise_steps: int
    warnings: list[str]
    missing: list[int] = field(default_factory=list)  # card indices of the layers left out (missing_modality)

    def _whole(self) -> tuple[int, int, int, int]:
        # the whole grid, not just the common area: every output pixel is written (tiles outside the
        # area as nodata, without reading or computing), because GDAL fills a partly written block with
        # 0, which is not the nodata of the probability rasters
        return 0, 0, self.grid.height, self.grid.width

    def tiles(self, window: tuple[int, int, int, int] | None = None):
        return iter_tiles(window or self._whole(), self.tile, self.halo, int(self.card["stride"]))

    def tile_count(self, window: tuple[int, int, int, int] | None = None) -> int:
        return count_tiles(window or self._whole(), self.tile)

    def check_window(self, window: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A window (row0, col0, h, w) of the reference grid whose tiles are the whole run's tiles: inside
        the grid, its origin on the tile grid (multiples of the tile core). BDGFError otherwise."""
        r0, c0, h, w = (int(v) for v in window)
        if h < 1 or w < 1 or r0 < 0 or c0 < 0 or r0 + h > self.grid.height or c0 + w > self.grid.width:
            raise BDGFError(f"Window rows {r0}..{r0 + h}, cols {c0}..{c0 + w} is not inside the reference "
                            f"grid ({self.grid.height} rows x {self.grid.width} cols).")
        if r0 % self.tile or c0 % self.tile:
            raise BDGFError(f"Window origin (row {r0}, col {c0}) is not on the tile grid: it must be a "
                            f"multiple of the tile core ({self.tile} px), so that its tiles, halos and "
                            "classes are those of the whole-scene run.")
        return r0, c0, h, w


def _plan(package: ModelPackage, inputs, outputs: ClassifyOutputs | None, tile_size_px: int | None,
          bands=None, nodata=None, scale=None) -> _Plan:
    """Everything checked before anything is written: layers against the card, the common area from the
    layers' own footprints, output paths and free space (unless `outputs` is None: a batch worker, whose
    job was checked by its driver), then the input values (a sample)."""
    card = package.card
    if outputs is not None:
        check_request(outputs, card, package.path)
    layers = check_inputs(card, inputs, bands, nodata, scale)
    given = [layer for layer in layers if not layer.missing]
    ref = reference_grid(given[0].path)
    area = intersection_window(ref, [grid_of(layer.path) for layer in given[1:]],
                               [layer.name for layer in given[1:]])
    if outputs is not None:
        check_outputs(outputs, layers, package.path, ref, card["classes"])
    sources = [None if layer.missing else aligned_vrt(layer.path, ref, "bilinear", layer.bands, layer.nodata)
               for layer in layers]
    missing, warnings = left_out(card, [layer.missing for layer in layers])
    warnings += inspect_inputs(card, given, [ds for ds in sources if ds is not None], area)
    stride = int(card["stride"])
    diffusion = card["diffusion"]
    norm = Normaliser.from_card(card).with_input_scale([layer.scale for layer in layers])
    return _Plan(card, ref, layers, sources, area, core_size(tile_size_px, card["tile_size"], stride),
                 effective_halo(card["halo"], card["patch_size"], stride), int(card["patch_size"]),
                 norm, int(diffusion["noise_seed"]), len(diffusion["timesteps"]), warnings, missing)


def _classify_tile(plan: _Plan, t: Tile, backend, batch: int, prof: Profile, on_batch,
                   outputs: ClassifyOutputs | None = None) -> TileResult:
    """Fused class probabilities and validity of a tile's core, and what `outputs` need besides: each
    branch's probabilities, the modality contribution (one more features + classifier pass per modality,
    timed as "modality contribution")."""
    t0 = time.perf_counter()
    _, _, h, w = t.core
    branches = bool(outputs and outputs.needs_branches)
    contribution = bool(outputs and outputs.needs_contribution)
    k, nb, m = len(plan.card["classes"]), len(branch_names(plan.card)), len(plan.norm.channels)
    empty = TileResult(np.zeros((k, h, w), np.float32), np.zeros((h, w), bool),
                       np.zeros((nb, k, h, w), np.float32) if branches else None,
                       np.zeros((m, h, w), np.float32) if contribution else None)
    if not _overlaps(t.core, plan.area):
        return empty
    arrays, valid = _read_tile(plan.sources, t, [int(m["bands"]) for m in plan.card["modalities"]])
    rows, cols = t.core_in_window()
    empty.valid = core_valid = valid[rows, cols]
    rr, cc = np.nonzero(core_valid)
    t0 = prof.add("read", t0)
    if not len(rr):
        return empty
    x = fill_missing(plan.norm.apply(arrays, valid), plan.norm.channels, plan.missing)
    del arrays
    # made where the backend runs (a GPU makes its own), on as many host threads as the backend computes on
    noise = TileNoise(plan.noise_seed, t, x.shape[1], plan.noise_steps, backend.threads)
    t0 = prof.add("normalise", t0)
    feats = backend.features(x, noise)
    prof.add("features", t0)
    passes = 1 + (m if contribution else 0)
    pixels = (rows, cols, rr, cc, backend, batch, plan.patch, k, nb)
    probs, branch = pixel_probs(x, feats, *pixels, prof, lambda f: on_batch(f / passes), branches)
    del feats
    result = TileResult(probs, core_valid, branch)
    if contribution:
        t0 = time.perf_counter()

        def probs_without(filled: np.ndarray, i: int) -> np.ndarray:
            return pixel_probs(filled, backend.features(filled, noise), *pixels, Profile(),
                                lambda f: on_batch((i + 1 + f) / passes), False)[0]

        result.contribution = modality_contribution(x, probs, core_valid, plan.norm.channels, probs_without,
                                                    plan.missing)
        prof.add("modality contribution", t0)
    return result


# ---------------------------------------------------------------- main entry

def classify(inputs, model: ModelPackage | PathLike, outputs: ClassifyOutputs | PathLike,
             settings: ClassifySettings | None = None, *, bands: Mapping | None = None,
             nodata: Mapping | None = None, scale: Mapping | None = None,
             progress: Progress | None = None) -> ClassifyResult:
    """Classify a multimodal scene with a BDGF model package and write the class raster.

    inputs: {modality name (or unique role): raster path} or a list in card order (spectral first).
    model: an opened ModelPackage (opened, hashed and validated once by the caller) or its path.
    outputs: a ClassifyOutputs, or just the class raster's path.
    bands: optional {modality: [1-based band numbers]} subsets; nodata: {modality: number or "none"}
    replacing the nodata a layer's file declares; scale: {modality: factor} multiplying a layer's values
    into the training data's units. Output rasters are on the spectral layer's grid; invalid pixels
    (nodata/NaN in any layer, outside the common area) are 0 (nodata). GDAL's warnings are logged.
    Raises InputMismatchError / ModelPackageError / BDGFError (user errors), Cancelled.
    """
    settings = settings or ClassifySettings()
    outputs = outputs if isinstance(outputs, ClassifyOutputs) else ClassifyOutputs(os.fspath(outputs))
    progress = progress or SilentProgress()
    with GdalMessages(forward=lambda text: progress.log(f"Warning: {text}")):
        return _classify(inputs, model, outputs, settings, bands, nodata, scale, progress)


def _classify(inputs, model, outputs: ClassifyOutputs, settings: ClassifySettings, bands, nodata, scale,
              progress: Progress) -> ClassifyResult:
    started = time.perf_counter()
    package = model if isinstance(model, ModelPackage) else ModelPackage(model)
    plan = _plan(package, inputs, outputs, settings.tile_size_px, bands, nodata, scale)
    for warning in plan.warnings:
        progress.log(f"Warning: {warning}")
    backend = make_backend(package, settings.backend, settings.device, progress)
    if settings.tile_size_px is None:  # larger tiles on a GPU (model.tiling.GPU_TILE); no class changes
        plan.tile = core_size(default_core(plan.card["tile_size"], backend.device), plan.card["tile_size"],
                              int(plan.card["stride"]))
    batch = batch_size(plan, settings, backend)
    n_tiles = plan.tile_count()
    r0, c0, h, w = plan.area
    progress.log(f"Reference grid (spectral layer): {plan.grid.describe()}")
    progress.log(f"Common area: rows {r0}..{r0 + h}, cols {c0}..{c0 + w}; {n_tiles} tile(s) of "
                 f"{plan.tile} px + halo {plan.halo} px (those outside the common area are not computed), "
                 f"batch {batch}")
    prof = Profile()
    classified = _run_window(plan, backend, batch, outputs, plan._whole(), progress, prof,
                             require_pixels=True)
    seconds = time.perf_counter() - started
    total = plan.grid.width * plan.grid.height
    progress.log(f"Classified {classified} pixels ({total - classified} nodata) in {seconds:.1f} s "
                 f"on {backend.describe()}")
    if "modality contribution" in prof:
        extra = prof["modality contribution"]
        rate = classified / max(seconds - extra, 1e-9)
        passes = len(plan.layers) - len(plan.missing)
        progress.log(f"Modality contribution: {passes} extra features + classifier passes per tile "
                     f"took {extra:.2f} s of the {seconds:.2f} s: {contribution_ratio(extra, seconds):.2f}x "
                     f"the classification without them ({rate:,.0f} px/s without them, "
                     f"{classified / max(seconds, 1e-9):,.0f} px/s with them)")
    return ClassifyResult(
        device=backend.device, backend=settings.backend, backend_detail=backend.describe(),
        tile_size_px=plan.tile, halo_px=plan.halo, batch_size=batch, tiles=n_tiles,
        seconds=round(seconds, 3), pixels_classified=classified, pixels_nodata=total - classified,
        outputs=outputs, profile={k: round(v, 3) for k, v in prof.items()}, warnings=plan.warnings,
        missing_modalities=left_out_figures(plan.card, plan.missing))


def _run_window(plan: _Plan, backend, batch: int, outputs: ClassifyOutputs, window: tuple[int, int, int, int],
                progress: Progress, prof: Profile, require_pixels: bool, qml: bool = True) -> int:
    """Classify the tiles of `window` and write them into `outputs`, rasters on the window's grid; all or
    nothing. Returns the number of pixels classified."""
    wr0, wc0, _, _ = window
    n_tiles, classified = plan.tile_count(window), 0
    with RunWriters(outputs, plan.grid.window(*window), plan.card, qml=qml) as writer:
        for i, t in enumerate(plan.tiles(window)):

            def on_batch(fraction: float, i=i) -> None:
                check_cancel(progress)
                progress.set_progress(100.0 * (i + fraction) / n_tiles)

            check_cancel(progress)
            tile = _classify_tile(plan, t, backend, batch, prof, on_batch, outputs)
            t0 = time.perf_counter()
            writer.write(t.core[0] - wr0, t.core[1] - wc0, tile)
            prof.add("write", t0)
            classified += int(tile.valid.sum())
            progress.set_progress(100.0 * (i + 1) / n_tiles)
        if require_pixels and not classified:  # raised inside the block: the writers abort
            r0, c0, h, w = plan.area
            raise BDGFError(
                f"No pixel was classified: every pixel of the area the layers share (rows {r0}..{r0 + h}, "
                f"cols {c0}..{c0 + w}) is nodata in at least one layer, so no output was written. Check "
                "each layer's nodata value (--nodata / 'Nodata per layer') and that the layers cover the "
                "same place.")
        t0 = time.perf_counter()
    prof.add("write", t0)
    return classified


# ---------------------------------------------------------------- windows (batch jobs: engine/batch/run.py)

def plan_scene(package: ModelPackage, inputs, outputs: ClassifyOutputs | None, settings: ClassifySettings,
               *, bands: Mapping | None = None, nodata: Mapping | None = None,
               scale: Mapping | None = None) -> _Plan:
    """The run plan of a scene, checked as `classify` checks it (outputs only when given), for
    `classify_window`; opens the layers (GDAL datasets aligned on the spectral layer's grid)."""
    return _plan(package, inputs, outputs, settings.tile_size_px, bands, nodata, scale)


def batch_size(plan: _Plan, settings: ClassifySettings, backend) -> int:
    """Pixels per classifier call: the setting, else `engine_batch`."""
    return settings.batch_size or engine_batch(plan.card, sum(plan.norm.channels), backend)


def engine_batch(card: Mapping, channels: int, backend) -> int:
    """The batch the engine picks for this card and backend (model.tiling.default_batch): larger on the
    dense path of network versions 2 and 3, whose per-pixel step holds a few tokens per pixel."""
    short = bool(backend.dense) and network_version(card) >= 2
    return default_batch(channels, feature_channels(card), int(card["patch_size"]), backend.device, short)


@dataclass(frozen=True)
class WindowResult:
    """What `classify_window` wrote."""

    window: tuple[int, int, int, int]
    tiles: int
    pixels_classified: int
    seconds: float
    profile: dict[str, float] = field(default_factory=dict)


def classify_window(plan: _Plan, backend, outputs: ClassifyOutputs, window: tuple[int, int, int, int],
                    batch: int, progress: Progress | None = None, qml: bool = True) -> WindowResult:
    """Classify one window of the reference grid (row0, col0, h, w; origin on the tile grid, see
    `_Plan.check_window`) into `outputs`, rasters covering just that window. Its tiles, halos (read from
    the neighbouring pixels) and noise are those of the whole-scene run, so its pixels equal that run's
    bitwise. A window without a valid pixel is written as nodata. All or nothing, like `classify`."""
    progress = progress or SilentProgress()
    window = plan.check_window(window)
    started, prof = time.perf_counter(), Profile()
    with GdalMessages(forward=lambda text: progress.log(f"Warning: {text}")):
        classified = _run_window(plan, backend, batch, outputs, window, progress, prof, require_pixels=False,
                                 qml=qml)
    return WindowResult(window, plan.tile_count(window), classified, round(time.perf_counter() - started, 3),
                        {k: round(v, 3) for k, v in prof.items()})


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _read_tile(sources: Sequence, t: Tile, bands: Sequence[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """The tile window of every layer and where all the layers given are valid; a layer left out (source
    None) is a placeholder of its band count, whose channels the caller fills (model.missing_modality)."""
    arrays, valid = [], None
    for ds, n in zip(sources, bands):
        if ds is None:
            arrays.append(np.zeros((n, t.height, t.width), np.float32))
            continue
        data, ok = read_window(ds, t.row0, t.col0, t.height, t.width, pad=True, fill=0.0)
        arrays.append(data)
        valid = ok if valid is None else valid & ok
    return arrays, valid
