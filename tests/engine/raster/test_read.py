"""GDAL I/O: describe, align on a reference grid (CRS, pixel size, extent), windows, nodata masks.

Data layers hold a linear ramp of the reference (EPSG:32632) coordinates, so aligned values can be
checked analytically at every reference pixel centre.
"""
import numpy as np
import pytest
from osgeo import gdal, osr

from engine.errors import BDGFError, InputMismatchError
from engine.raster.grid import crs_label
from engine.raster.read import (
    aligned_vrt,
    combine_valid,
    describe_raster,
    open_raster,
    read_aligned_stack,
    read_window,
    reference_grid,
)

REF_X0, REF_Y0, REF_PX = 730_000.0, 5_000_000.0, 10.0  # near the UTM 32/33 boundary (12° E, 45° N)
REF_W, REF_H = 40, 30


def ramp(x, y):
    """The analytic field, in EPSG:32632 metres."""
    return 0.05 * (x - REF_X0) + 0.02 * (y - REF_Y0) + 100.0


def srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def to_ref(epsg, xs, ys):
    """Transform coordinate arrays from `epsg` to EPSG:32632."""
    if epsg == 32632:
        return xs, ys
    ct = osr.CoordinateTransformation(srs(epsg), srs(32632))
    pts = np.array(ct.TransformPoints(np.c_[xs.ravel(), ys.ravel()]))
    return pts[:, 0].reshape(xs.shape), pts[:, 1].reshape(xs.shape)


def pixel_centres(gt, w, h):
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    return gt[0] + cols * gt[1], gt[3] + rows * gt[5]


def write_tif(path, bands, gt, epsg, nodata=None, dtype=gdal.GDT_Float32, driver="GTiff"):
    """A raster file (or a MEM dataset, returned open). GTiff has one nodata for all bands."""
    bands = np.asarray(bands)
    if bands.ndim == 2:
        bands = bands[None]
    count, h, w = bands.shape
    ds = gdal.GetDriverByName(driver).Create(str(path), w, h, count, dtype)
    ds.SetGeoTransform(gt)
    if epsg:
        ds.SetProjection(srs(epsg).ExportToWkt())
    for i, band in enumerate(bands):
        b = ds.GetRasterBand(i + 1)
        nd = nodata[i] if isinstance(nodata, (list, tuple)) else nodata
        if nd is not None:
            b.SetNoDataValue(nd)
        b.WriteArray(band)
    if driver == "MEM":
        return ds
    ds = None
    return str(path)


def interior(valid):
    """Valid pixels whose 4 neighbours are valid too (resampling kernels are cut at footprint edges)."""
    out = np.zeros_like(valid)
    core = valid[1:-1, 1:-1]
    out[1:-1, 1:-1] = core & valid[:-2, 1:-1] & valid[2:, 1:-1] & valid[1:-1, :-2] & valid[1:-1, 2:]
    return out


def ramp_layer(path, epsg, gt, w, h, nbands=1):
    """A layer on its own grid whose values are ramp() of the pixel centres in EPSG:32632."""
    xs, ys = pixel_centres(gt, w, h)
    rx, ry = to_ref(epsg, xs, ys)
    field = ramp(rx, ry)
    return write_tif(path, [field * (i + 1) for i in range(nbands)], gt, epsg)


@pytest.fixture
def ref_path(tmp_path):
    gt = (REF_X0, REF_PX, 0.0, REF_Y0, 0.0, -REF_PX)
    return ramp_layer(tmp_path / "ref.tif", 32632, gt, REF_W, REF_H, nbands=3)


@pytest.fixture
def ref_grid(ref_path):
    return reference_grid(ref_path)


def ref_ramp(grid, row0=0, col0=0, h=None, w=None):
    sub = grid.window(row0, col0, h or grid.height, w or grid.width)
    xs, ys = pixel_centres(sub.geotransform, sub.width, sub.height)
    return ramp(xs, ys)


