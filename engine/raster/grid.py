"""Pixel grids and where they lie: size, geotransform and CRS; CRS comparison and labels; footprints and
the window of a reference grid that other layers cover; a pixel's area in m².

    grid = grid_of("hsi.tif")                       # raster.read
    window = intersection_window(grid, [grid_of("sar.tif"), grid_of("dsm.tif")])
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from osgeo import osr

from ..errors import InputMismatchError


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: size, GDAL geotransform and CRS (WKT, '' when unknown)."""

    width: int
    height: int
    geotransform: tuple[float, float, float, float, float, float]
    crs_wkt: str

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the outer pixel edges."""
        x0, dx, _, y0, _, dy = self.geotransform
        xs = (x0, x0 + dx * self.width)
        ys = (y0, y0 + dy * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def pixel_size(self) -> tuple[float, float]:
        return abs(self.geotransform[1]), abs(self.geotransform[5])

    @property
    def is_north_up(self) -> bool:
        gt = self.geotransform
        return gt[2] == 0 and gt[4] == 0 and gt[1] > 0 and gt[5] < 0

    def centre(self, row: int, col: int) -> tuple[float, float]:
        """Map coordinates (x, y) of a pixel's centre."""
        gt = self.geotransform
        return (gt[0] + (col + 0.5) * gt[1] + (row + 0.5) * gt[2],
                gt[3] + (col + 0.5) * gt[4] + (row + 0.5) * gt[5])

    def window(self, row0: int, col0: int, h: int, w: int) -> Grid:
        """The sub-grid of a window (which may extend past the edges)."""
        x0, dx, rx, y0, ry, dy = self.geotransform
        gt = (x0 + col0 * dx + row0 * rx, dx, rx, y0 + col0 * ry + row0 * dy, ry, dy)
        return Grid(w, h, gt, self.crs_wkt)

    def same_as(self, other: Grid, tol: float = 1e-6) -> bool:
        """Same size, geotransform (within `tol` pixel) and CRS."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        px = max(self.pixel_size)
        if any(abs(a - b) > tol * px for a, b in zip(self.geotransform, other.geotransform)):
            return False
        return same_crs(self.crs_wkt, other.crs_wkt)

    def describe(self) -> str:
        xmin, ymin, xmax, ymax = self.bounds
        dx, dy = self.pixel_size
        return (f"{self.width}x{self.height} px of {dx:g}x{dy:g}, "
                f"x {xmin:.10g}..{xmax:.10g}, y {ymin:.10g}..{ymax:.10g} ({crs_label(self.crs_wkt)})")


def _srs(wkt: str) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def same_crs(wkt_a: str, wkt_b: str) -> bool:
    if not wkt_a or not wkt_b:
        return not wkt_a and not wkt_b
    return wkt_a == wkt_b or bool(_srs(wkt_a).IsSame(_srs(wkt_b)))


def crs_label(wkt: str) -> str:
    """'EPSG:32632 WGS 84 / UTM zone 32N' style label; 'no CRS' when empty."""
    if not wkt:
        return "no CRS"
    srs = _srs(wkt)
    srs.AutoIdentifyEPSG()
    name = srs.GetName() or "unnamed CRS"
    auth, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    return f"{auth}:{code} {name}" if auth and code else name


_WRONG_CRS = ("its coordinates lie outside what its own CRS allows, so the CRS the file declares is probably "
              "wrong (e.g. metres labelled as degrees). Assign the right CRS to the layer (QGIS: Layer "
              "Properties > Source > Assigned coordinate reference system; GDAL: gdal_edit.py -a_srs "
              "EPSG:...).")


def impossible_extent(grid: Grid) -> bool:
    """A geographic CRS on coordinates no longitude / latitude can have (metres labelled as degrees)."""
    if not grid.crs_wkt or not _srs(grid.crs_wkt).IsGeographic():
        return False
    xmin, ymin, xmax, ymax = grid.bounds
    return ymin < -90.5 or ymax > 90.5 or xmin < -540 or xmax > 540


def footprint_in(grid: Grid, crs_wkt: str) -> tuple[float, float, float, float]:
    """Bounds of `grid` expressed in `crs_wkt` (densified edges)."""
    if same_crs(grid.crs_wkt, crs_wkt):
        return grid.bounds
    source = _srs(grid.crs_wkt)
    xmin, ymin, xmax, ymax = grid.bounds
    unplaceable = InputMismatchError(
        f"its extent ({grid.describe()}) cannot be placed in {crs_label(crs_wkt)}: {_WRONG_CRS}")
    if impossible_extent(grid):
        raise unplaceable
    try:
        transform = osr.CoordinateTransformation(source, _srs(crs_wkt))
        bounds = tuple(transform.TransformBounds(xmin, ymin, xmax, ymax, 21))
    except (RuntimeError, TypeError):  # GDAL raises when the host enabled exceptions
        raise unplaceable from None
    if not all(math.isfinite(v) and abs(v) < 1e15 for v in bounds):
        raise unplaceable
    return bounds


def _rotated_bounds(grid: Grid) -> Grid:
    """For a rotated grid, a north-up grid with the same envelope (only bounds are used)."""
    if grid.is_north_up:
        return grid
    x0, dx, rx, y0, ry, dy = grid.geotransform
    corners = [(x0 + c * dx + r * rx, y0 + c * ry + r * dy)
               for r in (0, grid.height) for c in (0, grid.width)]
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return Grid(1, 1, (min(xs), max(xs) - min(xs), 0.0, max(ys), 0.0, min(ys) - max(ys)), grid.crs_wkt)


def overlap_window(ref: Grid, other: Grid) -> tuple[int, int, int, int] | None:
    """(row0, col0, h, w) of `ref` covered by `other`'s footprint, or None when they do not overlap."""
    xmin, ymin, xmax, ymax = footprint_in(_rotated_bounds(other), ref.crs_wkt)
    x0, dx, _, y0, _, dy = ref.geotransform
    col0 = max(0, math.floor((xmin - x0) / dx + 1e-9))
    col1 = min(ref.width, math.ceil((xmax - x0) / dx - 1e-9))
    row0 = max(0, math.floor((ymax - y0) / dy + 1e-9))
    row1 = min(ref.height, math.ceil((ymin - y0) / dy - 1e-9))
    if col1 <= col0 or row1 <= row0 or not all(map(math.isfinite, (xmin, ymin, xmax, ymax))):
        return None
    return row0, col0, row1 - row0, col1 - col0


