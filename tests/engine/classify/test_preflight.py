"""engine.classify.preflight: before any work, outputs that would destroy an input or the model, cannot be
written or cannot fit the disk are refused; input values unlike the training data are refused with the fix
(decibels, a scale factor); mostly-nodata layers and areas smaller than the patch are warned about."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr

from engine.classify.inputs import Layer
from engine.classify.preflight import check_outputs, inspect_inputs, output_bytes
from engine.errors import BDGFError
from engine.raster.grid import Grid
from engine.raster.read import open_raster
from engine.settings import ClassifyOutputs

CARD = {"modalities": [{"name": "sar", "role": "spectral", "bands": 2}], "patch_size": 9,
        "normalization": {"low": [[0.0, 0.0]], "high": [[1.0, 1.0]]}}
CLASSES = [{"value": 1, "name": "A", "color": "#000000"}, {"value": 2, "name": "B", "color": "#ffffff"}]


def _utm() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    return srs.ExportToWkt()


def _layer(path, values: np.ndarray, nodata: float | None = None, scale: float = 1.0) -> Layer:
    """A 2-band Float32 GeoTIFF holding `values` (2, h, w) and its Layer."""
    _, h, w = values.shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, 2, gdal.GDT_Float32)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0))
    ds.SetProjection(_utm())
    for i, band in enumerate(values):
        if nodata is not None:
            ds.GetRasterBand(i + 1).SetNoDataValue(nodata)
        ds.GetRasterBand(i + 1).WriteArray(band)
    ds = None
    return Layer("sar", "spectral", str(path), None, scale=scale)


def _inspect(layer: Layer, area=(0, 0, 20, 20)) -> list[str]:
    return inspect_inputs(CARD, [layer], [open_raster(layer.path)], area)


def test_values_unlike_the_training_data_are_refused_with_the_fix(tmp_path):
    rng = np.random.default_rng(0)
    linear = rng.uniform(0.05, 0.95, (2, 20, 20)).astype(np.float32)
    assert _inspect(_layer(tmp_path / "ok.tif", linear)) == []
    with pytest.raises(BDGFError, match="look like decibels") as info:
        _inspect(_layer(tmp_path / "db.tif", 10 * np.log10(linear)))
    assert "10 ^ (dB / 10)" in str(info.value) and "db.tif" in str(info.value)
    with pytest.raises(BDGFError, match="about 100 times those of the training data") as info:
        _inspect(_layer(tmp_path / "x100.tif", linear * 100))
    assert "--scale sar=0.01" in str(info.value)
    assert _inspect(_layer(tmp_path / "x100.tif", linear * 100, scale=0.01)) == []  # the scale is the fix


def test_mostly_nodata_and_small_areas_are_warned_about_and_all_nodata_is_refused(tmp_path):
    values = np.full((2, 20, 20), 0.5, np.float32)
    values[:, 5:, :] = -9999.0  # 75 % nodata
    warnings = _inspect(_layer(tmp_path / "holes.tif", values, nodata=-9999.0))
    assert len(warnings) == 1
    assert warnings[0].startswith("sar: 75 % of the area the layers share (20 x 20 px) is nodata in")
    assert "nodata value -9999 (declared by the file)" in warnings[0]
    small = _inspect(_layer(tmp_path / "small.tif", np.full((2, 20, 20), 0.5, np.float32)), area=(0, 0, 5, 6))
    assert len(small) == 1 and "(6 x 5 px) is smaller than the model's patch (9 x 9 px)" in small[0]
    with pytest.raises(BDGFError, match="No pixel can be classified"):
        _inspect(_layer(tmp_path / "empty.tif", np.full((2, 20, 20), -9999.0, np.float32), nodata=-9999.0))


def test_outputs_over_inputs_the_model_or_folders_and_outputs_too_big_for_the_disk_are_refused(tmp_path):
    layer = _layer(tmp_path / "sar.tif", np.zeros((2, 4, 4), np.float32))
    model = tmp_path / "m.bdgf"
    model.write_bytes(b"zip")
    grid = Grid(100, 50, (500000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), _utm())
    cases = {"is the sar input layer": ClassifyOutputs(str(tmp_path / "classes.tif"), confidence=layer.path),
             "is the model package": ClassifyOutputs(str(model)),
             "is an existing folder": ClassifyOutputs(str(tmp_path)),
             "Output folder does not exist": ClassifyOutputs(str(tmp_path / "absent" / "c.tif"))}
    for message, outputs in cases.items():
        with pytest.raises(BDGFError, match=message):
            check_outputs(outputs, [layer], str(model), grid, CLASSES)
    outputs = ClassifyOutputs(str(tmp_path / "c.tif"), probabilities=str(tmp_path / "p.tif"),
                              contribution=str(tmp_path / "m.tif"))
    check_outputs(outputs, [layer], str(model), grid, CLASSES)  # fine: nothing raised, nothing written
    assert output_bytes(outputs, grid, CLASSES, modalities=3) == {
        "class raster": 5000, "probabilities": 5000 * 4 * 2, "modality contribution": 5000 * 4 * 3}
    huge = Grid(10 ** 7, 10 ** 7, grid.geotransform, grid.crs_wkt)  # 100 TB of class raster alone
    with pytest.raises(BDGFError, match="leave out the probabilities and modality contribution"):
        check_outputs(outputs, [layer], str(model), huge, CLASSES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bdgf", "sar.tif"]


def test_values_are_compared_on_a_strided_part_of_a_large_sample(tmp_path, monkeypatch):
    """Above VALUE_PIXELS valid pixels the value check sees every k-th one (spread over the whole sample, not
    its first rows): a layer whose lower half is 100 times too large is still refused, an even one passes."""
    from engine.classify import preflight

    monkeypatch.setattr(preflight, "VALUE_PIXELS", 100)
    seen = []
    check = preflight._value_problem
    monkeypatch.setattr(preflight, "_value_problem", lambda layer, x, *a: seen.append(x.shape[1]) or check(
        layer, x, *a))
    rng = np.random.default_rng(1)
    values = rng.uniform(0.05, 0.95, (2, 40, 40)).astype(np.float32)
    assert _inspect(_layer(tmp_path / "ok.tif", values), area=(0, 0, 40, 40)) == []
    assert 100 <= seen[-1] < 200  # 1,600 valid pixels, every 16th
    values[:, 12:, :] *= 100  # 70 % of the pixels, all below the first 12 rows
    with pytest.raises(BDGFError, match="about 100 times those of the training data"):
        _inspect(_layer(tmp_path / "x100.tif", values), area=(0, 0, 40, 40))
