"""engine.raster.grid: pixel centres and windows, grid comparison, the window of a reference grid that other
layers cover, a pixel's area from the CRS's units."""
from __future__ import annotations

import pytest
from osgeo import osr

from engine.errors import InputMismatchError
from engine.raster.grid import Grid, intersection_window, pixel_area
from tests.engine.raster import test_read
from tests.engine.raster.test_read import REF_X0, REF_Y0, footprint_grid

ref_path, ref_grid = test_read.ref_path, test_read.ref_grid  # fixtures


def test_intersection_window(tmp_path, ref_grid):
    gt_a, wa, ha = footprint_grid(32632, 10.0, (REF_X0 + 100, REF_Y0 - 300, REF_X0 + 400, REF_Y0))
    gt_b, wb, hb = footprint_grid(32632, 10.0, (REF_X0, REF_Y0 - 200, REF_X0 + 300, REF_Y0))
    grids = [Grid(wa, ha, gt_a, ref_grid.crs_wkt), Grid(wb, hb, gt_b, ref_grid.crs_wkt)]
    assert intersection_window(ref_grid, grids) == (0, 10, 20, 20)


def _wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def test_pixel_area_from_the_crs_units():
    area, note = pixel_area((500000, 2, 0, 5000000, 0, -2), _wkt(32632))  # UTM 32N, metres
    assert area == 4 and "metres" in note
    us_feet = 1200 / 3937  # metres per US survey foot
    area, note = pixel_area((0, 10, 0, 0, 0, -10), _wkt(2227))  # California III, US survey feet
    assert area == pytest.approx((10 * us_feet) ** 2, rel=1e-9) and "not metres" in note
    assert pixel_area((0, 0.001, 0, 0, 0, -0.001), _wkt(4326)) == (None, pytest.approx(
        "The map's CRS is not projected (degrees): pixel areas vary across the map, so areas are given in "
        "pixels only. Reproject the map to an equal-area CRS for hectares."))
    assert pixel_area((0, 1, 0, 0, 0, -1), "")[0] is None


def test_centre_and_window_follow_the_geotransform():
    grid = Grid(40, 30, (730000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632))
    assert grid.centre(0, 0) == (730005.0, 4999995.0)
    assert grid.centre(2, 3) == (730035.0, 4999975.0)
    assert grid.bounds == (730000.0, 4999700.0, 730400.0, 5000000.0) and grid.pixel_size == (10.0, 10.0)
    sub = grid.window(-2, 5, 4, 6)  # may reach past the edge (here: 2 rows above)
    assert (sub.width, sub.height, sub.crs_wkt) == (6, 4, grid.crs_wkt)
    assert sub.geotransform == (730050.0, 10.0, 0.0, 5000020.0, 0.0, -10.0)
    assert sub.centre(2, 0) == grid.centre(0, 5) and sub.centre(3, 5) == grid.centre(1, 10)


def test_same_as_tolerates_rounding_but_not_a_shift_a_size_or_another_crs():
    grid = Grid(40, 30, (730000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632))
    assert grid.same_as(Grid(40, 30, (730000.0 + 1e-7, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632)))
    assert not grid.same_as(Grid(40, 30, (730010.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632)))
    assert not grid.same_as(Grid(41, 30, grid.geotransform, _wkt(32632)))
    assert not grid.same_as(Grid(40, 30, grid.geotransform, _wkt(32633)))
    assert not grid.same_as(Grid(40, 30, grid.geotransform, ""))


def test_intersection_window_refuses_layers_without_common_area_or_crs():
    ref = Grid(40, 30, (730000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632))
    left = Grid(10, 30, (730000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632))
    right = Grid(10, 30, (730300.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _wkt(32632))
    assert intersection_window(ref, [left]) == (0, 0, 30, 10)
    assert intersection_window(ref, [right]) == (0, 30, 30, 10)
    with pytest.raises(InputMismatchError, match="overlap the reference layer separately but have no area"):
        intersection_window(ref, [left, right])
    with pytest.raises(InputMismatchError, match="dsm has no coordinate reference system"):
        intersection_window(ref, [Grid(10, 30, left.geotransform, "")], names=["dsm"])
