"""GDAL raster I/O: describe layers, align them on a reference grid, windowed reads with validity masks.

Conventions: band indices are 1-based (as in GDAL and QGIS); windows are (row0, col0, h, w) on the
reference grid; arrays are float32 (bands, h, w); masks are bool (h, w), True = valid pixel.
A pixel is invalid when any band equals that band's nodata, is NaN/inf, is masked by an alpha /
internal mask band, or lies outside the raster (padding).
"""
from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
from osgeo import gdal

from ..errors import BDGFError, InputMismatchError
from .grid import Grid, check_overlap
from .nodata import Nodata, check_nodata

RESAMPLING = ("nearest", "bilinear", "cubic", "cubicspline", "lanczos", "average", "mode")
# typing.Union: a module-level `|` needs Python 3.10 (QGIS 3.22 ships 3.9)
Source = Union[str, os.PathLike, gdal.Dataset]


# ---------------------------------------------------------------- what a raster is


@dataclass(frozen=True)
class RasterInfo:
    """What a raster holds: grid, bands, per-band nodata, data types and descriptions."""

    path: str
    grid: Grid
    band_count: int
    nodata: tuple[float | None, ...]
    dtypes: tuple[str, ...]
    descriptions: tuple[str, ...]

    @property
    def width(self) -> int:
        return self.grid.width

    @property
    def height(self) -> int:
        return self.grid.height

    @property
    def geotransform(self) -> tuple[float, ...]:
        return self.grid.geotransform

    @property
    def crs_wkt(self) -> str:
        return self.grid.crs_wkt


# ---------------------------------------------------------------- opening

@contextlib.contextmanager
def _quiet_gdal() -> Iterator[None]:
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()


class GdalMessages:
    """Collects the errors and warnings GDAL reports on this thread while active (a pushed handler), so
    they reach the run's own log instead of stderr; `forward(text)` also passes warnings on as they come.

        with GdalMessages(forward=lambda text: log.warning(text)) as messages:
            ...
        if messages.errors: ...
    """

    def __init__(self, forward=None):
        self.forward = forward
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def _handler(self, level, code, message) -> None:
        text = str(message).strip()
        if level >= gdal.CE_Failure:
            self.errors.append(text)
        elif level == gdal.CE_Warning:
            if self.forward is not None and text not in self.warnings:  # once, not once per tile
                self.forward(f"GDAL warning: {text}")
            self.warnings.append(text)

    def __enter__(self) -> GdalMessages:
        gdal.PushErrorHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        gdal.PopErrorHandler()


def limit_gdal_cache(megabytes: int = 256) -> None:
    """GDAL's block cache defaults to 5 % of the RAM and counts in the peak RSS; a streaming run needs
    little. Only for standalone processes (CLI, batch, benchmarks): inside QGIS the host owns it."""
    if "GDAL_CACHEMAX" not in os.environ:
        gdal.SetCacheMax(megabytes << 20)


def open_raster(source: Source) -> gdal.Dataset:
    """Open a raster read-only; BDGFError with GDAL's reason when it cannot be read."""
    if isinstance(source, gdal.Dataset):
        return source
    path = os.fspath(source)
    gdal.ErrorReset()
    with _quiet_gdal():
        try:
            ds = gdal.Open(path, gdal.GA_ReadOnly)
        except RuntimeError as exc:  # when the host enabled gdal.UseExceptions()
            raise BDGFError(f"Cannot open raster {path}: {exc}") from exc
    if ds is None:
        reason = gdal.GetLastErrorMsg() or "not a raster GDAL can read"
        raise BDGFError(f"Cannot open raster {path}: {reason}")
    return ds


def _name(source: Source) -> str:
    if isinstance(source, gdal.Dataset):
        return source.GetDescription() or "in-memory raster"
    return os.fspath(source)


def grid_of(source: Source) -> Grid:
    ds = open_raster(source)
    return Grid(ds.RasterXSize, ds.RasterYSize, tuple(ds.GetGeoTransform()), ds.GetProjection() or "")


