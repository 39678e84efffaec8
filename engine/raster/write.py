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
import uuid
from collections.abc import Mapping, Sequence
from xml.etree import ElementTree as ET

import numpy as np
from osgeo import gdal

from ..errors import BDGFError
from .read import GdalMessages, Grid

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
        stem = os.path.splitext(os.path.basename(self.path))[0]
        self.temp_path = os.path.join(directory, f"{stem}.partial-{uuid.uuid4().hex[:8]}.tif")
        options = list(creation_options)
        if band_count > 1:
            options.append("INTERLEAVE=BAND")
        driver = gdal.GetDriverByName("GTiff")
        self._sidecar_temps: dict[str, str] = {}  # final path -> temporary file, written by close()
        self.finished = False
        self._ds = None
        with GdalMessages() as messages:
            try:
                self._ds = driver.Create(self.temp_path, grid.width, grid.height, band_count,
                                         _GDAL_TYPES[self.dtype], options)
            except RuntimeError as exc:  # when the host enabled gdal.UseExceptions()
                messages.errors.append(str(exc))
        if self._ds is None:
            self.abort()
            raise self._failure(messages.errors, "create")
        try:
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
                temp = f"{final}.partial-{uuid.uuid4().hex[:8]}"
                self._sidecar_temps[final] = temp
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
        try:
            os.replace(self.temp_path, self.path)
            if os.path.exists(self.temp_path + ".aux.xml"):
                os.replace(self.temp_path + ".aux.xml", self.path + ".aux.xml")
            else:
                _remove(self.path + ".aux.xml")  # a stale sidecar would override the new metadata
            for final, temp in self._sidecar_temps.items():
                os.replace(temp, final)
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
        _remove(self.temp_path)
        _remove(self.temp_path + ".aux.xml")
        for temp in self._sidecar_temps.values():
            _remove(temp)
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


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


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


def read_classes(path: str | os.PathLike, band: int = 1) -> list[dict]:
    """Classes stored in a class raster: [{"value", "name", "color"}] for every named category."""
    ds = gdal.Open(os.fspath(path))
    if ds is None:
        raise BDGFError(f"Cannot open raster {os.fspath(path)}: {gdal.GetLastErrorMsg()}")
    ds.GetGeoTransform()  # GDAL 3.6 GTiff loads the .aux.xml (category names) only on such calls
    rb = ds.GetRasterBand(band)
    names = rb.GetCategoryNames() or []
    table = rb.GetRasterColorTable()
    classes = []
    for value, name in enumerate(names):
        if value == CLASS_NODATA or not name:
            continue
        r, g, b_, _ = table.GetColorEntry(value) if table and value < table.GetCount() else (0, 0, 0, 0)
        classes.append({"value": value, "name": name, "color": f"#{r:02x}{g:02x}{b_:02x}"})
    return classes


# ---------------------------------------------------------------- mosaics (batch jobs)

COG_OPTIONS = ("COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS")


def write_vrt(path: str | os.PathLike, sources: Sequence[str], classes: Sequence[Mapping] | None = None,
              band_names: Sequence[str] | None = None, metadata: Mapping[str, str] | None = None,
              qml: str | None = None) -> str:
    """A VRT mosaic of `sources` (rasters of one grid's blocks, same bands), all or nothing like the
    writers: built under a temporary name beside `path` (sources relative to it), checked, renamed.
    With `classes`: the class raster's colour table, category names and sidecar `.qml`; `qml`: a
    sidecar style of another raster (a trust output's ramp)."""
    staged = _Staged(path)
    try:
        size = None
        with GdalMessages() as messages:
            try:
                ds = gdal.BuildVRT(staged.temp_path, [os.path.abspath(s) for s in sources])
                if ds is not None:
                    _describe_bands(ds, classes, band_names, metadata)
                    ds.FlushCache()
                    size = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
                    ds = None
            except RuntimeError as exc:
                messages.errors.append(str(exc))
                ds, size = None, None
        if size is None or messages.errors:
            raise staged.failure(messages.errors, "build")
        return staged.commit(size, _sidecars(staged.path, classes, qml))
    except BaseException:
        staged.abort()
        raise


