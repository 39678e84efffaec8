"""Where to label next: the most uncertain pixels of a class map, spread out and balanced across its
classes, as a point layer to label (README, "Trust outputs"; QGIS: bdgf:suggestsamples).

    suggestion = suggest_samples("classes.tif", "entropy.tif", SuggestSettings(count=50, min_distance_px=10))
    write_suggestion("to_label.gpkg", suggestion)  # fields: rank, class_value, class_name, uncertainty,
                                                   # row, col and an empty `label` for the true class value

The rule (greedy, deterministic):
- candidates: the pixels classified in the class map (not 0 / nodata) whose uncertainty (band `band` of the
  uncertainty raster: the entropy or the branch disagreement of `engine classify`, on the same grid) is valid;
- within each predicted class the candidates are taken from the highest uncertainty down (equal values in
  an order drawn from `seed`), and a candidate closer than `min_distance_px` (pixel centres, Euclidean) to
  a point already chosen, of any class, is skipped;
- the classes take turns, one point per turn (the order of turns drawn from `seed`), until `count` points
  are chosen or no class has a candidate left: per-class counts differ by at most one, except for classes
  that run out of candidates.
So within a class a point is never chosen while a more uncertain pixel of that class, not within the
minimum distance of a chosen point, is left. The rasters are read in strips; each class keeps only its best
candidates (more when the spacing uses them up, read again), so memory does not grow with the scene.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import BDGFError
from ..progress import Progress, SilentProgress, check_cancel
from ..raster.guard import check_outputs
from ..raster.labels import check_class_raster
from ..raster.points import write_points
from ..raster.read import check_scan, grid_of, open_raster, row_strips
from ..raster.write import read_classes

LAYER_NAME = "suggested_samples"
LABEL_FIELD = "label"  # left empty: the interpreter writes the true class value here
STRIP_PIXELS = 1 << 20  # pixels read per strip
POOL_MIN = 4096  # candidates kept per class in the first pass (more when the spacing uses them up)


@dataclass(frozen=True)
class SuggestSettings:
    """How many points, how far apart (pixels), which random order for ties and turns, which band."""

    count: int = 50
    min_distance_px: float = 10.0
    seed: int = 0
    band: int = 1

    def __post_init__(self) -> None:
        for name, low in (("count", 1), ("seed", 0), ("band", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BDGFError(f"Suggested samples: {name} must be a whole number >= {low}, got {value!r}.")
        distance = self.min_distance_px
        if isinstance(distance, bool) or not isinstance(distance, (int, float)) or not distance >= 0 \
                or not math.isfinite(distance):
            raise BDGFError("Suggested samples: the minimum distance must be a number of pixels >= 0, got "
                            f"{distance!r}.")


@dataclass(frozen=True)
class SuggestedPoint:
    rank: int  # 1 = chosen first
    row: int
    col: int
    x: float  # pixel centre in the rasters' CRS
    y: float
    value: int  # predicted class value
    name: str
    uncertainty: float


@dataclass(frozen=True)
class Suggestion:
    points: list[SuggestedPoint]
    per_class: dict[int, int]  # class value -> points chosen
    candidates: dict[int, int]  # class value -> classified pixels with a valid uncertainty
    crs_wkt: str
    settings: SuggestSettings
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- checks

def check_rasters(classes_path: str, uncertainty_path: str, band: int = 1) -> None:
    """BDGFError when the rasters cannot be read, are not on one grid, the band is missing, or the
    'uncertainty' is the branch agreement or the confidence (high there means trustworthy)."""
    grids = {path: grid_of(path) for path in (classes_path, uncertainty_path)}
    a, b = grids[classes_path], grids[uncertainty_path]
    if (a.width, a.height) != (b.width, b.height) or not np.allclose(a.geotransform, b.geotransform,
                                                                      rtol=0, atol=1e-9 * max(a.pixel_size)):
        raise BDGFError(f"The class raster and the uncertainty raster must be on the same grid (both written "
                        f"by one classification): {classes_path} is {a.describe()}, {uncertainty_path} is "
                        f"{b.describe()}.")
    ds = open_raster(uncertainty_path)
    if not 1 <= band <= ds.RasterCount:
        raise BDGFError(f"{uncertainty_path} has {ds.RasterCount} band(s); band {band} was asked for.")
    description = ds.GetRasterBand(band).GetDescription().strip().lower()
    if description in ("branch agreement", "confidence"):  # high = trustworthy: the opposite sense
        raise BDGFError(f"{uncertainty_path} (band {band}) is the {description}, where a high value means "
                        "the map is trustworthy there: the most certain pixels would be suggested. Give the "
                        "entropy or the branch disagreement raster instead (engine classify --entropy / "
                        "--disagreement; QGIS: 'Also write: Uncertainty').")


def check_output(path: str, *inputs: str) -> str:
    """The absolute output path; BDGFError when it is not a .gpkg, names an input or a folder, or its folder
    is missing or read-only."""
    path = os.path.abspath(os.fspath(path))
    check_outputs({"suggested points": path},
                  inputs=dict(zip(("class map", "uncertainty raster"), inputs)))
    if os.path.splitext(path)[1].lower() != ".gpkg":
        raise BDGFError(f"The suggested points are written as a GeoPackage: give a file name ending in .gpkg "
                        f"(found {path}).")
    return path


# ---------------------------------------------------------------- selection

def suggest_samples(classes_path: str, uncertainty_path: str, settings: SuggestSettings | None = None,
                    progress: Progress | None = None) -> Suggestion:
    """The points to label next (see the module docstring). BDGFError for unusable rasters or when no pixel
    is classified with a valid uncertainty."""
    settings = settings or SuggestSettings()
    progress = progress or SilentProgress()
    classes_path, uncertainty_path = os.fspath(classes_path), os.fspath(uncertainty_path)
    check_rasters(classes_path, uncertainty_path, settings.band)
    check_scan(grid_of(classes_path), "class raster")
    check_class_raster(classes_path, "class map")  # after the size check: it reads a sample
    caps: dict[int, int] = {}
    while True:
        pools, counts, width = _pools(classes_path, uncertainty_path, settings, caps, progress)
        if not counts:
            raise BDGFError(f"No pixel of {classes_path} is classified with a valid uncertainty in "
                            f"{uncertainty_path} (band {settings.band}): nothing to suggest.")
        chosen, short = _choose(pools, counts, width, settings)
        if not short:  # no class ran out of kept candidates while it had more in the raster
            break
        for value in short:
            caps[value] = max(caps.get(value, POOL_MIN), len(pools[value][0])) * 8
    grid = grid_of(classes_path)
    names = {c["value"]: c["name"] for c in read_classes(classes_path)}
    points = []
    for rank, (value, flat, u) in enumerate(chosen, 1):
        row, col = divmod(int(flat), width)
        x, y = grid.centre(row, col)
        points.append(SuggestedPoint(rank, row, col, x, y, int(value), names.get(value, f"class {value}"),
                                     float(u)))
    per_class = {v: sum(p.value == v for p in points) for v in sorted(counts)}
    warnings = []
    chosen_u = [p.uncertainty for p in points]
    if chosen_u and min(chosen_u) >= 0.9 and _median_sample(uncertainty_path, settings.band) > 0.7:
        warnings.append("Most pixels of the uncertainty raster are above 0.7: if it is a confidence raster "
                        "(high = sure), these are the most certain pixels, not the least; give the entropy.")
    if len(points) < settings.count:
        warnings.append(f"{len(points)} of the {settings.count} points asked for: no other candidate is "
                        f"{settings.min_distance_px:g} px or more from the chosen ones. Lower the minimum "
                        "distance for more.")
    return Suggestion(points, per_class, dict(sorted(counts.items())), grid.crs_wkt, settings, warnings)


def _median_sample(path: str, band: int, pixels: int = 1 << 16) -> float:
    """The median of a sample of a raster's valid values (a check of what the raster means)."""
    ds = open_raster(path)
    rb = ds.GetRasterBand(band)
    step = max(1, int((ds.RasterXSize * ds.RasterYSize / pixels) ** 0.5))
    values = rb.ReadAsArray(buf_xsize=max(1, ds.RasterXSize // step),
                            buf_ysize=max(1, ds.RasterYSize // step))
    values = values[np.isfinite(values)].astype(np.float64)
    nodata = rb.GetNoDataValue()
    if nodata is not None:
        values = values[values != nodata]
    return float(np.median(values)) if values.size else 0.0


def _pools(classes_path, uncertainty_path, settings: SuggestSettings, caps: dict[int, int],
           progress: Progress) -> tuple[dict, dict, int]:
    """Per class value: its best candidates ((uncertainty, tie key, flat index) arrays, best first, at most
    its cap), the number of candidates in the raster, and the raster width."""
    cls_ds, unc_ds = open_raster(classes_path), open_raster(uncertainty_path)
    cls_band, unc_band = cls_ds.GetRasterBand(1), unc_ds.GetRasterBand(settings.band)
    cls_nodata, unc_nodata = cls_band.GetNoDataValue(), unc_band.GetNoDataValue()
    width, height = cls_ds.RasterXSize, cls_ds.RasterYSize
    ties = np.random.default_rng([settings.seed, 0])
    pools: dict[int, tuple] = {}
    counts: dict[int, int] = {}
    strips = zip(row_strips(cls_band, STRIP_PIXELS, np.int64), row_strips(unc_band, STRIP_PIXELS, np.float64))
    for (row0, cls), (_, unc) in strips:
        check_cancel(progress)
        h = cls.shape[0]
        cls, unc = cls.ravel(), unc.ravel()
        tie = ties.random(cls.size)
        ok = (cls != 0) & np.isfinite(unc)
        if cls_nodata is not None:
            ok &= cls != cls_nodata
        if unc_nodata is not None:
            ok &= unc != unc_nodata
        flat = np.flatnonzero(ok)
        for value in np.unique(cls[flat]).tolist():
            at = flat[cls[flat] == value]
            counts[value] = counts.get(value, 0) + at.size
            parts = (unc[at], tie[at], at + row0 * width)
            if value in pools:
                parts = tuple(np.concatenate(pair) for pair in zip(pools[value], parts))
            order = np.lexsort((parts[1], -parts[0]))[:caps.get(value, POOL_MIN)]
            pools[value] = tuple(p[order] for p in parts)
        progress.set_progress(80.0 * (row0 + h) / height)
    return pools, counts, width


def _choose(pools: dict, counts: dict, width: int, settings: SuggestSettings) -> tuple[list, list]:
    """Greedy turns over the classes (module docstring). Returns ([(value, flat, uncertainty)] in the order
    chosen, [class values that ran out of kept candidates while the raster has more])."""
    d = float(settings.min_distance_px)
    cell = max(d, 1.0)
    taken: dict[tuple[int, int], list[tuple[int, int]]] = {}
    turns = np.random.default_rng([settings.seed, 1]).permutation(sorted(pools)).tolist()
    position = {v: 0 for v in turns}
    active = list(turns)
    chosen: list = []
    short: list = []

    def far_enough(row: int, col: int) -> bool:
        if d <= 1.0:  # distinct pixels are 1 px or more apart
            return True
        cy, cx = int(row // cell), int(col // cell)
        for ky in (cy - 1, cy, cy + 1):
            for kx in (cx - 1, cx, cx + 1):
                for r, c in taken.get((ky, kx), ()):
                    if (r - row) ** 2 + (c - col) ** 2 < d * d:
                        return False
        return True

    while active and len(chosen) < settings.count:
        for value in list(active):
            if len(chosen) >= settings.count:
                break
            unc, _, flat = pools[value]
            i = position[value]
            while i < len(flat):
                row, col = divmod(int(flat[i]), width)
                i += 1
                if far_enough(row, col):
                    taken.setdefault((int(row // cell), int(col // cell)), []).append((row, col))
                    chosen.append((value, int(flat[i - 1]), float(unc[i - 1])))
                    break
            else:
                active.remove(value)
                if len(flat) < counts[value]:
                    short.append(value)
            position[value] = i
    return chosen, short



# ---------------------------------------------------------------- the point layer

FIELDS = (("rank", "int"), ("class_value", "int"), ("class_name", "str"), ("uncertainty", "real"),
          ("row", "int"), ("col", "int"), (LABEL_FIELD, "int"))


def write_suggestion(path: str, suggestion: Suggestion) -> str:
    """The points as a GeoPackage point layer LAYER_NAME (FIELDS; `label` empty for the user to fill), all
    or nothing (raster.points). Returns the path."""
    rows = [(p.x, p.y, {"rank": p.rank, "class_value": p.value, "class_name": p.name,
                        "uncertainty": p.uncertainty, "row": p.row, "col": p.col})
            for p in suggestion.points]
    return write_points(path, LAYER_NAME, FIELDS, rows, suggestion.crs_wkt, what="suggested points")


def suggest_and_write(classes_path: str, uncertainty_path: str, out_path: str,
                      settings: SuggestSettings | None = None,
                      progress: Progress | None = None) -> Suggestion:
    """check_output, suggest_samples, write_suggestion: every check before any work, then all or nothing."""
    out_path = check_output(out_path, classes_path, uncertainty_path)
    suggestion = suggest_samples(classes_path, uncertainty_path, settings, progress)
    write_suggestion(out_path, suggestion)
    return suggestion
