"""Bad input and faults (issue #13) through bdgf:classify in a real headless QGIS: in process and through
qgis_process.bin. The engine's own checks are tested in tests/engine/test_faults.py."""
import time
from pathlib import Path

import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from tests.fault_inputs import copy_scene, huge_vrt, inconsistent_package, read, warning_vrt, write_like
from tests.qgis_tools import enable_plugin, qgis_process, run_in_process
from tests.ui.test_algorithms import check, classify_params

pytestmark = pytest.mark.qgis


class WarningFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, warning):  # noqa: N802 (QGIS API name)
        self.warnings.append(warning)
        super().pushWarning(warning)


def test_classify_refuses_to_write_over_its_spectral_layer(bdgf_plugin, fixture_scene, engine_model,
                                                           tmp_path):
    layers = copy_scene(fixture_scene, tmp_path / "scene")
    before = Path(layers["hsi"]).read_bytes()
    params = classify_params(layers, engine_model, OUTPUT=layers["hsi"])
    with pytest.raises(QgsProcessingException) as info:
        run_in_process("bdgf:classify", params)
    hsi = layers["hsi"]
    assert f"The class raster output {hsi} is the hsi input layer ({hsi})" in str(info.value)
    assert Path(layers["hsi"]).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "scene").iterdir()) == ["dsm.tif", "hsi.tif", "sar.tif"]


def test_classify_of_a_huge_vrt_fails_in_seconds_through_qgis_process(fixture_scene, engine_model, tmp_path):
    spectral = huge_vrt(fixture_scene["hsi"], tmp_path / "huge.vrt")
    base = tmp_path / "profile"
    enable_plugin(base)
    params = classify_params(fixture_scene, engine_model, SPECTRAL=spectral,
                             OUTPUT=str(tmp_path / "huge.tif"), PROBABILITIES=str(tmp_path / "p.tif"))
    started = time.perf_counter()
    done = qgis_process(base, "run", "bdgf:classify", "--", *[f"{k}={v}" for k, v in params.items()],
                        timeout=120)
    assert time.perf_counter() - started < 60
    assert done.returncode == 1, done.stdout + done.stderr  # a reported failure, not a crash (SIGABRT)
    assert "for 1000000 x 1000000 px" in done.stdout + done.stderr
    assert not (tmp_path / "huge.tif").exists() and not list(tmp_path.glob("*.partial-*"))


def test_a_package_whose_card_disagrees_with_its_graphs_is_reported_before_the_run(
        bdgf_plugin, fixture_scene, tmp_path, monkeypatch):
    model = inconsistent_package(tmp_path / "inconsistent.bdgf", fixture_scene, monkeypatch)
    ok, message = check("bdgf:classify", classify_params(fixture_scene, model))
    assert not ok
    assert "card says 69 input channels (hsi 64 + sar 4 + dsm 1), classifier.onnx expects 29" in message


def test_nodata_and_input_scale_parameters_and_warnings_reach_the_processing_log(
        bdgf_plugin, fixture_scene, engine_model, tmp_path):
    dsm = read(fixture_scene["dsm"])
    dsm[:40] = 0.0  # real zeros over most of the scene, declared as nodata
    lidar = write_like(fixture_scene["dsm"], tmp_path / "dsm_zeros.tif", dsm, nodata=0.0)
    sar = warning_vrt(fixture_scene["sar"], tmp_path / "sar.vrt")  # GDAL warns when it is read
    feedback = WarningFeedback()
    run_in_process("bdgf:classify", classify_params(fixture_scene, engine_model, SAR=sar, LIDAR=lidar,
                                                    OUTPUT=str(tmp_path / "declared.tif")), feedback)
    assert any(w.startswith("Warning: dsm: ") and "--nodata dsm=none" in w for w in feedback.warnings)
    assert "Warning: GDAL warning: GDAL_RASTERIO_RESAMPLING = bogus not supported" in feedback.warnings
    declared = (read(tmp_path / "declared.tif") > 0).sum()
    feedback = WarningFeedback()
    run_in_process("bdgf:classify", classify_params(
        fixture_scene, engine_model, LIDAR=lidar, NODATA="dsm=none", INPUT_SCALE="hsi=1, sar=1",
        OUTPUT=str(tmp_path / "overridden.tif")), feedback)
    assert not any(w.startswith("Warning: dsm: ") for w in feedback.warnings)
    assert (read(tmp_path / "overridden.tif") > 0).sum() > 4 * declared
    ok, message = check("bdgf:classify", classify_params(fixture_scene, engine_model, INPUT_SCALE="hsi=-1"))
    assert not ok and "input scale must be a number above 0" in message


def test_classify_with_the_confidence_named_like_the_land_cover_is_one_line(bdgf_plugin, fixture_scene,
                                                                           engine_model, tmp_path):
    """Issue 26, case 7: OUTPUT = CONFIDENCE showed a Python traceback in QGIS."""
    same = str(tmp_path / "map.tif")
    with pytest.raises(QgsProcessingException) as error:
        run_in_process("bdgf:classify", classify_params(fixture_scene, engine_model, OUTPUT=same,
                                                        CONFIDENCE=same))
    assert "are the same file" in str(error.value) and "Traceback" not in str(error.value)
    assert not list(tmp_path.iterdir())


def test_a_layer_with_a_mislabelled_crs_is_refused_in_one_line(bdgf_plugin, fixture_scene, engine_model,
                                                                tmp_path):
    """Issue 26, case 4: UTM coordinates labelled EPSG:4326 gave an OverflowError traceback in QGIS."""
    from osgeo import gdal, osr

    layers = copy_scene(fixture_scene, tmp_path / "scene")
    ds = gdal.Open(layers["sar"], gdal.GA_Update)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    ds = None
    with pytest.raises(QgsProcessingException) as error:
        run_in_process("bdgf:classify", classify_params(layers, engine_model,
                                                        OUTPUT=str(tmp_path / "map.tif")))
    assert "cannot be placed in" in str(error.value) and "Traceback" not in str(error.value)
    assert not (tmp_path / "map.tif").exists()
