"""GeoTIFF outputs: type selection, colour table, category names, nodata, atomic finalize / abort, no QML when
turned off (the QML itself: test_style.py)."""
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from engine.errors import BDGFError, Cancelled
from engine.raster.grid import Grid
from engine.raster.write import (
    ClassRasterWriter,
    ConfidenceRasterWriter,
    ProbabilityRasterWriter,
    class_dtype,
    raster_moves,
    read_classes,
    write_class_raster,
)

CLASSES = [
    {"value": 1, "name": "Forest", "color": "#1b7837"},
    {"value": 3, "name": "Water & <lakes>", "color": "#2166AC"},
    {"value": 7, "name": "Urban", "color": "#b2182b"},
]


@pytest.fixture
def grid():
    s = osr.SpatialReference()
    s.ImportFromEPSG(32632)
    return Grid(300, 260, (500000.0, 2.0, 0.0, 5000000.0, 0.0, -2.0), s.ExportToWkt())


def listing(path):
    return sorted(os.listdir(path))


def test_class_dtype():
    assert class_dtype(CLASSES) == np.uint8
    assert class_dtype([{"value": 255}]) == np.uint8
    assert class_dtype([{"value": 1}, {"value": 256}]) == np.uint16
    with pytest.raises(BDGFError, match="65536"):
        class_dtype([{"value": 65536}])


def test_class_raster_round_trip(tmp_path, grid):
    out = tmp_path / "classes.tif"
    values = np.zeros((grid.height, grid.width), np.uint8)
    with ClassRasterWriter(out, grid, CLASSES, metadata={"model": "demo"}) as writer:
        # two windows; the second ends at the grid edge
        idx = np.array([[0, 1], [2, 0]])
        valid = np.array([[True, True], [True, False]])
        writer.write_indices(10, 20, idx, valid)
        block = np.full((60, 100), 7, np.uint8)
        writer.write(200, 200, block)
        assert os.path.exists(writer.temp_path) and not out.exists()
    values[10:12, 20:22] = [[1, 3], [7, 0]]
    values[200:, 200:] = 7
    assert listing(tmp_path) == ["classes.qml", "classes.tif", "classes.tif.aux.xml"]

    ds = gdal.Open(str(out))
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte
    np.testing.assert_array_equal(band.ReadAsArray(), values)
    assert band.GetNoDataValue() == 0
    assert ds.GetGeoTransform() == grid.geotransform
    assert osr.SpatialReference(wkt=ds.GetProjection()).GetAuthorityCode(None) == "32632"
    assert ds.GetMetadata()["model"] == "demo"
    names = band.GetCategoryNames()
    assert names[1] == "Forest" and names[3] == "Water & <lakes>" and names[7] == "Urban"
    assert names[0] == "" and names[2] == ""
    table = band.GetRasterColorTable()
    assert table.GetColorEntry(1) == (27, 120, 55, 255)
    assert table.GetColorEntry(3) == (33, 102, 172, 255)
    assert table.GetColorEntry(0)[3] == 0
    assert band.GetRasterColorInterpretation() == gdal.GCI_PaletteIndex
    assert read_classes(out) == [{**c, "color": c["color"].lower()} for c in CLASSES]
    structure = ds.GetMetadata("IMAGE_STRUCTURE")
    assert structure["COMPRESSION"] == "DEFLATE"
    assert band.GetBlockSize() == [256, 256]


def test_uint16_when_values_exceed_255(tmp_path, grid):
    classes = [{"value": 1, "name": "A", "color": "#000000"}, {"value": 300, "name": "B", "color": "#ff0000"}]
    values = np.zeros((grid.height, grid.width), np.uint16)
    values[:5, :5] = 300
    values[5:10, :5] = 1
    path = write_class_raster(tmp_path / "c16.tif", grid, classes, values, rows_per_block=64)
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_UInt16
    np.testing.assert_array_equal(band.ReadAsArray(), values)
    assert band.GetRasterColorTable().GetColorEntry(300) == (255, 0, 0, 255)
    ds = None
    assert read_classes(path) == classes


def test_exception_leaves_no_file(tmp_path, grid):
    out = tmp_path / "classes.tif"
    with pytest.raises(RuntimeError, match="boom"):
        with ClassRasterWriter(out, grid, CLASSES) as writer:
            writer.write(0, 0, np.ones((10, 10), np.uint8))
            raise RuntimeError("boom")
    assert listing(tmp_path) == []