def footprint_grid(epsg, px, bounds32632):
    """A grid in `epsg` with pixel `px` covering `bounds32632` (given in EPSG:32632)."""
    ct = osr.CoordinateTransformation(srs(32632), srs(epsg))
    xmin, ymin, xmax, ymax = ct.TransformBounds(*bounds32632, 21) if epsg != 32632 else bounds32632
    w, h = int(np.ceil((xmax - xmin) / px)), int(np.ceil((ymax - ymin) / px))
    return (xmin, px, 0.0, ymax, 0.0, -px), w, h


def test_describe(ref_path, tmp_path):
    info = describe_raster(ref_path)
    assert (info.width, info.height, info.band_count) == (REF_W, REF_H, 3)
    assert info.geotransform == (REF_X0, REF_PX, 0.0, REF_Y0, 0.0, -REF_PX)
    assert srs(32632).IsSame(srs_from(info.crs_wkt))
    assert info.nodata == (None, None, None)
    assert info.dtypes == ("Float32",) * 3
    assert info.grid.bounds == (REF_X0, REF_Y0 - REF_H * REF_PX, REF_X0 + REF_W * REF_PX, REF_Y0)
    assert crs_label(info.crs_wkt).startswith("EPSG:32632")
    mem = write_tif("", np.zeros((2, 4, 4)), (0, 1, 0, 4, 0, -1), 32632, nodata=[-1.0, None], driver="MEM")
    assert describe_raster(mem).nodata == (-1.0, None)


def srs_from(wkt):
    s = osr.SpatialReference()
    s.ImportFromWkt(wkt)
    return s


def test_open_errors(tmp_path):
    bad = tmp_path / "x.tif"
    bad.write_text("not a raster")
    with pytest.raises(BDGFError, match="Cannot open raster"):
        open_raster(bad)
    with pytest.raises(BDGFError, match="Cannot open raster"):
        open_raster(tmp_path / "missing.tif")


def test_same_grid_is_passthrough(ref_path, ref_grid):
    ds = aligned_vrt(ref_path, ref_grid)
    data, valid = read_window(ds, 0, 0, REF_H, REF_W)
    assert valid.all()
    np.testing.assert_allclose(data[0], ref_ramp(ref_grid), rtol=1e-6)
    sub = aligned_vrt(ref_path, ref_grid, bands=[3])
    assert sub.RasterCount == 1
    np.testing.assert_allclose(read_window(sub, 0, 0, REF_H, REF_W)[0][0], 3 * ref_ramp(ref_grid), rtol=1e-6)


def test_align_pixel_size_and_extent(tmp_path, ref_grid):
    # same CRS, 4 m pixels, covering only the left ~60 % and a margin above the reference
    gt, w, h = footprint_grid(32632, 4.0, (REF_X0 - 50, REF_Y0 - 250, REF_X0 + 240, REF_Y0 + 40))
    other = ramp_layer(tmp_path / "other.tif", 32632, gt, w, h)
    ds = aligned_vrt(other, ref_grid, "bilinear")
    assert (ds.RasterXSize, ds.RasterYSize) == (REF_W, REF_H)
    assert ds.GetGeoTransform() == pytest.approx(ref_grid.geotransform)
    data, valid = read_window(ds, 0, 0, REF_H, REF_W)
    assert valid[:24, :23].all()  # inside the footprint
    assert not valid[:, 25:].any() and not valid[26:, :].any()  # outside the footprint
    expected = ref_ramp(ref_grid)
    np.testing.assert_allclose(data[0][interior(valid)], expected[interior(valid)], atol=0.01)  # 0.2 m
    np.testing.assert_allclose(data[0][valid], expected[valid], atol=0.1)  # < 2 m at the edge
    assert (data[0][~valid] == 0).all()


@pytest.mark.parametrize("epsg,px", [(32633, 7.0), (4326, 0.00008)])
def test_align_other_crs(tmp_path, ref_grid, epsg, px):
    bounds = (REF_X0 + 100, REF_Y0 - 400, REF_X0 + 500, REF_Y0 + 100)  # right part of the reference
    gt, w, h = footprint_grid(epsg, px, bounds)
    other = ramp_layer(tmp_path / "other.tif", epsg, gt, w, h)
    ds = aligned_vrt(other, ref_grid, "bilinear")
    data, valid = read_window(ds, 0, 0, REF_H, REF_W)
    assert valid[:, 12:].all()  # well inside the transformed footprint
    assert not valid[:, :5].any()
    expected = ref_ramp(ref_grid)
    np.testing.assert_allclose(data[0][interior(valid)], expected[interior(valid)], atol=0.05)  # < 1 m
    np.testing.assert_allclose(data[0][valid], expected[valid], atol=0.3)  # < 6 m at the edge