def write_cog(path: str | os.PathLike, source: str, classes: Sequence[Mapping] | None = None,
              qml: str | None = None) -> str:
    """`source` (e.g. the scene's VRT) copied into one Cloud-Optimized GeoTIFF (GDAL's COG driver: tiled,
    DEFLATE, overviews; nearest-neighbour overviews for a class raster), all or nothing like the writers.
    Colour table, category names (its .aux.xml) and band descriptions come from `source`; with `classes`
    the sidecar `.qml` too (`qml`: another raster's style, as in write_vrt)."""
    staged = _Staged(path)
    options = list(COG_OPTIONS) + (["RESAMPLING=NEAREST"] if classes else [])
    try:
        with GdalMessages() as messages:
            try:
                src = gdal.Open(os.fspath(source))
                size = src.RasterXSize, src.RasterYSize, src.RasterCount
                out = gdal.Translate(staged.temp_path, src, format="COG", creationOptions=options)
                ok = out is not None
                out = src = None
            except RuntimeError as exc:
                messages.errors.append(str(exc))
                ok = False
        if not ok or messages.errors:
            raise staged.failure(messages.errors, "write")
        return staged.commit(size, _sidecars(staged.path, classes, qml))
    except BaseException:
        staged.abort()
        raise


def _describe_bands(ds: gdal.Dataset, classes, band_names, metadata) -> None:
    if metadata:
        ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
    for i, name in enumerate(band_names or []):
        ds.GetRasterBand(i + 1).SetDescription(str(name))
    if classes:
        band = ds.GetRasterBand(1)
        names = [""] * (max(int(c["value"]) for c in classes) + 1)
        for c in classes:
            names[int(c["value"])] = str(c["name"])
        band.SetCategoryNames(names)


def _sidecars(path: str, classes, qml: str | None = None) -> dict[str, str]:
    if classes:
        return {qml_path_for(path): paletted_qml(classes)}
    return {qml_path_for(path): qml} if qml else {}


class _Staged:
    """A file GDAL writes whole (VRT, COG) under `<stem>.partial-<id><ext>` beside `path`, then checked and
    renamed with its .aux.xml and sidecars: the GeoTiffWriter rule for files not written window by window."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise BDGFError(f"Output folder does not exist: {directory}")
        stem, ext = os.path.splitext(os.path.basename(self.path))
        self.temp_path = os.path.join(directory, f"{stem}.partial-{uuid.uuid4().hex[:8]}{ext}")
        self._temps = [self.temp_path, self.temp_path + ".aux.xml"]

    def commit(self, size: tuple[int, int, int], sidecars: Mapping[str, str]) -> str:
        problems = read_back_problems(self.temp_path, *size)
        if problems:
            raise self.failure(problems, "write")
        moves = [(self.temp_path, self.path)]
        if os.path.exists(self.temp_path + ".aux.xml"):
            moves.append((self.temp_path + ".aux.xml", self.path + ".aux.xml"))
        else:
            _remove(self.path + ".aux.xml")  # a stale sidecar would override the new metadata
        try:
            for final, text in sidecars.items():
                temp = f"{final}.partial-{uuid.uuid4().hex[:8]}"
                self._temps.append(temp)
                with open(temp, "w", encoding="utf-8") as fh:
                    fh.write(text)
                moves.append((temp, final))
            for temp, final in moves:
                os.replace(temp, final)
        except OSError as exc:
            raise self.failure([exc.strerror or str(exc)], "write") from None
        return self.path

    def abort(self) -> None:
        for temp in self._temps:
            _remove(temp)

    def failure(self, messages: Sequence[str], what: str) -> BDGFError:
        reason = messages[0] if messages else gdal.GetLastErrorMsg() or "GDAL failed"
        return BDGFError(f"Cannot {what} the output {self.path}: {reason}. Nothing was written under that "
                         "name (an earlier file there is kept).")


# ---------------------------------------------------------------- QGIS style

def qml_path_for(raster_path: str | os.PathLike) -> str:
    """QGIS loads `<raster without extension>.qml` as the layer's default style."""
    return os.path.splitext(os.fspath(raster_path))[0] + ".qml"


