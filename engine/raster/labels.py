"""Labels on a grid: label rasters aligned with nearest neighbour, vector labels burnt from a field.

Training (training labels) and accuracy assessment (reference labels) both read labels here, so a
reference pixel means the same thing in both.

    train = read_labels("train.tif", reference_grid("hsi.tif"))
    reference = burn_field(ogr_layer, "class", grid)
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from .read import Grid, Source, aligned_vrt, read_window


def read_labels(source: Source, ref_grid: Grid, band: int = 1) -> np.ndarray:
    """Label raster aligned on `ref_grid` with nearest neighbour: int32 (H, W), 0 = no label."""
    ds = aligned_vrt(source, ref_grid, "nearest", [band])
    return read_label_window(ds, 0, 0, ref_grid.height, ref_grid.width)


def read_label_window(ds: gdal.Dataset, row0: int, col0: int, h: int, w: int, band: int = 1) -> np.ndarray:
    """Window of an (aligned) label raster as int32 (h, w); nodata, outside and negatives give 0."""
    data, valid = read_window(ds, row0, col0, h, w, bands=[band], pad=True)
    labels = np.rint(data[0]).astype(np.int64)
    labels[~valid | (labels < 0)] = 0
    return labels.astype(np.int32)


def burn_field(ogr_layer, field_name: str, grid: Grid) -> np.ndarray:
    """Burn an integer attribute of an OGR layer onto `grid` (GDAL reprojects): int32 (H, W), 0 = none."""
    ds = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Int32)
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    ds.GetRasterBand(1).Fill(0)
    gdal.RasterizeLayer(ds, [1], ogr_layer, options=[f"ATTRIBUTE={field_name}"])
    return ds.GetRasterBand(1).ReadAsArray().astype(np.int32)
