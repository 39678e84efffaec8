"""Labels on a grid: label rasters aligned with nearest neighbour, vector labels burnt from a field.

Training (training labels) and accuracy assessment (reference labels) both read labels here, so a
reference pixel means the same thing in both.

    train = read_labels("train.tif", reference_grid("hsi.tif"))
    reference = burn_field(ogr_layer, "class", grid)
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import BDGFError
from .grid import Grid
from .read import Source, aligned_vrt, open_raster, read_window, sample_window

# A class or label raster is one band of whole class numbers (1, 2, ...; 0 = none). An image picked by
# mistake read as one would become dozens of "classes" (a DSM's heights rounded to metres: 25 of them on the
# demo) or none at all (reflectances rounded to 0), and every step after it would run on without a word.
# Checked on a sample of at most CHECK_PIXELS pixels, before any work.
CHECK_PIXELS = 1 << 16
MAX_CLASS_VALUES = 1000  # distinct values in the sample above which a raster is not a class raster
_PICK_HINT = "Pick the classification or label layer, not an image (reflectances, backscatter, heights)."


def class_raster_problem(source: Source) -> str | None:
    """Why `source` is not a class raster (one band of whole class numbers), or None. Reads a sample of at
    most CHECK_PIXELS pixels (read.sample_window: small squares spread over the raster, a few blocks of the
    file each, so that a large map is not decoded whole before the work that reads it)."""
    ds = open_raster(source)
    if ds.RasterCount != 1:
        return (f"it has {ds.RasterCount} bands; a class raster has one band of class values (1, 2, ...; "
                "0 = none)")
    data, valid, _ = sample_window(ds, 0, 0, ds.RasterYSize, ds.RasterXSize, CHECK_PIXELS)
    values = data[0][valid]  # nodata and non-finite values left out (read_window's rule)
    fractional = values[values != np.rint(values)]
    if fractional.size:
        return (f"it holds {float(fractional[0]):g}, not a whole class number (a class raster holds "
                "integers 1, 2, ...; 0 = none)")
    distinct = len(np.unique(values))
    if distinct > MAX_CLASS_VALUES:
        return (f"it holds {distinct:,} different values in a sample of {data[0].size:,} pixels; a class "
                "raster holds a few class values")
    return None


def check_class_raster(source: Source, what: str = "label raster") -> None:
    """BDGFError naming `what` and the fix when `source` is not a class raster (class_raster_problem)."""
    problem = class_raster_problem(source)
    if problem:
        name = source.GetDescription() if isinstance(source, gdal.Dataset) else str(source)
        raise BDGFError(f"The {what} {name} is not a class raster: {problem}. {_PICK_HINT}")


def read_labels(source: Source, ref_grid: Grid, band: int = 1, what: str = "label raster") -> np.ndarray:
    """Label raster aligned on `ref_grid` with nearest neighbour: int32 (H, W), 0 = no label. BDGFError
    first when it is not a class raster (`what` names it: check_class_raster)."""
    check_class_raster(source, what)
    ds = aligned_vrt(source, ref_grid, "nearest", [band])
    return read_label_window(ds, 0, 0, ref_grid.height, ref_grid.width)


def read_label_window(ds: gdal.Dataset, row0: int, col0: int, h: int, w: int, band: int = 1) -> np.ndarray:
    """Window of an (aligned) label raster as int32 (h, w); nodata, outside and negatives give 0."""
    data, valid = read_window(ds, row0, col0, h, w, bands=[band], pad=True)
    labels = np.rint(data[0]).astype(np.int64)
    labels[~valid | (labels < 0)] = 0
    return labels.astype(np.int32)


def burn_shapes(shapes: Iterable[tuple[bytes, int]], grid: Grid) -> np.ndarray:
    """Burn (geometry as WKB in the grid's CRS, integer class) pairs onto `grid`: int32 (H, W), 0 = none;
    a later shape wins where shapes overlap. The QGIS side hands its features over this way (it
    reprojects them with QGIS), so only this room touches OGR."""
    srs = osr.SpatialReference()
    if grid.crs_wkt:
        srs.ImportFromWkt(grid.crs_wkt)
    source = ogr.GetDriverByName("Memory").CreateDataSource("shapes")
    layer = source.CreateLayer("shapes", srs if grid.crs_wkt else None)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
    for wkb, value in shapes:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class", int(value))
        feature.SetGeometry(ogr.CreateGeometryFromWkb(bytes(wkb)))
        layer.CreateFeature(feature)
    return burn_field(layer, "class", grid)


def burn_field(ogr_layer, field_name: str, grid: Grid) -> np.ndarray:
    """Burn an integer attribute of an OGR layer onto `grid` (GDAL reprojects): int32 (H, W), 0 = none."""
    ds = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Int32)
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    ds.GetRasterBand(1).Fill(0)
    gdal.RasterizeLayer(ds, [1], ogr_layer, options=[f"ATTRIBUTE={field_name}"])
    return ds.GetRasterBand(1).ReadAsArray().astype(np.int32)


def class_field_problem(ogr_layer, field_name: str) -> str | None:
    """Why the values of `field_name` cannot be class values (None: they can): the field must hold whole
    numbers (an integer field, or a real / text field whose every value is one). GDAL would truncate 2.7
    to 2 without a word."""
    defn = ogr_layer.GetLayerDefn()
    index = defn.GetFieldIndex(field_name)
    if index < 0:
        fields = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
        return f"it has no field {field_name!r} (fields: {', '.join(fields) or 'none'})"
    kind = defn.GetFieldDefn(index).GetType()
    if kind in (ogr.OFTInteger, ogr.OFTInteger64):
        return None
    ogr_layer.ResetReading()
    try:
        for feature in ogr_layer:
            if not feature.IsFieldSetAndNotNull(index):
                continue
            value = feature.GetField(index)
            try:
                whole = float(value).is_integer()
            except (TypeError, ValueError):
                whole = False
            if not whole:
                return (f"its class field {field_name!r} holds {value!r}, not a whole number: class values "
                        "are integers (1, 2, ...); use an integer field, or recode the classes")
    finally:
        ogr_layer.ResetReading()
    return None


def burn_features(ogr_layer, field_name: str, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(classes, features) int32 (H, W) on `grid`: the integer class field burnt as burn_field does, and
    each feature's 1-based position in the layer (0 = none), so a split can keep a polygon on one side.
    GDAL reprojects from the layer's CRS."""
    source = ogr.GetDriverByName("Memory").CreateDataSource("features")
    layer = source.CreateLayer("features", ogr_layer.GetSpatialRef())
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
    layer.CreateField(ogr.FieldDefn("feature", ogr.OFTInteger))
    index = ogr_layer.GetLayerDefn().GetFieldIndex(field_name)
    ogr_layer.ResetReading()
    for position, feature in enumerate(ogr_layer, 1):
        geometry = feature.GetGeometryRef()
        if geometry is None or not feature.IsFieldSetAndNotNull(index):
            continue
        out = ogr.Feature(layer.GetLayerDefn())
        out.SetField("class", int(float(feature.GetField(index))))
        out.SetField("feature", position)
        out.SetGeometry(geometry.Clone())
        layer.CreateFeature(out)
    ogr_layer.ResetReading()
    return burn_field(layer, "class", grid), burn_field(layer, "feature", grid)


def read_reference(path: str, grid: Grid, field: str | None = None, layer: str | None = None) -> np.ndarray:
    """Reference labels on `grid`, int32 (H, W), 0 = none: a label raster (nearest neighbour), or a vector
    layer (`layer`, default the first) whose integer `field` is burnt. BDGFError naming the fields when the
    vector's field is not given or not found."""
    if _open(path, gdal.OF_RASTER) is not None:
        return read_labels(path, grid, what="reference")
    vector = _open(path, gdal.OF_VECTOR)
    if vector is None:
        raise BDGFError(f"Cannot open the reference {path}: neither a raster nor a vector layer.")
    found = vector.GetLayerByName(layer) if layer else vector.GetLayer(0)
    if found is None:
        raise BDGFError(f"The reference {path} has no layer {layer!r}.")
    defn = found.GetLayerDefn()
    fields = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    if not field or field not in fields:
        raise BDGFError(f"The reference {path} is a vector layer: give its integer class field "
                        f"with --field (fields: {', '.join(fields)}).")
    problem = class_field_problem(found, field)
    if problem:
        raise BDGFError(f"The reference {path}: {problem}.")
    return burn_field(found, field, grid)


def _open(path: str, kind: int):
    """The dataset when GDAL opens `path` as `kind` (raster or vector), else None; quietly."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        return gdal.OpenEx(path, kind)
    except RuntimeError:  # when the host enabled gdal.UseExceptions()
        return None
    finally:
        gdal.PopErrorHandler()
