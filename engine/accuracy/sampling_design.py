"""A stratified random sample for validating a class map (Olofsson et al. 2014, section 5.1).

Strata are the map classes. The total sample size for a target standard error S(Ô) of the overall
accuracy follows Cochran's formula as in Olofsson et al. (2014), eq. 13:

    n = (Σ_i W_i S_i / S(Ô))²,   S_i = sqrt(U_i (1 − U_i))

with W_i the map share of class i and U_i its anticipated user's accuracy. The n points are allocated
in proportion to W_i, except that no class gets fewer than `minimum` (nor more than it has pixels);
the rest is shared in proportion to W_i among the others. Points are drawn without replacement inside
each class's pixels (seeded, uniform over the pixels, pixel centres), ready to be labelled and fed back
to the accuracy assessment as a stratified random sample.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BDGFError
from ..progress import Progress, SilentProgress, check_cancel
from ..raster.labels import check_class_raster
from ..raster.read import check_scan, grid_of, open_raster, row_strips

BLOCK_PIXELS = 1 << 22  # pixels read at a time (full-width row strips)


class SamplingDesignError(BDGFError):
    """A sampling design parameter is out of range or the map has nothing to sample."""


@dataclass(frozen=True)
class Stratum:
    value: int
    name: str
    mapped_pixels: int  # N_i
    weight: float  # W_i = N_i / N
    expected_users: float  # U_i, anticipated
    sample_size: int  # n_i, allocated

    @property
    def std(self) -> float:
        """S_i = sqrt(U_i (1 − U_i))."""
        return math.sqrt(self.expected_users * (1 - self.expected_users))


@dataclass(frozen=True)
class SampleDesign:
    strata: list[Stratum]
    target_se: float  # S(Ô)
    minimum: int  # floor per class
    cochran_n: int  # n of eq. 13, before the floors

    @property
    def total(self) -> int:
        return sum(s.sample_size for s in self.strata)

    @property
    def expected_se(self) -> float:
        """SE of OA expected with the allocated sizes: sqrt(Σ W_i² S_i² / n_i) (finite population ignored)."""
        return math.sqrt(sum(s.weight ** 2 * s.std ** 2 / s.sample_size for s in self.strata
                             if s.sample_size > 0))

    def to_dict(self) -> dict:
        return {"target_se": self.target_se, "minimum_per_class": self.minimum, "cochran_n": self.cochran_n,
                "total": self.total, "expected_se": self.expected_se,
                "strata": [{"value": s.value, "name": s.name, "mapped_pixels": s.mapped_pixels,
                            "weight": s.weight, "expected_users_accuracy": s.expected_users,
                            "sample_size": s.sample_size} for s in self.strata]}

    def to_markdown(self) -> str:
        lines = [f"Cochran's n for a standard error of OA of {self.target_se:g}: {self.cochran_n}; "
                 f"with at least {self.minimum} per class: {self.total} points "
                 f"(expected SE of OA {self.expected_se:.4f}).",
                 "", "| class | value | mapped pixels | W_i | anticipated UA | sample size |",
                 "|---|---:|---:|---:|---:|---:|"]
        if self.expected_se > self.target_se:
            lines.insert(1, f"The minimum per class costs precision: expected SE {self.expected_se:.4f} > "
                            f"target {self.target_se:g}; lower the minimum or the target SE for more points.")
        for s in self.strata:
            lines.append(f"| {s.name} | {s.value} | {s.mapped_pixels} | {s.weight:.4f} | "
                         f"{s.expected_users:g} | {s.sample_size} |")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SamplePoint:
    x: float  # pixel centre, in the map's CRS
    y: float
    row: int
    col: int
    value: int  # the map class (stratum)


def cochran_sample_size(weights: Sequence[float], expected_users: Sequence[float], target_se: float) -> int:
    """n = (Σ W_i S_i / S(Ô))², rounded up (Olofsson et al. 2014, eq. 13)."""
    if not 0 < target_se < 0.5:
        raise SamplingDesignError(f"target standard error of OA must be between 0 and 0.5, got {target_se}")
    for u in expected_users:
        if not 0 < u <= 1:
            raise SamplingDesignError(f"anticipated user's accuracies must be in (0, 1], got {u}")
    spread = sum(w * math.sqrt(u * (1 - u)) for w, u in zip(weights, expected_users))
    # round() first: (0.3 / 0.01)² is 900.0000000000001 in floating point
    return int(math.ceil(round((spread / target_se) ** 2, 9)))


def allocate(total: int, weights: Sequence[float], minimum: int, available: Sequence[int]) -> list[int]:
    """Sample sizes summing to `total` (or to the floors when they add up to more): proportional to the
    weights, but at least min(minimum, available) and at most `available` per class. Classes pinned to a
    bound keep it; the rest is shared again in proportion to the weights (largest remainders)."""
    if minimum < 0:
        raise SamplingDesignError(f"the minimum sample size per class must be >= 0, got {minimum}")
    k = len(weights)
    floors = [min(minimum, a) for a in available]
    total = min(max(total, sum(floors)), sum(available))
    fixed: dict[int, int] = {}
    while True:
        free = [i for i in range(k) if i not in fixed]
        left = total - sum(fixed.values())
        weight = sum(weights[i] for i in free)
        shares = {i: left * weights[i] / weight if weight > 0 else 0.0 for i in free}
        pinned = {i: floors[i] for i in free if shares[i] < floors[i]}
        if not pinned:
            pinned = {i: available[i] for i in free if shares[i] > available[i]}
        if not pinned:
            break
        fixed.update(pinned)
    sizes = dict(fixed)
    base = {i: math.floor(shares[i]) for i in free}
    rest = left - sum(base.values())
    for i in sorted(free, key=lambda i: (-(shares[i] - base[i]), i))[:rest]:
        base[i] += 1
    sizes.update(base)
    return [int(sizes[i]) for i in range(k)]


def design_sample(mapped_pixels: Mapping[int, int], names: Mapping[int, str],
                  expected_users: Mapping[int, float], target_se: float, minimum: int) -> SampleDesign:
    """The design for the map classes with pixels (`mapped_pixels`: class value -> pixel count)."""
    values = sorted(v for v, count in mapped_pixels.items() if count > 0)
    if not values:
        raise SamplingDesignError("the map has no classified pixel to sample")
    total_pixels = sum(mapped_pixels[v] for v in values)
    weights = [mapped_pixels[v] / total_pixels for v in values]
    users = [float(expected_users[v]) for v in values]
    n = cochran_sample_size(weights, users, target_se)
    sizes = allocate(n, weights, minimum, [mapped_pixels[v] for v in values])
    strata = [Stratum(value=v, name=names.get(v, str(v)), mapped_pixels=int(mapped_pixels[v]), weight=w,
                      expected_users=u, sample_size=s) for v, w, u, s in zip(values, weights, users, sizes)]
    return SampleDesign(strata=strata, target_se=target_se, minimum=minimum, cochran_n=n)


def parse_class_accuracies(text: str) -> dict[int, float]:
    """'3=0.7, 5=0.6' -> {3: 0.7, 5: 0.6} (anticipated user's accuracies of some classes)."""
    out: dict[int, float] = {}
    for item in (part.strip() for part in text.replace(";", ",").split(",")):
        if not item:
            continue
        try:
            value, accuracy = (x.strip() for x in item.split("="))
            out[int(value)] = float(accuracy)
        except ValueError:
            raise SamplingDesignError(
                f"'{item}' is not 'class value=accuracy' (expected e.g. '3=0.7, 5=0.6')") from None
    return out


def _valid_values(found: np.ndarray, counts: np.ndarray, nodata) -> dict[int, int]:
    keep = found != 0
    if nodata is not None and float(nodata).is_integer():
        keep &= found != int(nodata)
    return dict(zip(found[keep].tolist(), counts[keep].tolist()))


def count_classes(class_path: str, progress: Progress | None = None) -> dict[int, int]:
    """Pixel count of each class value of a class raster (band 1), read in strips; 0 and nodata excluded."""
    progress = progress or SilentProgress()
    check_scan(grid_of(class_path), "class raster")
    check_class_raster(class_path, "class map")
    ds = open_raster(class_path)
    band = ds.GetRasterBand(1)
    totals: dict[int, int] = {}
    for row0, block in row_strips(band, BLOCK_PIXELS):
        check_cancel(progress)  # between strips: a cancel (QGIS, Ctrl+C) is honoured within a second
        progress.set_progress(50.0 * (row0 + block.shape[0]) / band.YSize)
        found, counts = np.unique(block, return_counts=True)
        for value, count in _valid_values(found, counts, band.GetNoDataValue()).items():
            totals[value] = totals.get(value, 0) + count
    return totals


def draw_sample(class_path: str, design: SampleDesign, seed: int,
                progress: Progress | None = None) -> list[SamplePoint]:
    """Draw each stratum's points uniformly without replacement among its pixels (pixel centres).

    The ranks of the chosen pixels (in row-major order within the class) are drawn first, from a
    generator seeded with `seed`; one pass over the raster then turns ranks into pixels. Same raster,
    design and seed: same points."""
    rng = np.random.default_rng(seed)
    ranks = {s.value: np.sort(rng.choice(s.mapped_pixels, size=s.sample_size, replace=False))
             for s in design.strata}
    seen = {value: 0 for value in ranks}
    grid = grid_of(class_path)
    ds = open_raster(class_path)  # kept: a band outlives no dataset (GDAL frees it)
    band = ds.GetRasterBand(1)
    points: list[SamplePoint] = []
    progress = progress or SilentProgress()
    for row0, block in row_strips(band, BLOCK_PIXELS):
        check_cancel(progress)
        progress.set_progress(50.0 + 50.0 * (row0 + block.shape[0]) / band.YSize)
        width = block.shape[1]
        for value, wanted in ranks.items():
            where = np.flatnonzero(block == value)
            lo, hi = np.searchsorted(wanted, [seen[value], seen[value] + where.size])
            for flat in where[wanted[lo:hi] - seen[value]]:
                row, col = row0 + int(flat) // width, int(flat) % width
                x, y = grid.centre(row, col)
                points.append(SamplePoint(x=x, y=y, row=row, col=col, value=value))
            seen[value] += where.size
    changed = {s.value: seen[s.value] for s in design.strata if seen[s.value] != s.mapped_pixels}
    if changed:
        raise SamplingDesignError(f"the class raster changed since it was counted (pixels now: {changed})")
    points.sort(key=lambda p: (p.value, p.row, p.col))
    return points