def check_overlap(ref: Grid, other: Grid, other_name: str = "layer") -> tuple[int, int, int, int]:
    """overlap_window, raising InputMismatchError (both extents and CRSs) when there is none."""
    if bool(ref.crs_wkt) != bool(other.crs_wkt):
        missing = "the reference layer" if not ref.crs_wkt else other_name
        raise InputMismatchError(
            f"Cannot align {other_name} on the reference grid: {missing} has no coordinate reference "
            "system. Assign a CRS to the layer.")
    if impossible_extent(ref):
        raise InputMismatchError(f"The reference layer's extent ({ref.describe()}) does not fit its CRS: "
                                 + _WRONG_CRS)
    try:
        window = overlap_window(ref, other)
    except InputMismatchError as exc:
        raise InputMismatchError(f"Cannot align {other_name} on the reference grid: {exc}") from None
    if window is None:
        raise InputMismatchError(
            f"{other_name} does not overlap the reference layer. {other_name}: {other.describe()}; "
            f"reference: {ref.describe()}.")
    return window


def intersection_window(ref: Grid, others: Sequence[Grid],
                        names: Sequence[str] | None = None) -> tuple[int, int, int, int]:
    """Window of `ref` covered by every grid in `others` (InputMismatchError when empty)."""
    r0, c0, r1, c1 = 0, 0, ref.height, ref.width
    for i, other in enumerate(others):
        wr, wc, wh, ww = check_overlap(ref, other, names[i] if names else f"layer {i + 1}")
        r0, c0, r1, c1 = max(r0, wr), max(c0, wc), min(r1, wr + wh), min(c1, wc + ww)
    if r1 <= r0 or c1 <= c0:
        raise InputMismatchError(
            "The input layers overlap the reference layer separately but have no area in common: "
            + "; ".join(g.describe() for g in others))
    return r0, c0, r1 - r0, c1 - c0


def pixel_area(geotransform: Sequence[float], crs_wkt: str) -> tuple[float | None, str]:
    """(pixel area in m², or None; a sentence saying how hectares are derived or why there are none)."""
    if not crs_wkt:
        return None, "The map has no CRS: areas are given in pixels only."
    srs = osr.SpatialReference()
    if srs.ImportFromWkt(crs_wkt) != 0:
        return None, "The map's CRS could not be read: areas are given in pixels only."
    if not srs.IsProjected():
        return None, ("The map's CRS is not projected (degrees): pixel areas vary across the map, so areas "
                      "are given in pixels only. Reproject the map to an equal-area CRS for hectares.")
    gt = geotransform
    unit, to_metre = srs.GetLinearUnitsName(), srs.GetLinearUnits()
    area = abs(gt[1] * gt[5] - gt[2] * gt[4]) * to_metre ** 2
    size = f"{abs(gt[1]):g} × {abs(gt[5]):g} {unit}"
    if to_metre == 1.0:
        return area, f"Pixel {size} = {area:g} m² (the CRS's units are metres); 1 ha = 10,000 m²."
    return area, (f"Pixel {size}; the CRS's units are not metres: converted with 1 {unit} = {to_metre:g} m, "
                  f"pixel area {area:g} m²; 1 ha = 10,000 m².")
