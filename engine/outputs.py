"""GeoTIFF outputs written window by window to a temporary file, renamed into place on finalize().

Used as context managers: leaving the block normally finalizes, an exception (or Cancelled)
aborts and leaves no output file. Class rasters carry a GDAL colour table, category names and a
sidecar `.qml` (QGIS paletted renderer); probability / confidence rasters are Float32 (nodata -1)
or UInt8 percent (0..100, scale 0.01, nodata 255).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from xml.etree import ElementTree as ET

import numpy as np
from osgeo import gdal

from .errors import BDGFError
from .raster import Grid

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
        self._ds = driver.Create(self.temp_path, grid.width, grid.height, band_count,
                                 _GDAL_TYPES[self.dtype], options)
        if self._ds is None:
            raise BDGFError(f"Cannot create {self.temp_path}: {gdal.GetLastErrorMsg()}")
        self.finished = False
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
        for i in range(count):
            if self._ds.GetRasterBand(i + 1).WriteArray(block[i], col0, row0) != 0:
                raise BDGFError(f"Cannot write {self.temp_path}: {gdal.GetLastErrorMsg()}")

    # --- completion
    def finalize(self) -> str:
        """Close and move the file (and its .aux.xml) into place; returns the output path."""
        if self.finished:
            return self.path
        try:
            self._before_close(self._ds)
            self._ds.FlushCache()
            self._ds = None
            _remove(self.path + ".aux.xml")  # a stale sidecar would override the new metadata
            if os.path.exists(self.temp_path + ".aux.xml"):
                os.replace(self.temp_path + ".aux.xml", self.path + ".aux.xml")
            os.replace(self.temp_path, self.path)
        except OSError as exc:
            self.abort()
            raise BDGFError(f"Cannot write the output {self.path}: {exc}. Is it open in another "
                            "program?") from exc
        except BaseException:
            self.abort()
            raise
        self.finished = True
        self._after_finalize()
        return self.path

    def abort(self) -> None:
        """Discard everything written so far; no output file remains."""
        self._ds = None
        _remove(self.temp_path)
        _remove(self.temp_path + ".aux.xml")
        self.finished = True

    def _before_close(self, ds: gdal.Dataset) -> None:
        """Hook: set band-level metadata before the dataset is closed."""

    def _after_finalize(self) -> None:
        """Hook: write sidecars once the output is in place."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()
        elif not self.finished:
            self.abort()


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

    def _after_finalize(self) -> None:
        if self.write_qml:
            write_qml(self.path, self.classes)


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


# ---------------------------------------------------------------- QGIS style

def qml_path_for(raster_path: str | os.PathLike) -> str:
    """QGIS loads `<raster without extension>.qml` as the layer's default style."""
    return os.path.splitext(os.fspath(raster_path))[0] + ".qml"


def paletted_qml(classes: Sequence[Mapping], band: int = 1) -> str:
    """A QGIS (3.22+) raster style with a paletted renderer: value, colour and label per class."""
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "AllStyleCategories",
                               "hasScaleBasedVisibilityFlag": "0", "minScale": "1e+08", "maxScale": "0"})
    pipe = ET.SubElement(root, "pipe")
    provider = ET.SubElement(pipe, "provider")
    ET.SubElement(provider, "resampling", {
        "enabled": "false", "maxOversampling": "2",
        "zoomedInResamplingMethod": "nearestNeighbour", "zoomedOutResamplingMethod": "nearestNeighbour"})
    renderer = ET.SubElement(pipe, "rasterrenderer", {
        "type": "paletted", "band": str(band), "opacity": "1", "alphaBand": "-1", "nodataColor": ""})
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
                      ("cumulativeCutLower", "0.02"), ("cumulativeCutUpper", "0.98"), ("stdDevFactor", "2")):
        ET.SubElement(origin, tag).text = text
    palette = ET.SubElement(renderer, "colorPalette")
    for c in sorted(classes, key=lambda c: int(c["value"])):
        ET.SubElement(palette, "paletteEntry", {
            "value": str(int(c["value"])), "color": str(c["color"]).lower(), "alpha": "255",
            "label": str(c["name"])})
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


def write_qml(raster_path: str | os.PathLike, classes: Sequence[Mapping]) -> str:
    """Write the paletted style next to the raster (atomically); returns the .qml path."""
    path = qml_path_for(raster_path)
    temp = f"{path}.partial-{uuid.uuid4().hex[:8]}"
    try:
        with open(temp, "w", encoding="utf-8") as fh:
            fh.write(paletted_qml(classes))
        os.replace(temp, path)
    except BaseException:
        _remove(temp)
        raise
    return path
