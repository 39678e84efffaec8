"""Whole-array GeoTIFF writing for the training side: one writer, so every file gets the same options.

    from training.geotiff import write_geotiff; write_geotiff("labels.tif", labels, gt, 32632, 0)

Owns `write_geotiff` (a (bands, H, W) or (H, W) array -> tiled, DEFLATE-compressed GeoTIFF with band
names, band metadata, nodata and an optional class colour table) and `srs_wkt` (EPSG code or user string
-> WKT). Dataset importers and the synthetic scenes write through it; the engine's block-wise outputs
(engine/raster/write.py) are a different job (streamed writing of maps larger than memory) and stay there.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

_GDAL_TYPES = {
    np.dtype("uint8"): gdal.GDT_Byte,
    np.dtype("uint16"): gdal.GDT_UInt16,
    np.dtype("int16"): gdal.GDT_Int16,
    np.dtype("int32"): gdal.GDT_Int32,
    np.dtype("float32"): gdal.GDT_Float32,
    np.dtype("float64"): gdal.GDT_Float64,
}


def srs_wkt(crs: int | str) -> str:
    """WKT of an EPSG code (int) or any user string GDAL understands."""
    srs = osr.SpatialReference()
    if isinstance(crs, int):
        srs.ImportFromEPSG(crs)
    else:
        srs.SetFromUserInput(crs)
    return srs.ExportToWkt()


def write_geotiff(path: str, array: np.ndarray, geotransform: Sequence[float] | None = None,
                  crs: int | str | None = None, nodata: float | None = None,
                  band_names: Sequence[str] | None = None,
                  band_metadata: Sequence[dict] | None = None,
                  classes: Sequence[dict] | None = None, dtype=None) -> str:
    """Write a (bands, H, W) or (H, W) array as a DEFLATE-compressed GeoTIFF.

    `classes` (dicts with value/name/color) adds a colour table and category names
    (single-band integer rasters). Without `geotransform` the raster has no georeferencing.
    `dtype` converts band by band (no full copy of a large array).
    """
    arr = array[None] if array.ndim == 2 else array
    dtype = np.dtype(dtype or arr.dtype)
    gtype = _GDAL_TYPES[dtype]
    # floating-point predictor for float data, horizontal differencing for integers: smaller files
    pred = "3" if dtype.kind == "f" else "2"
    opts = ["COMPRESS=DEFLATE", f"PREDICTOR={pred}", "TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
    if arr.shape[0] > 1:
        opts.append("INTERLEAVE=BAND")
    ds = gdal.GetDriverByName("GTiff").Create(path, arr.shape[2], arr.shape[1], arr.shape[0], gtype, opts)
    if geotransform is not None:
        ds.SetGeoTransform(tuple(float(v) for v in geotransform))
    if crs is not None:
        ds.SetProjection(srs_wkt(crs))
    for i in range(arr.shape[0]):
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        if band_names is not None:
            band.SetDescription(str(band_names[i]))
        if band_metadata is not None:
            band.SetMetadata({k: str(v) for k, v in band_metadata[i].items()})
        band.WriteArray(np.ascontiguousarray(arr[i], dtype=dtype))
    if classes:
        _set_class_table(ds.GetRasterBand(1), classes)
    ds.FlushCache()
    ds = None
    return path


def _set_class_table(band, classes: Sequence[dict]) -> None:
    """Colour table + category names; value 0 is transparent "unlabelled" (the label rasters' nodata)."""
    n = max(int(c["value"]) for c in classes) + 1
    ct = gdal.ColorTable()
    ct.SetColorEntry(0, (0, 0, 0, 0))
    names = ["unlabelled"] + [""] * (n - 1)
    for c in classes:
        col = c.get("color", "#808080").lstrip("#")
        ct.SetColorEntry(int(c["value"]), (int(col[0:2], 16), int(col[2:4], 16), int(col[4:6], 16), 255))
        names[int(c["value"])] = str(c["name"])
    band.SetRasterColorTable(ct)
    band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
    band.SetCategoryNames(names)
