"""engine.raster.labels: label rasters read onto a reference grid (nearest neighbour, 0 = unlabelled),
polygons burnt onto a grid in another CRS."""
from __future__ import annotations

import numpy as np
from osgeo import gdal, osr

from engine.raster.grid import Grid
from engine.raster.labels import read_label_window, read_labels
from engine.raster.read import aligned_vrt
from tests.engine.raster import test_read
from tests.engine.raster.test_read import (
    REF_H,
    REF_W,
    REF_X0,
    REF_Y0,
    footprint_grid,
    pixel_centres,
    to_ref,
    write_tif,
)

ref_path, ref_grid = test_read.ref_path, test_read.ref_grid  # fixtures


def test_read_labels_nearest(tmp_path, ref_grid):
    # labels in EPSG:32633 at 3 m: class 1 left of x=730200 (EPSG:32632), class 2 right, 0 = unlabeled
    gt, w, h = footprint_grid(32633, 3.0, (REF_X0 - 20, REF_Y0 - 320, REF_X0 + 420, REF_Y0 + 20))
    xs, ys = pixel_centres(gt, w, h)
    rx, _ = to_ref(32633, xs, ys)
    labels = np.where(rx < REF_X0 + 200, 1, 2).astype(np.uint8)
    labels[:, : w // 10] = 0
    path = write_tif(tmp_path / "labels.tif", labels, gt, 32633, nodata=0, dtype=gdal.GDT_Byte)
    out = read_labels(path, ref_grid)
    assert out.dtype == np.int32 and out.shape == (REF_H, REF_W)
    assert set(np.unique(out)) <= {0, 1, 2}
    assert (out[:, 8:19] == 1).all() and (out[:, 21:] == 2).all()
    window = read_label_window(aligned_vrt(path, ref_grid, "nearest"), -2, 30, 5, 15)
    assert (window[:2] == 0).all() and (window[:, 10:] == 0).all() and (window[2:, :10] == 2).all()


def test_burn_field_reprojects_polygons_onto_the_grid():
    from osgeo import ogr

    from engine.raster.labels import burn_field

    utm = osr.SpatialReference()
    utm.ImportFromEPSG(32632)
    grid = Grid(10, 10, (500000.0, 10.0, 0.0, 5000100.0, 0.0, -10.0), utm.ExportToWkt())
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_wgs = osr.CoordinateTransformation(utm, wgs)
    source = ogr.GetDriverByName("Memory").CreateDataSource("v")  # must outlive its layer
    layer = source.CreateLayer("v", wgs)
    layer.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    ring = ogr.Geometry(ogr.wkbLinearRing)
    corners = ((500000, 5000100), (500050, 5000100), (500050, 5000050), (500000, 5000050))
    for x, y in corners + corners[:1]:  # a 50 m square: the top-left 5 x 5 pixels
        lon, lat, _ = to_wgs.TransformPoint(float(x), float(y))
        ring.AddPoint_2D(lon, lat)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("cls", 7)
    feature.SetGeometry(polygon)
    layer.CreateFeature(feature)
    burned = burn_field(layer, "cls", grid)
    assert burned.dtype == np.int32 and burned.shape == (10, 10)
    assert (burned[:5, :5] == 7).all() and (burned[5:, :] == 0).all() and (burned[:, 5:] == 0).all()


def _raster(path, data, dtype, nodata=None) -> str:
    write_tif(path, data, (500000, 2, 0, 5000000, 0, -2), None, nodata, dtype)
    return str(path)


def test_an_image_is_not_taken_for_a_class_raster(tmp_path):
    """One band of whole class numbers passes (whatever its type); an image picked by mistake is named with
    what it holds before anything reads it as classes."""
    import pytest

    from engine.errors import BDGFError
    from engine.raster.labels import MAX_CLASS_VALUES, check_class_raster, class_raster_problem

    rng = np.random.default_rng(0)
    classes = rng.integers(0, 9, (60, 80))
    assert class_raster_problem(_raster(tmp_path / "byte.tif", classes, gdal.GDT_Byte)) is None
    whole = np.where(classes == 0, -9999.0, classes).astype(np.float32)  # float classes, float nodata
    assert class_raster_problem(_raster(tmp_path / "float.tif", whole, gdal.GDT_Float32, -9999)) is None
    assert "3 bands" in class_raster_problem(_raster(tmp_path / "rgb.tif", np.stack([classes] * 3),
                                                     gdal.GDT_Byte))
    heights = 30 + rng.random((60, 80)).astype(np.float32) * 20  # a DSM: rounded, 20 "classes"
    dsm = _raster(tmp_path / "dsm.tif", heights, gdal.GDT_Float32)
    assert "not a whole class number" in class_raster_problem(dsm)
    counts = rng.integers(0, 20000, (60, 80))  # a UInt16 band of digital numbers
    assert len(np.unique(counts)) > MAX_CLASS_VALUES
    assert "different values" in class_raster_problem(_raster(tmp_path / "dn.tif", counts, gdal.GDT_UInt16))
    with pytest.raises(BDGFError, match=r"The reference .*dsm.tif is not a class raster: it holds .*image"):
        check_class_raster(dsm, "reference")
    grid = Grid(80, 60, (500000, 2, 0, 5000000, 0, -2), "")
    with pytest.raises(BDGFError, match="The class map"):
        read_labels(dsm, grid, what="class map")
