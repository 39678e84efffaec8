"""GeoTIFF outputs written window by window to a temporary file, renamed into place on finalize().

Used as context managers: leaving the block normally finalizes, an exception (or Cancelled)
aborts and leaves no output file. finalize() = close() (flush, check that GDAL reported no error and
that the file reads back, write sidecars to temporary files) + commit() (renames only), so several
outputs can all be closed before any is renamed: a full disk leaves every earlier output untouched.
Class rasters carry a GDAL colour table, category names and a sidecar `.qml` (QGIS paletted renderer);
probability / confidence rasters are Float32 (nodata -1) or UInt8 percent (0..100, scale 0.01, nodata 255).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

import numpy as np
from osgeo import gdal

from ..errors import BDGFError
from ..palette import UNSTYLED
from .atomic import remove_quietly, replace_all, temp_path
from .grid import Grid
from .read import GdalMessages
from .style import paletted_qml, qml_path_for

CREATION_OPTIONS = ("TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER")
CLASS_NODATA = 0
PROBABILITY_NODATA_FLOAT = -1.0
PROBABILITY_NODATA_UINT8 = 255
_GDAL_TYPES = {np.dtype(np.uint8): gdal.GDT_Byte, np.dtype(np.uint16): gdal.GDT_UInt16,
               np.dtype(np.float32): gdal.GDT_Float32}


def class_dtype(classes: Sequence[Mapping]) -> np.dtype:
    """Smallest unsigned type holding every class value: uint8 up to 255, else uint16."""
    top = max(int(c["value"]) for c in classes)
    if top > 65535:
        raise BDGFError(f"Class value {top} does not fit an output raster (maximum 65535).")
    return np.dtype(np.uint8 if top <= 255 else np.uint16)


def hex_to_rgba(color: str, alpha: int = 255) -> tuple[int, int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), alpha


class GeoTiffWriter:
    """A GeoTIFF on `grid`, written by windows into `<dir>/<stem>.partial-<id>.tif`, then renamed."""

    def __init__(self, path: str | os.PathLike, grid: Grid, band_count: int, dtype,
                 nodata: float | None = None, band_descriptions: Sequence[str] | None = None,
                 metadata: Mapping[str, str] | None = None,
                 creation_options: Sequence[str] = CREATION_OPTIONS):
        self.path = os.path.abspath(os.fspath(path))
        self.grid = grid
        self.dtype = np.dtype(dtype)
        self.band_count = band_count
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise BDGFError(f"Output folder does not exist: {directory}")
        self.temp_path = temp_path(self.path, ".tif")
        options = list(creation_options)
        if band_count > 1:
            options.append("INTERLEAVE=BAND")
        driver = gdal.GetDriverByName("GTiff")
        self._sidecar_temps: dict[str, str] = {}  # final path -> temporary file, written by close()
        self.finished = False
        self._ds = None
        try:  # from here on, anything (a SIGTERM between two calls too) removes the temporary file
            with GdalMessages() as messages:
                try:
                    self._ds = driver.Create(self.temp_path, grid.width, grid.height, band_count,
                                             _GDAL_TYPES[self.dtype], options)
                except RuntimeError as exc:  # when the host enabled gdal.UseExceptions()
                    messages.errors.append(str(exc))
            if self._ds is None:
                raise self._failure(messages.errors, "create")
            self._ds.SetGeoTransform(grid.geotransform)
            if grid.crs_wkt:
                self._ds.SetProjection(grid.crs_wkt)
            if metadata:
                self._ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
            for i in range(band_count):
                band = self._ds.GetRasterBand(i + 1)
                if nodata is not None:
                    band.SetNoDataValue(nodata)
                if band_descriptions:
                    band.SetDescription(str(band_descriptions[i]))
        except BaseException:
            self.abort()
            raise

    # --- writing
    def write(self, row0: int, col0: int, data: np.ndarray) -> None:
        """Write (bands, h, w) — or (h, w) for one band — at (row0, col0) of the grid."""
        if self._ds is None:
            raise RuntimeError("writer already finalized or aborted")
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[None]
        count, h, w = data.shape
        if count != self.band_count:
            raise ValueError(f"expected {self.band_count} band(s), got {count}")
        if row0 < 0 or col0 < 0 or row0 + h > self.grid.height or col0 + w > self.grid.width:
            raise ValueError(f"window rows {row0}..{row0 + h}, cols {col0}..{col0 + w} is outside the "
                             f"{self.grid.height}x{self.grid.width} output")
        block = data.astype(self.dtype, copy=False)
        with GdalMessages() as messages:
            try:
                failed = [i for i in range(count)
                          if self._ds.GetRasterBand(i + 1).WriteArray(block[i], col0, row0) != 0]
            except RuntimeError as exc:  # when the host enabled gdal.UseExceptions()
                failed = [str(exc)]
                messages.errors.append(str(exc))
        if failed or messages.errors:
            raise self._failure(messages.errors, "write")

    # --- completion
    def finalize(self) -> str:
        """close() and commit(); returns the output path."""
        self.close()
        return self.commit()

    def close(self) -> None:
        """Flush and close the temporary file, check it, write the sidecars beside it (temporary names).
        BDGFError, with nothing left behind, when GDAL reports any problem (a full disk shows here: GDAL
        writes blocks when they leave its cache, not when write() is called) or the file does not read
        back."""
        if self._ds is None:
            return
        try:
            with GdalMessages() as messages:
                try:
                    self._before_close(self._ds)
                    self._ds.FlushCache()
                    self._ds = None  # closes: the TIFF directory and the .aux.xml are written now
                except RuntimeError as exc:  # when the host enabled gdal.UseExceptions()
                    messages.errors.append(str(exc))
            # a warning here is an output GDAL could not save in full (e.g. "Unable to save auxiliary
            # information"): never acceptable for a file the user will rely on
            if messages.errors or messages.warnings:
                raise self._failure(messages.errors + messages.warnings, "write")
            self._check_readable()
            for final, text in self._sidecars().items():
                temp = self._sidecar_temps[final] = temp_path(final)
                with open(temp, "w", encoding="utf-8") as fh:
                    fh.write(text)
        except OSError as exc:
            self.abort()
            raise self._failure([exc.strerror or str(exc)], "write") from None
        except BaseException:
            self.abort()
            raise

    def commit(self) -> str:
        """Move the closed file, its .aux.xml and its sidecars into place (renames in the same folder)."""
        if self.finished:
            return self.path
        if self._ds is not None:
            self.close()
        moves = raster_moves(self.temp_path, self.path)
        try:
            replace_all([*moves, *((temp, final) for final, temp in self._sidecar_temps.items())])
        except OSError as exc:
            self.abort()
            raise BDGFError(f"Cannot write the output {self.path}: {exc}. Is it open in another "
                            "program?") from exc
        self.finished = True
        return self.path

    def abort(self) -> None:
        """Discard everything written so far; no output file remains (an earlier file at the output path,
        from another run, is left as it was)."""
        self._ds = None
        remove_quietly(self.temp_path, self.temp_path + ".aux.xml", *self._sidecar_temps.values())
        self.finished = True

    def _check_readable(self) -> None:
        """The closed file opens with the right size and its last row of blocks (written last) reads."""
        problems = read_back_problems(self.temp_path, self.grid.width, self.grid.height, self.band_count)
        if problems:
            raise self._failure(problems, "write")

    def _failure(self, messages: Sequence[str], what: str) -> BDGFError:
        """A one-line error naming the output, GDAL's first message and the free space left."""
        directory = os.path.dirname(self.path)
        try:
            free = f"; {format_bytes(shutil.disk_usage(directory).free)} free in {directory}"
        except OSError:
            free = ""
        reason = messages[0] if messages else gdal.GetLastErrorMsg() or "GDAL failed"
        return BDGFError(f"Cannot {what} the output {self.path}: {reason}{free}. Nothing was written under "
                         "that name (an earlier file there is kept); free some space or choose another "
                         "folder.")

    def _before_close(self, ds: gdal.Dataset) -> None:
        """Hook: set band-level metadata before the dataset is closed."""

    def _sidecars(self) -> dict[str, str]:
        """Hook: {path: text} of sidecar files that appear with the output (written by close())."""
        return {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()
        elif not self.finished:
            self.abort()


def raster_moves(temp: str, final: str) -> list[tuple[str, str]]:
    """The renames that put a finished raster written at `temp` in place at `final`: the file and, when GDAL
    wrote one, its .aux.xml. Without a new .aux.xml an old one at `final` is removed now: a stale sidecar
    would override the new file's metadata (statistics, categories) when QGIS opens it."""
    moves = [(temp, final)]
    if os.path.exists(temp + ".aux.xml"):
        moves.append((temp + ".aux.xml", final + ".aux.xml"))
    else:
        remove_quietly(final + ".aux.xml")
    return moves


def read_back_problems(path: str, width: int, height: int, band_count: int) -> list[str]:
    """[] when `path` opens with this size and band count and its last row (written last) reads; else
    GDAL's messages (or 'the file does not read back')."""
    with GdalMessages() as messages:
        try:
            ds = gdal.Open(path)
            ok = ds is not None and (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (
                width, height, band_count)
            if ok:
                row = max(0, height - 1)
                ok = all(ds.GetRasterBand(i + 1).ReadRaster(0, row, width, 1) is not None
                         for i in range(band_count))
        except RuntimeError as exc:
            messages.errors.append(str(exc))
            ok = False
        ds = None
    return [] if ok and not messages.errors else (messages.errors or ["the file does not read back"])


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    units, i = ("bytes", "KiB", "MiB", "GiB", "TiB"), 0
    while n >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.0f} bytes" if i == 0 else f"{n:.1f} {units[i]}"


class ClassRasterWriter(GeoTiffWriter):
    """Class map: Byte or UInt16 values from the model card classes, 0 = nodata, colour table,
    category names and a sidecar `.qml` (QGIS paletted renderer)."""

    def __init__(self, path: str | os.PathLike, grid: Grid, classes: Sequence[Mapping],
                 metadata: Mapping[str, str] | None = None, write_qml: bool = True,
                 creation_options: Sequence[str] = CREATION_OPTIONS):
        self.classes = list(classes)
        self.write_qml = write_qml
        dtype = class_dtype(self.classes)
        self._values = np.array([0] + [int(c["value"]) for c in self.classes], dtype=dtype)
        super().__init__(path, grid, 1, dtype, nodata=CLASS_NODATA, band_descriptions=["class"],
                         metadata=metadata, creation_options=creation_options)

    def write_indices(self, row0: int, col0: int, indices: np.ndarray, valid: np.ndarray) -> None:
        """Write class indices k (into `classes`) as classes[k].value; invalid pixels as nodata."""
        indices = np.asarray(indices)
        values = self._values[np.where(valid, indices + 1, 0)]
        self.write(row0, col0, values)

    def _before_close(self, ds: gdal.Dataset) -> None:
        band = ds.GetRasterBand(1)
        top = int(self._values.max())
        table = gdal.ColorTable()
        for v in range(top + 1):
            table.SetColorEntry(v, (0, 0, 0, 0))
        names = [""] * (top + 1)
        for c in self.classes:
            table.SetColorEntry(int(c["value"]), hex_to_rgba(c["color"]))
            names[int(c["value"])] = str(c["name"])
        band.SetRasterColorTable(table)
        band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
        band.SetCategoryNames(names)

    def _sidecars(self) -> dict[str, str]:
        return {qml_path_for(self.path): paletted_qml(self.classes)} if self.write_qml else {}


class ProbabilityRasterWriter(GeoTiffWriter):
    """Per-class probabilities, one band per class (description = class name).

    Float32 with nodata -1, or `scaled=True`: UInt8 percent 0..100 with scale 0.01, nodata 255.
    """

    def __init__(self, path: str | os.PathLike, grid: Grid, band_names: Sequence[str], scaled: bool = False,
                 metadata: Mapping[str, str] | None = None,
                 creation_options: Sequence[str] = CREATION_OPTIONS):
        self.scaled = scaled
        if scaled:
            dtype, nodata = np.uint8, PROBABILITY_NODATA_UINT8
        else:
            dtype, nodata = np.float32, PROBABILITY_NODATA_FLOAT
            creation_options = [*creation_options, "PREDICTOR=3"]
        self.nodata = nodata
        super().__init__(path, grid, len(band_names), dtype, nodata=nodata,
                         band_descriptions=list(band_names), metadata=metadata,
                         creation_options=creation_options)

    @classmethod
    def for_classes(cls, path, grid: Grid, classes: Sequence[Mapping], **kwargs) -> ProbabilityRasterWriter:
        return cls(path, grid, [c["name"] for c in classes], **kwargs)

    def write_probabilities(self, row0: int, col0: int, probs: np.ndarray, valid: np.ndarray) -> None:
        """Write probabilities (bands, h, w) in [0, 1]; invalid pixels (h, w) become nodata."""
        probs = np.asarray(probs, dtype=np.float32)
        if probs.ndim == 2:
            probs = probs[None]
        if self.scaled:
            out = np.rint(np.clip(probs, 0.0, 1.0) * 100.0).astype(np.uint8)
        else:
            out = probs.copy()
        out[:, ~np.asarray(valid, dtype=bool)] = self.nodata
        self.write(row0, col0, out)

    def _before_close(self, ds: gdal.Dataset) -> None:
        if self.scaled:
            for i in range(ds.RasterCount):
                ds.GetRasterBand(i + 1).SetScale(0.01)
                ds.GetRasterBand(i + 1).SetOffset(0.0)


class ConfidenceRasterWriter(ProbabilityRasterWriter):
    """Confidence = the maximum class probability, one band."""

    def __init__(self, path: str | os.PathLike, grid: Grid, scaled: bool = False,
                 metadata: Mapping[str, str] | None = None,
                 creation_options: Sequence[str] = CREATION_OPTIONS):
        super().__init__(path, grid, ["confidence"], scaled=scaled, metadata=metadata,
                         creation_options=creation_options)

    def write_from_probabilities(self, row0: int, col0: int, probs: np.ndarray, valid: np.ndarray) -> None:
        self.write_probabilities(row0, col0, np.asarray(probs).max(axis=0), valid)


def write_class_raster(path: str | os.PathLike, grid: Grid, classes: Sequence[Mapping], values: np.ndarray,
                       metadata: Mapping[str, str] | None = None, write_qml: bool = True,
                       rows_per_block: int = 256) -> str:
    """Write a whole (H, W) array of class values (0 = nodata) as a class raster."""
    values = np.asarray(values)
    if values.shape != (grid.height, grid.width):
        raise ValueError(f"values shape {values.shape} does not match the grid ({grid.height}, {grid.width})")
    with ClassRasterWriter(path, grid, classes, metadata=metadata, write_qml=write_qml) as writer:
        for row0 in range(0, grid.height, rows_per_block):
            writer.write(row0, 0, values[row0:row0 + rows_per_block])
    return writer.path


def read_classes(path: str | os.PathLike, values: Sequence[int] | None = None, band: int = 1) -> list[dict]:
    """Classes stored in a class raster, [{"value", "name", "color"}]: every named category, or with
    `values` one entry per value (a map without a model card: its category name, else the value; its
    colour-table entry, else palette.UNSTYLED)."""
    ds = gdal.Open(os.fspath(path))
    if ds is None:
        raise BDGFError(f"Cannot open raster {os.fspath(path)}: {gdal.GetLastErrorMsg()}")
    ds.GetGeoTransform()  # GDAL 3.6 GTiff loads the .aux.xml (category names) only on such calls
    rb = ds.GetRasterBand(band)
    names = rb.GetCategoryNames() or []
    table = rb.GetRasterColorTable()

    def colour(value: int, default: str) -> str:
        if table is None or value >= table.GetCount():
            return default
        return "#{:02x}{:02x}{:02x}".format(*table.GetColorEntry(value)[:3])

    if values is not None:
        return [{"value": int(v), "name": names[v] if v < len(names) and names[v] else str(v),
                 "color": colour(int(v), UNSTYLED)} for v in values]
    return [{"value": value, "name": name, "color": colour(value, "#000000")}
            for value, name in enumerate(names) if value != CLASS_NODATA and name]