def test_no_overlap_error(tmp_path, ref_grid):
    gt = (REF_X0 + 100_000, 10.0, 0.0, REF_Y0, 0.0, -10.0)
    far = write_tif(tmp_path / "far.tif", np.ones((5, 5)), gt, 32633)
    with pytest.raises(InputMismatchError) as err:
        aligned_vrt(far, ref_grid)
    msg = str(err.value)
    assert "does not overlap the reference layer" in msg
    assert "EPSG:32633" in msg and "EPSG:32632" in msg
    assert "far.tif" in msg and "x 830000" in msg and "x 730000..730400" in msg


def test_missing_crs_error(tmp_path, ref_grid):
    path = write_tif(tmp_path / "nocrs.tif", np.ones((5, 5)), (REF_X0, 10, 0, REF_Y0, 0, -10), None)
    with pytest.raises(InputMismatchError, match="has no coordinate reference system"):
        aligned_vrt(path, ref_grid)


def test_bad_band_request(ref_path, ref_grid):
    with pytest.raises(InputMismatchError, match=r"band\(s\) \[4\] requested, but the layer has bands 1..3"):
        aligned_vrt(ref_path, ref_grid, bands=[1, 4])


def test_read_window_padding(ref_path, ref_grid):
    ds = open_raster(ref_path)
    data, valid = read_window(ds, -3, REF_W - 5, 10, 10, bands=[2])
    assert data.shape == (1, 10, 10) and data.dtype == np.float32
    assert not valid[:3].any() and not valid[:, 5:].any()
    assert valid[3:, :5].all()
    expected = 2 * ref_ramp(ref_grid, 0, REF_W - 5, 7, 5)
    np.testing.assert_allclose(data[0, 3:, :5], expected, rtol=1e-6)
    assert (data[0][~valid] == 0).all()
    empty, none_valid = read_window(ds, -50, -50, 4, 4)
    assert not none_valid.any() and (empty == 0).all()
    with pytest.raises(ValueError, match="pad=False"):
        read_window(ds, -1, 0, 4, 4, pad=False)


def test_nodata_nan_inf_and_union(tmp_path):
    gt = (0.0, 1.0, 0.0, 6.0, 0.0, -1.0)
    a = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6)
    a[0, 1, 1] = -9999.0  # band 1 nodata
    a[1, 2, 2] = -1.0  # band 2 nodata (a different value)
    a[0, 3, 3] = -1.0  # not nodata in band 1
    a[1, 4, 4] = np.nan
    a[0, 5, 5] = np.inf
    layer_a = write_tif("", a, gt, 32632, nodata=[-9999.0, -1.0], driver="MEM")  # per-band nodata
    b = np.ones((6, 6), dtype=np.uint16)
    b[0, 5] = 0
    layer_b = write_tif(tmp_path / "b.tif", b, gt, 32632, nodata=0, dtype=gdal.GDT_UInt16)
    data_a, valid_a = read_window(layer_a, 0, 0, 6, 6)
    data_b, valid_b = read_window(open_raster(layer_b), 0, 0, 6, 6)
    assert sorted(zip(*np.nonzero(~valid_a))) == [(1, 1), (2, 2), (4, 4), (5, 5)]
    assert np.isfinite(data_a).all() and data_a[0, 3, 3] == -1.0
    assert sorted(zip(*np.nonzero(~valid_b))) == [(0, 5)]
    both = combine_valid(valid_a, valid_b)
    assert sorted(zip(*np.nonzero(~both))) == [(0, 5), (1, 1), (2, 2), (4, 4), (5, 5)]
    assert (combine_valid([valid_a, valid_b]) == both).all()


