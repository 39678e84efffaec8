"""engine.classify.inputs: which layer feeds which modality of the card, band counts and band subsets,
reported with what was expected and what was found (through classify, and check_inputs directly)."""
from __future__ import annotations

from engine.classify.inputs import check_inputs
from engine.model.package import ModelPackage
from tests.engine.classify.test_run import (  # noqa: F401 (_collect_gdal_objects: an autouse fixture)
    _collect_gdal_objects,
    _inputs,
    _mismatch,
)


def test_missing_modality_is_reported_with_expected_and_found(engine_model, fixture_scene, tmp_path):
    msg = _mismatch(engine_model, {"hsi": fixture_scene["hsi"], "sar": fixture_scene["sar"]}, tmp_path)
    assert "dsm (lidar): expected 1 band, found no layer (missing)" in msg
    assert "hsi (spectral): expected 24 bands, found 24 bands" in msg


def test_wrong_band_count_is_reported(engine_model, fixture_scene, tmp_path):
    inputs = [fixture_scene["hsi"], fixture_scene["dsm"], fixture_scene["sar"]]  # aux swapped
    msg = _mismatch(engine_model, inputs, tmp_path)
    assert "sar (sar): expected 4 bands, found 1 band in" in msg
    assert "dsm (lidar): expected 1 band, found 4 bands in" in msg


def test_wrong_band_subset_is_reported(engine_model, fixture_scene, tmp_path):
    msg = _mismatch(engine_model, _inputs(fixture_scene), tmp_path, bands={"sar": [1, 2, 7, 8]})
    assert "band(s) [7, 8] outside 1..4" in msg
    msg = _mismatch(engine_model, _inputs(fixture_scene), tmp_path, bands={"hsi": list(range(1, 11))})
    assert "a band subset of 10 bands" in msg and "expected 24 bands" in msg


def test_valid_band_subset_is_accepted(engine_model, fixture_scene):
    card = ModelPackage(engine_model).card
    layers = check_inputs(card, _inputs(fixture_scene), bands={"sar": [4, 3, 2, 1]})
    assert [la.bands for la in layers] == [None, [4, 3, 2, 1], None]