def describe_raster(source: Source) -> RasterInfo:
    ds = open_raster(source)
    bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
    return RasterInfo(
        path=_name(source),
        grid=grid_of(ds),
        band_count=ds.RasterCount,
        nodata=tuple(b.GetNoDataValue() for b in bands),
        dtypes=tuple(gdal.GetDataTypeName(b.DataType) for b in bands),
        descriptions=tuple(b.GetDescription() for b in bands),
    )


def reference_grid(spectral: Source) -> Grid:
    """The grid every layer is aligned on: the spectral layer's own grid."""
    grid = grid_of(spectral)
    if not grid.is_north_up:
        raise InputMismatchError(
            f"{_name(spectral)}: the reference (spectral) layer must be north-up without rotation; "
            f"found geotransform {grid.geotransform}. Warp it to a north-up grid first.")
    return grid


# ---------------------------------------------------------------- alignment

def aligned_vrt(source: Source, ref_grid: Grid, resampling: str = "bilinear",
                bands: Sequence[int] | None = None, nodata: Nodata = None) -> gdal.Dataset:
    """A virtual dataset with `source` on `ref_grid` (lazy: nothing is read until a window is).

    Same grid: the source itself (band subset as VRT). Otherwise a warped VRT, Float32 with NaN
    nodata: pixels outside `source`'s footprint, or resampled from nodata, read as NaN (invalid).
    Use "bilinear" for data, "nearest" for labels. InputMismatchError when footprints don't overlap.
    `nodata` replaces (a number) or drops (NO_NODATA) the nodata the file declares; this is the one place
    training and inference apply it, so both see the same valid pixels.
    """
    if resampling not in RESAMPLING:
        raise ValueError(f"resampling must be one of {RESAMPLING}, got {resampling!r}")
    ds = open_raster(source)
    name = _name(source)
    band_list = _check_bands(ds, bands, name)
    nodata = check_nodata(nodata, name)
    src_grid = grid_of(ds)
    if band_list != list(range(1, ds.RasterCount + 1)) or nodata is not None:
        # a VRT over the source: only metadata changes, the pixel values are read from the file
        options = {"bandList": band_list}
        if nodata is not None:
            options["noData"] = nodata
        ds = _gdal_call(gdal.Translate, "", ds, f"select bands / set the nodata of {name}", format="VRT",
                        **options)
    if src_grid.same_as(ref_grid):
        return ds
    if not ref_grid.is_north_up:
        raise InputMismatchError(f"The reference grid must be north-up; found {ref_grid.geotransform}.")
    check_overlap(ref_grid, src_grid, name)
    xmin, ymin, xmax, ymax = ref_grid.bounds
    return _gdal_call(
        gdal.Warp, "", ds, f"align {name} on the reference grid",
        format="VRT", outputBounds=(xmin, ymin, xmax, ymax), width=ref_grid.width,
        height=ref_grid.height, dstSRS=ref_grid.crs_wkt or None, resampleAlg=resampling,
        outputType=gdal.GDT_Float32, dstNodata=float("nan"))


def _check_bands(ds: gdal.Dataset, bands: Sequence[int] | None, name: str) -> list[int]:
    if bands is None:
        return list(range(1, ds.RasterCount + 1))
    band_list = [int(b) for b in bands]
    bad = [b for b in band_list if not 1 <= b <= ds.RasterCount]
    if bad or not band_list:
        raise InputMismatchError(
            f"{name}: band(s) {bad or 'none'} requested, but the layer has bands 1..{ds.RasterCount}.")
    return band_list


def _gdal_call(func, dest, src, what: str, **options) -> gdal.Dataset:
    gdal.ErrorReset()
    with _quiet_gdal():
        try:
            out = func(dest, src, **options)
        except RuntimeError as exc:
            raise BDGFError(f"Cannot {what}: {exc}") from exc
    if out is None:
        raise BDGFError(f"Cannot {what}: {gdal.GetLastErrorMsg() or 'GDAL failed'}")
    out._bdgf_source = src  # keep the Python source object alive as long as the virtual dataset
    return out


