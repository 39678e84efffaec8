"""engine.raster.mosaic: a VRT over block files and a Cloud-Optimized GeoTIFF copy of it, each with the
class raster's colours, category names and .qml, written all or nothing."""
from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal

from engine.errors import BDGFError
from engine.raster.mosaic import write_cog, write_vrt
from engine.raster.write import write_class_raster
from tests.engine.raster import test_write
from tests.engine.raster.test_write import CLASSES

grid = test_write.grid  # fixture (300 x 260 px)


@pytest.fixture
def blocks(tmp_path, grid):
    """The grid's class map written as two blocks (left and right half): (paths, the whole map)."""
    values = np.zeros((grid.height, grid.width), np.uint8)
    values[:, :150], values[:100, 150:], values[100:, 150:] = 1, 3, 7
    values[:10, :10] = 0
    folder = tmp_path / "blocks"
    folder.mkdir()
    paths = [write_class_raster(folder / f"c{col0}.tif", grid.window(0, col0, grid.height, 150), CLASSES,
                                values[:, col0:col0 + 150], write_qml=False) for col0 in (0, 150)]
    return paths, values


def test_vrt_and_cog_mosaics_equal_the_map_with_its_classes(tmp_path, grid, blocks):
    paths, values = blocks
    vrt = write_vrt(tmp_path / "classes.vrt", paths, classes=CLASSES, metadata={"bdgf_model": "demo"})
    cog = write_cog(tmp_path / "classes.tif", vrt, classes=CLASSES)
    assert (vrt, cog) == (str(tmp_path / "classes.vrt"), str(tmp_path / "classes.tif"))
    for path in (vrt, cog):
        ds = gdal.Open(path)
        assert ds.GetGeoTransform() == pytest.approx(grid.geotransform)
        np.testing.assert_array_equal(ds.ReadAsArray(), values)
        band = ds.GetRasterBand(1)
        names = band.GetCategoryNames()
        assert [names[c["value"]] for c in CLASSES] == [c["name"] for c in CLASSES]
        assert band.GetColorTable().GetColorEntry(3) == (33, 102, 172, 255)
    assert gdal.Open(vrt).GetMetadata()["bdgf_model"] == "demo"
    assert gdal.Open(cog).GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    assert 'type="paletted"' in (tmp_path / "classes.qml").read_text(encoding="utf-8")  # one for both
    assert not [name for name in os.listdir(tmp_path) if ".partial-" in name]


def test_a_mosaic_that_cannot_be_built_leaves_nothing_and_keeps_an_earlier_one(tmp_path, blocks):
    paths, _ = blocks
    vrt = write_vrt(tmp_path / "classes.vrt", paths, classes=CLASSES)
    before = sorted(os.listdir(tmp_path))
    earlier = open(vrt, encoding="utf-8").read()
    with pytest.raises(BDGFError, match="Nothing was written under that name"):
        write_vrt(tmp_path / "classes.vrt", [str(tmp_path / "missing.tif")], classes=CLASSES)
    assert sorted(os.listdir(tmp_path)) == before and open(vrt, encoding="utf-8").read() == earlier
    os.remove(paths[1])  # a block file gone: the VRT opens, its pixels cannot be read
    with pytest.raises(BDGFError, match="Nothing was written under that name"):
        write_cog(tmp_path / "classes.tif", vrt, classes=CLASSES)
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(BDGFError, match="Output folder does not exist"):
        write_vrt(tmp_path / "absent" / "classes.vrt", paths)