def _qml_root() -> tuple[ET.Element, ET.Element]:
    """(qgis root, pipe) of a QGIS 3.22+ raster style document."""
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "AllStyleCategories",
                               "hasScaleBasedVisibilityFlag": "0", "minScale": "1e+08", "maxScale": "0"})
    return root, ET.SubElement(root, "pipe")


def _qml_renderer(pipe: ET.Element, attributes: Mapping[str, str]) -> ET.Element:
    """The raster renderer with its transparency and (unused: fixed limits) min / max origin."""
    renderer = ET.SubElement(pipe, "rasterrenderer", {"opacity": "1", "alphaBand": "-1", "nodataColor": "",
                                                      **attributes})
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
                      ("cumulativeCutLower", "0.02"), ("cumulativeCutUpper", "0.98"), ("stdDevFactor", "2")):
        ET.SubElement(origin, tag).text = text
    return renderer


def _qml_text(root: ET.Element, pipe: ET.Element) -> str:
    """Close the pipe (neutral colour adjustments, resampling) and serialise the document."""
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(pipe, "huesaturation", {
        "saturation": "0", "grayscaleMode": "0", "colorizeOn": "0", "colorizeRed": "255",
        "colorizeGreen": "128", "colorizeBlue": "128", "colorizeStrength": "100", "invertColors": "0"})
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(pipe, "resamplingStage").text = "resamplingFilter"
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def paletted_qml(classes: Sequence[Mapping], band: int = 1) -> str:
    """A QGIS (3.22+) raster style with a paletted renderer: value, colour and label per class."""
    root, pipe = _qml_root()
    provider = ET.SubElement(pipe, "provider")
    ET.SubElement(provider, "resampling", {
        "enabled": "false", "maxOversampling": "2",
        "zoomedInResamplingMethod": "nearestNeighbour", "zoomedOutResamplingMethod": "nearestNeighbour"})
    renderer = _qml_renderer(pipe, {"type": "paletted", "band": str(band)})
    palette = ET.SubElement(renderer, "colorPalette")
    for c in sorted(classes, key=lambda c: int(c["value"])):
        ET.SubElement(palette, "paletteEntry", {
            "value": str(int(c["value"])), "color": str(c["color"]).lower(), "alpha": "255",
            "label": str(c["name"])})
    return _qml_text(root, pipe)


def pseudocolor_qml(ramp, band: int = 1, low: float = 0.0, high: float = 1.0) -> str:
    """A QGIS (3.22+) raster style: single-band pseudocolour of `band`, interpolated between the (value,
    colour) stops of `ramp`, fixed to low..high (not stretched to the data: 0.5 means the same everywhere)."""
    root, pipe = _qml_root()
    renderer = _qml_renderer(pipe, {"type": "singlebandpseudocolor", "band": str(band),
                                    "classificationMin": f"{low:g}", "classificationMax": f"{high:g}"})
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader", {
        "colorRampType": "INTERPOLATED", "classificationMode": "1", "clip": "0",
        "minimumValue": f"{low:g}", "maximumValue": f"{high:g}", "labelPrecision": "2"})
    for value, colour in ramp:
        at = low + value * (high - low)
        ET.SubElement(shader, "item", {"alpha": "255", "value": f"{at:g}", "label": f"{at:.2f}",
                                       "color": colour})
    return _qml_text(root, pipe)