def test_cancel_leaves_no_file_and_keeps_previous_output(tmp_path, grid):
    out = tmp_path / "classes.tif"
    write_class_raster(out, grid, CLASSES, np.ones((grid.height, grid.width), np.uint8))
    before = listing(tmp_path)
    with pytest.raises(Cancelled):
        with ClassRasterWriter(out, grid, CLASSES) as writer, \
                ProbabilityRasterWriter.for_classes(tmp_path / "p.tif", grid, CLASSES) as probs:
            writer.write(0, 0, np.full((4, 4), 7, np.uint8))
            probs.write(0, 0, np.zeros((3, 4, 4), np.float32))
            raise Cancelled("cancelled by the user")
    assert listing(tmp_path) == before
    assert gdal.Open(str(out)).ReadAsArray()[0, 0] == 1


def test_explicit_abort(tmp_path, grid):
    writer = ClassRasterWriter(tmp_path / "c.tif", grid, CLASSES)
    writer.write(0, 0, np.ones((3, 3), np.uint8))
    writer.abort()
    assert listing(tmp_path) == []
    with pytest.raises(RuntimeError):
        writer.write(0, 0, np.ones((3, 3), np.uint8))


def test_window_outside_grid_rejected(tmp_path, grid):
    with pytest.raises(ValueError, match="outside"):
        with ClassRasterWriter(tmp_path / "c.tif", grid, CLASSES) as writer:
            writer.write(grid.height - 2, 0, np.ones((4, 4), np.uint8))
    assert listing(tmp_path) == []


def test_missing_output_folder(tmp_path, grid):
    with pytest.raises(BDGFError, match="Output folder does not exist"):
        ClassRasterWriter(tmp_path / "nope" / "c.tif", grid, CLASSES)


def test_probabilities_float32(tmp_path, grid):
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=(8, 9)).transpose(2, 0, 1).astype(np.float32)
    valid = np.ones((8, 9), bool)
    valid[0, 0] = False
    with ProbabilityRasterWriter.for_classes(tmp_path / "p.tif", grid, CLASSES) as writer:
        writer.write_probabilities(4, 5, probs, valid)
    ds = gdal.Open(str(tmp_path / "p.tif"))
    assert ds.RasterCount == 3
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == [c["name"] for c in CLASSES]
    band = ds.GetRasterBand(2)
    assert band.DataType == gdal.GDT_Float32 and band.GetNoDataValue() == -1.0
    got = ds.ReadAsArray(5, 4, 9, 8)
    assert (got[:, 0, 0] == -1).all()
    np.testing.assert_allclose(got[:, valid], probs[:, valid])


def test_probabilities_uint8_scaled_and_confidence(tmp_path, grid):
    probs = np.array([[[0.2, 0.5]], [[0.7, 0.25]], [[0.1, 0.25]]], np.float32)  # (3, 1, 2)
    valid = np.array([[True, False]])
    with ProbabilityRasterWriter.for_classes(tmp_path / "p8.tif", grid, CLASSES, scaled=True) as writer, \
            ConfidenceRasterWriter(tmp_path / "conf.tif", grid) as conf:
        writer.write_probabilities(0, 0, probs, valid)
        conf.write_from_probabilities(0, 0, probs, valid)
    ds = gdal.Open(str(tmp_path / "p8.tif"))
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 255 and band.GetScale() == 0.01
    np.testing.assert_array_equal(ds.ReadAsArray(0, 0, 2, 1)[:, 0], [[20, 255], [70, 255], [10, 255]])
    cds = gdal.Open(str(tmp_path / "conf.tif"))
    assert cds.GetRasterBand(1).GetDescription() == "confidence"
    np.testing.assert_allclose(cds.ReadAsArray(0, 0, 2, 1)[0], [0.7, -1.0])
    assert not [f for f in listing(tmp_path) if "partial" in f]


def test_no_qml_when_disabled(tmp_path, grid):
    write_class_raster(tmp_path / "m.tif", grid, CLASSES, np.zeros((grid.height, grid.width), np.uint8),
                       write_qml=False)
    assert "m.qml" not in listing(tmp_path)


def test_raster_moves_take_the_new_sidecar_or_drop_a_stale_one(tmp_path):
    """A new .aux.xml travels with its raster; without one, an old .aux.xml at the final name (another run's
    statistics and categories, which QGIS would read over the new file's) is removed before the rename."""
    final, temp = str(tmp_path / "map.tif"), str(tmp_path / "map.partial-1.tif")
    (tmp_path / "map.tif.aux.xml").write_text("<PAMDataset>old</PAMDataset>")
    assert raster_moves(temp, final) == [(temp, final)]
    assert not (tmp_path / "map.tif.aux.xml").exists()
    (tmp_path / "map.partial-1.tif.aux.xml").write_text("<PAMDataset>new</PAMDataset>")
    assert raster_moves(temp, final) == [(temp, final), (temp + ".aux.xml", final + ".aux.xml")]
