"""Deterministic small test scenes (GeoTIFFs), built with training.synthetic.

`write_fixture_scene(dir, variant)` writes, for a 48 x 64 px scene (2 m pixels, EPSG:32632):

* hsi.tif: `n_hsi_bands` Float32 bands 400-2500 nm, nodata -9999, a bad scan-line segment of nodata;
* sar.tif: 4 Float32 bands VV VH HH HV (linear), nodata NaN, a NaN strip at the swath edge;
* dsm.tif: 1 Float32 band nDSM (m), nodata -9999, LiDAR dropouts over water;
* labels.tif (dense truth), train.tif (sparse blobs), test.tif (dense, disjoint from train):
  UInt8, 0 = unlabelled (GDAL nodata 0), colour table; 6 classes renumbered 1..6:
  Trees, Grass, Roof (concrete), Asphalt road, Bare soil, Water (other surfaces are 0);
* scene.json, config.toml (training config, schema in training/config_writer.py).

variant "aligned": every layer on the HSI grid. variant "mixed": SAR at 3 m on a shifted, larger
extent in EPSG:3857; DSM at 1 m in EPSG:32632 on a cropped extent; labels on the HSI grid.
"""
from __future__ import annotations

import os

from training.synthetic import make_scene, write_scene

FIXTURE_CLASSES = ("Trees", "Grass", "Roof (concrete)", "Asphalt road", "Bare soil", "Water")
VARIANTS = {"aligned": ("same", None), "mixed": ("mixed", "EPSG:3857")}


def write_fixture_scene(dirpath: str | os.PathLike, variant: str = "aligned",
                        size: tuple[int, int] = (48, 64),
                        n_hsi_bands: int = 24, seed: int = 0) -> dict:
    """Write the fixture scene into `dirpath`; return {"hsi", "sar", "dsm", "train", "test", "labels",
    "meta", "config": path str, "classes": [{"value", "name", "color"}], "variant", "dir"}."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, not {variant!r}")
    grids, other_crs = VARIANTS[variant]
    scene = make_scene(size[0], size[1], seed=seed, n_bands=n_hsi_bands)
    paths = write_scene(scene, dirpath, grids, train_per_class=12, classes=FIXTURE_CLASSES,
                        other_crs=other_crs)
    paths["variant"] = variant
    paths["dir"] = str(dirpath)
    return paths


def reference_polygons(label_path, out_path) -> str:
    """The labelled pixels of a label raster as polygons (GeoPackage layer 'reference', integer field
    'class'); returns the file path."""
    from osgeo import gdal, ogr

    raster = gdal.Open(str(label_path))
    band = raster.GetRasterBand(1)
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(out_path))
    layer = source.CreateLayer("reference", raster.GetSpatialRef(), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
    gdal.Polygonize(band, band.GetMaskBand(), layer, 0)
    source = None
    return str(out_path)