def test_alpha_mask(tmp_path):
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "alpha.tif"), 4, 4, 2, gdal.GDT_Byte)
    ds.SetGeoTransform((0, 1, 0, 4, 0, -1))
    ds.GetRasterBand(1).WriteArray(np.full((4, 4), 7, np.uint8))
    alpha = np.full((4, 4), 255, np.uint8)
    alpha[0, 0] = 0
    ds.GetRasterBand(2).SetColorInterpretation(gdal.GCI_AlphaBand)
    ds.GetRasterBand(2).WriteArray(alpha)
    ds = None
    _, valid = read_window(open_raster(tmp_path / "alpha.tif"), 0, 0, 4, 4, bands=[1])
    assert not valid[0, 0] and valid.sum() == 15


def test_nodata_propagates_through_warp(tmp_path, ref_grid):
    gt, w, h = footprint_grid(32633, 7.0, ref_grid.bounds)
    xs, ys = pixel_centres(gt, w, h)
    field = ramp(*to_ref(32633, xs, ys)).astype(np.float32)
    bad = [(h // 2, w // 2), (8, 9)]
    field[bad[0]] = -9999.0  # declared nodata: resampling skips it
    field[bad[1]] = np.nan  # NaN spreads to the output pixels it touches
    other = write_tif(tmp_path / "o.tif", field, gt, 32633, nodata=-9999.0)
    data, valid = read_window(aligned_vrt(other, ref_grid), 0, 0, REF_H, REF_W)
    assert np.isfinite(data).all()
    rx, ry = to_ref(32633, xs[bad[1]], ys[bad[1]])
    col, row = (rx - REF_X0) / REF_PX, (REF_Y0 - ry) / REF_PX
    rows, cols = np.nonzero(~valid)
    assert 0 < len(rows) <= 16  # the bilinear kernel widens by 10/7 when downsampling
    assert (np.abs(rows + 0.5 - row) < 2.5).all() and (np.abs(cols + 0.5 - col) < 2.5).all()
    expected = ref_ramp(ref_grid)
    np.testing.assert_allclose(data[0][interior(valid)], expected[interior(valid)], atol=0.05)


def test_read_aligned_stack(tmp_path, ref_path, ref_grid):
    gt, w, h = footprint_grid(32633, 6.0, (REF_X0, REF_Y0 - 300, REF_X0 + 400, REF_Y0))
    other = ramp_layer(tmp_path / "o.tif", 32633, gt, w, h, nbands=2)
    arrays, valid = read_aligned_stack([ref_path, other], bands=[[1, 3], [2]])
    assert [a.shape for a in arrays] == [(2, REF_H, REF_W), (1, REF_H, REF_W)]
    assert valid.shape == (REF_H, REF_W)
    assert valid[:28].all() and not valid[31:].any()
    np.testing.assert_allclose(arrays[0][1], 3 * ref_ramp(ref_grid), rtol=1e-6)
    inner = interior(valid)
    np.testing.assert_allclose(arrays[1][0][inner], 2 * ref_ramp(ref_grid)[inner], atol=0.1)


def test_windows_agree_with_full_read(tmp_path, ref_grid):
    """Tiles of an aligned layer read the same values as one full read (no seams between tiles)."""
    gt, w, h = footprint_grid(32633, 7.0, ref_grid.bounds)
    rng = np.random.default_rng(0)
    path = write_tif(tmp_path / "noise.tif", rng.random((2, h, w), dtype=np.float32), gt, 32633)
    full, full_valid = read_window(aligned_vrt(path, ref_grid), 0, 0, REF_H, REF_W)
    for row0, col0 in [(0, 0), (7, 13), (20, 31)]:
        tile, valid = read_window(aligned_vrt(path, ref_grid), row0 - 4, col0 - 4, 12, 12)
        r1, c1 = min(row0 + 8, REF_H), min(col0 + 8, REF_W)
        np.testing.assert_array_equal(tile[:, 4:4 + r1 - row0, 4:4 + c1 - col0], full[:, row0:r1, col0:c1])
        np.testing.assert_array_equal(valid[4:4 + r1 - row0, 4:4 + c1 - col0], full_valid[row0:r1, col0:c1])