# ---------------------------------------------------------------- windowed reads

def read_window(ds: gdal.Dataset, row0: int, col0: int, h: int, w: int,
                bands: Sequence[int] | None = None, pad: bool = True,
                fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Read a window as float32 (bands, h, w) and its validity mask (h, w).

    The window may extend past the raster when `pad` (outside = `fill`, invalid); with pad=False
    it must lie inside (ValueError otherwise). Invalid pixels hold `fill`.
    """
    band_list = _check_bands(ds, bands, _name(ds))
    data = np.full((len(band_list), h, w), fill, dtype=np.float32)
    valid = np.zeros((h, w), dtype=bool)
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, ds.RasterYSize), min(col0 + w, ds.RasterXSize)
    if not pad and (r0, c0, r1, c1) != (row0, col0, row0 + h, col0 + w):
        raise ValueError(f"window rows {row0}..{row0 + h}, cols {col0}..{col0 + w} exceeds the raster "
                         f"({ds.RasterYSize}x{ds.RasterXSize}) and pad=False")
    if r1 <= r0 or c1 <= c0:
        return data, valid
    raw = ds.ReadAsArray(c0, r0, c1 - c0, r1 - r0, band_list=band_list)
    if raw is None:
        raise BDGFError(f"Cannot read {_name(ds)}: {gdal.GetLastErrorMsg()}")
    raw = raw.reshape(len(band_list), r1 - r0, c1 - c0)
    inner = _valid_pixels(ds, raw, band_list, c0, r0)
    block = raw.astype(np.float32, copy=False)
    block = np.where(inner[None], block, np.float32(fill))
    data[:, r0 - row0:r1 - row0, c0 - col0:c1 - col0] = block
    valid[r0 - row0:r1 - row0, c0 - col0:c1 - col0] = inner
    return data, valid


def sample_window(ds: gdal.Dataset, row0: int, col0: int, h: int, w: int, max_pixels: int = 256 * 256,
                  squares: int = 8) -> tuple[np.ndarray, np.ndarray, bool]:
    """A sample of a window inside the raster, for statistics before a run: float32 (bands, h', w'), its
    validity mask (read_window's rule) and whether it is exact. The whole window when it holds at most
    `max_pixels`, else squares x squares small squares spread evenly over it, side by side: each touches
    a few blocks of the file, where a decimated read of the whole window would decode every block."""
    if h * w <= max_pixels:
        data, valid = read_window(ds, row0, col0, h, w, pad=False)
        return data, valid, True
    side = max(1, math.isqrt(max_pixels) // squares)
    sh, sw = min(side, h), min(side, w)
    rows = np.unique(np.linspace(row0, row0 + h - sh, squares).round().astype(int))
    cols = np.unique(np.linspace(col0, col0 + w - sw, squares).round().astype(int))
    pieces = [[read_window(ds, int(r), int(c), sh, sw, pad=False) for c in cols] for r in rows]
    data = np.block([[piece[0] for piece in row] for row in pieces])
    valid = np.block([[piece[1] for piece in row] for row in pieces])
    return data, valid, False


def _valid_pixels(ds: gdal.Dataset, raw: np.ndarray, band_list: list[int],
                  xoff: int, yoff: int) -> np.ndarray:
    """Valid where every band is finite, differs from its nodata and is not masked out."""
    valid = np.ones(raw.shape[1:], dtype=bool)
    if np.issubdtype(raw.dtype, np.floating) or np.issubdtype(raw.dtype, np.complexfloating):
        valid &= np.isfinite(raw).all(axis=0)
    seen_dataset_mask = False
    for i, b in enumerate(band_list):
        band = ds.GetRasterBand(b)
        flags = band.GetMaskFlags()
        if flags & gdal.GMF_ALL_VALID:
            continue
        nodata = band.GetNoDataValue()
        if flags & gdal.GMF_NODATA and nodata is not None:
            stored = _as_dtype(nodata, raw.dtype)
            if stored is not None and not np.isnan(stored):
                valid &= raw[i] != stored
            continue
        if flags & gdal.GMF_PER_DATASET:
            if seen_dataset_mask:
                continue
            seen_dataset_mask = True
        mask = band.GetMaskBand().ReadAsArray(xoff, yoff, raw.shape[2], raw.shape[1])
        valid &= mask > 0
    return valid


def _as_dtype(value: float, dtype: np.dtype):
    """The nodata value as stored in `dtype` (a float32 raster stores a rounded nodata)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max or value != int(value):
            return None  # cannot occur in this band: compares unequal everywhere
        return dtype.type(int(value))
    return dtype.type(value)


def combine_valid(*masks: np.ndarray) -> np.ndarray:
    """Valid only where every layer is valid (union of invalid pixels)."""
    if len(masks) == 1 and not isinstance(masks[0], np.ndarray):
        masks = tuple(masks[0])
    if not masks:
        raise ValueError("combine_valid needs at least one mask")
    out = np.array(masks[0], dtype=bool, copy=True)
    for mask in masks[1:]:
        out &= mask
    return out


# A whole-raster scan (accuracy, sampling design, suggested samples) reads about 100 Mpx/s at best: above
# this size it would run for hours. Refused before any work, with the fix (clip to the area of interest).
MAX_SCAN_PIXELS = 4_000_000_000


def check_scan(grid, what: str) -> None:
    """BDGFError when a raster is too large to scan whole (MAX_SCAN_PIXELS), naming it and the fix."""
    pixels = grid.width * grid.height
    if pixels > MAX_SCAN_PIXELS:
        raise BDGFError(f"The {what} is {grid.width:,} x {grid.height:,} px ({pixels:,.0f} px): scanning it "
                        f"would take hours (this tool handles up to {MAX_SCAN_PIXELS:,} px). Clip it to your "
                        "area of interest first (QGIS: Raster > Extraction > Clip Raster by Extent).")


def row_strips(band: gdal.Band, strip_pixels: int = 1 << 20,
               dtype=np.int64) -> Iterator[tuple[int, np.ndarray]]:
    """A band read top to bottom in full-width strips of about `strip_pixels`: (first row, array (h, width)
    as `dtype`). Memory stays bounded whatever the raster's size; callers check for cancel between strips."""
    width, height = band.XSize, band.YSize
    rows = max(1, strip_pixels // max(width, 1))
    for row0 in range(0, height, rows):
        h = min(rows, height - row0)
        yield row0, band.ReadAsArray(0, row0, width, h).astype(dtype)


# ---------------------------------------------------------------- whole-raster reads (training)

def read_aligned_stack(sources: Sequence[Source], ref_grid: Grid | None = None,
                       bands: Sequence[Sequence[int] | None] | None = None,
                       resampling: str = "bilinear") -> tuple[list[np.ndarray], np.ndarray]:
    """Read whole layers aligned on `ref_grid` (default: the first source's grid).

    Returns one float32 (bands, H, W) array per source and the combined valid mask (H, W).
    Loads full scenes: for training data, not for inference.
    """
    if not sources:
        raise ValueError("read_aligned_stack needs at least one source")
    ref = ref_grid or reference_grid(sources[0])
    per_source = list(bands) if bands is not None else [None] * len(sources)
    if len(per_source) != len(sources):
        raise ValueError(f"bands lists {len(per_source)} entries for {len(sources)} sources")
    arrays, masks = [], []
    for source, band_list in zip(sources, per_source):
        ds = aligned_vrt(source, ref, resampling, band_list)
        data, valid = read_window(ds, 0, 0, ref.height, ref.width, pad=False)
        arrays.append(data)
        masks.append(valid)
    return arrays, combine_valid(*masks)
