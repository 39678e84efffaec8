"""Tier 2: bdgf:classify / accuracy / modelinfo inside a real headless QGIS (processing.run, qgis_process)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
)

from tests.qgis_tools import REPO, import_plugin_package, run_in_process, run_with_qgis_process
from tests.test_qgis_helpers import hide_package, read_band, write_tiny_package

pytestmark = pytest.mark.qgis

ALGORITHMS = {
    "bdgf:classify": ("classification", ["SPECTRAL", "SAR", "LIDAR", "EXTRA_AUX", "MODEL", "DEVICE",
                                         "BACKEND", "TILE_SIZE", "BATCH_SIZE", "OUTPUT", "PROBABILITIES",
                                         "CONFIDENCE"]),
    "bdgf:accuracy": ("assessment", ["INPUT", "REFERENCE", "CLASS_FIELD", "MODEL", "OUTPUT_HTML",
                                     "OUTPUT_CSV", "OUTPUT_JSON"]),
    "bdgf:modelinfo": ("tools", ["MODEL"]),
    "bdgf:environment": ("tools", []),
}


@pytest.fixture(scope="session")
def tiny_model(fixture_scene, tmp_path_factory):
    return write_tiny_package(tmp_path_factory.mktemp("model") / "tiny.bdgf", fixture_scene)


def classify_params(scene, model, **extra):
    return {"SPECTRAL": scene["hsi"], "SAR": scene["sar"], "LIDAR": scene["dsm"], "MODEL": model,
            "OUTPUT": "TEMPORARY_OUTPUT", **extra}


def check(algorithm_id, params):
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return algorithm.checkParameterValues(params, context)


def test_algorithms_are_registered_with_groups_help_and_parameter_ids(bdgf_plugin):
    registry = QgsApplication.processingRegistry()
    for algorithm_id, (group_id, parameter_ids) in ALGORITHMS.items():
        algorithm = registry.algorithmById(algorithm_id)
        assert algorithm is not None, algorithm_id
        assert algorithm.groupId() == group_id and algorithm.group()
        assert algorithm.shortHelpString() and algorithm.displayName()
        assert [p.name() for p in algorithm.parameterDefinitions()] == parameter_ids
        assert type(algorithm.createInstance()) is type(algorithm)


def test_modelinfo_shows_the_card(bdgf_plugin, tiny_model):
    result = run_in_process("bdgf:modelinfo", {"MODEL": tiny_model})
    assert "Model: Tiny random model" in result["CARD"]
    assert "hsi [spectral]: 24 band(s)" in result["CARD"]
    assert json.loads(result["CARD_JSON"])["classes"][5]["name"] == "Water"


def test_classify_rejects_layers_that_do_not_match_the_card(bdgf_plugin, fixture_scene, tiny_model):
    params = classify_params(fixture_scene, tiny_model, SPECTRAL=fixture_scene["sar"], LIDAR=None)
    ok, message = check("bdgf:classify", params)
    assert not ok
    assert "hsi (spectral): expected 24 bands, found 4 bands" in message
    assert "dsm (lidar): expected 1 band, found no layer (missing)" in message
    with pytest.raises(QgsProcessingException, match="expected 24 bands, found 4 bands"):
        run_in_process("bdgf:classify", params)


def test_classify_rejects_a_damaged_model_file(bdgf_plugin, fixture_scene, tmp_path):
    bad = tmp_path / "bad.bdgf"
    bad.write_bytes(b"not a zip")
    ok, message = check("bdgf:classify", classify_params(fixture_scene, str(bad)))
    assert not ok and "is not a BDGF model package" in message


def test_missing_onnxruntime_is_reported_with_the_install_command(
        qgis_app, qgis_iface, qgis_processing, qgis_base, fixture_scene, tiny_model, monkeypatch):
    hide_package(monkeypatch, "onnxruntime")
    plugin = import_plugin_package(qgis_base).classFactory(qgis_iface)
    plugin.initGui()  # the plugin still loads
    try:
        ok, message = check("bdgf:classify", classify_params(fixture_scene, tiny_model))
        assert not ok
        assert "onnxruntime" in message and f"{sys.executable} -m pip install onnxruntime" in message
        with pytest.raises(QgsProcessingException, match="pip install onnxruntime"):
            run_in_process("bdgf:classify", classify_params(fixture_scene, tiny_model))
        # the torch backend does not need onnxruntime
        ok, _ = check("bdgf:classify", classify_params(fixture_scene, tiny_model, BACKEND=1))
        assert ok
    finally:
        plugin.unload()


def test_missing_torch_is_reported_for_the_torch_backend_only(
        qgis_app, qgis_iface, qgis_processing, qgis_base, fixture_scene, tiny_model, monkeypatch):
    hide_package(monkeypatch, "torch")
    plugin = import_plugin_package(qgis_base).classFactory(qgis_iface)
    plugin.initGui()
    try:
        ok, message = check("bdgf:classify", classify_params(fixture_scene, tiny_model, BACKEND=1))
        assert not ok and f"{sys.executable} -m pip install torch" in message
        assert check("bdgf:classify", classify_params(fixture_scene, tiny_model))[0]
    finally:
        plugin.unload()


def reference_polygons(label_path, out_path):
    """The labelled pixels of a label raster as polygons with an integer field 'class'."""
    from osgeo import gdal, ogr

    raster = gdal.Open(label_path)
    band = raster.GetRasterBand(1)
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(out_path))
    layer = source.CreateLayer("reference", raster.GetSpatialRef(), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
    gdal.Polygonize(band, band.GetMaskBand(), layer, 0)
    source = None
    return f"{out_path}|layername=reference"


def engine_scores(reference_path, predicted_path, classes):
    from engine.metrics import ConfusionMatrix

    matrix = ConfusionMatrix([c["value"] for c in classes])
    return matrix.update(read_band(reference_path), read_band(predicted_path)).metrics()


def test_accuracy_matches_engine_metrics_for_raster_and_vector_reference(
        bdgf_plugin, fixture_scene, tiny_model, tmp_path):
    # the dense truth scored against the test labels: a classification with known metrics
    expected = engine_scores(fixture_scene["test"], fixture_scene["labels"], fixture_scene["classes"])
    outputs = {"OUTPUT_HTML": str(tmp_path / "report.html"), "OUTPUT_CSV": str(tmp_path / "report.csv"),
               "OUTPUT_JSON": str(tmp_path / "report.json")}
    by_raster = run_in_process("bdgf:accuracy", {
        "INPUT": fixture_scene["labels"], "REFERENCE": fixture_scene["test"], "MODEL": tiny_model, **outputs})
    assert by_raster["OA"] == pytest.approx(expected.oa)
    assert by_raster["AA"] == pytest.approx(expected.aa)
    assert by_raster["KAPPA"] == pytest.approx(expected.kappa)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["confusion_matrix"] == expected.matrix.tolist()
    html = (tmp_path / "report.html").read_text()
    assert "Confusion matrix" in html and "Asphalt road" in html
    assert (tmp_path / "report.csv").read_text().startswith("class,value,reference_pixels")

    vector = reference_polygons(fixture_scene["test"], tmp_path / "reference.gpkg")
    by_vector = run_in_process("bdgf:accuracy", {
        "INPUT": fixture_scene["labels"], "REFERENCE": vector, "CLASS_FIELD": "class",
        "OUTPUT_HTML": str(tmp_path / "vector.html")})
    assert by_vector["OA"] == pytest.approx(expected.oa)
    assert by_vector["KAPPA"] == pytest.approx(expected.kappa)


def test_accuracy_needs_a_class_field_for_a_vector_reference(bdgf_plugin, fixture_scene, tmp_path):
    vector = reference_polygons(fixture_scene["test"], tmp_path / "reference.gpkg")
    ok, message = check("bdgf:accuracy", {"INPUT": fixture_scene["labels"], "REFERENCE": vector,
                                          "OUTPUT_HTML": str(tmp_path / "r.html")})
    assert not ok and "class field" in message


def paletted_classes(layer):
    """{value: (label, colour)} of a layer's paletted renderer; {} for any other renderer."""
    renderer = layer.renderer()
    if renderer is None or renderer.type() != "paletted":
        return {}
    return {c.value: (c.label, c.color.name()) for c in renderer.classes()}


class CollectingFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, info):  # noqa: N802 (QGIS API name)
        self.lines.append(info)
        super().pushInfo(info)


def engine_cli(scene, model, out_path):
    """The engine's own command line on the same inputs (the reference the plugin must match)."""
    done = subprocess.run(
        [sys.executable, "-m", "engine", "classify", "--spectral", scene["hsi"], "--aux", scene["sar"],
         "--aux", scene["dsm"], "--model", model, "--out", str(out_path), "--device", "cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return read_band(out_path)


@pytest.fixture(scope="module")
def cli_classes(fixture_scene, engine_model, tmp_path_factory):
    return engine_cli(fixture_scene, engine_model, tmp_path_factory.mktemp("cli") / "cli.tif")


def test_classify_in_process_matches_the_engine_cli_and_is_styled(
        bdgf_plugin, fixture_scene, engine_model, cli_classes, tmp_path):
    import processing

    feedback = CollectingFeedback()
    params = classify_params(fixture_scene, engine_model, OUTPUT=str(tmp_path / "plugin.tif"),
                             PROBABILITIES=str(tmp_path / "probs.tif"), CONFIDENCE=str(tmp_path / "conf.tif"))
    results = processing.runAndLoadResults("bdgf:classify", params, feedback=feedback)
    assert results["OUTPUT"] == str(tmp_path / "plugin.tif")
    assert (read_band(results["OUTPUT"]) == cli_classes).all()
    assert gdal.Open(results["PROBABILITIES"]).RasterCount == len(fixture_scene["classes"])
    assert gdal.Open(results["CONFIDENCE"]).RasterCount == 1
    assert results["DEVICE_USED"] == "cpu"
    log = "\n".join(feedback.lines)
    for expected in ("Input hsi:", "Input sar:", "Input dsm:", "24 band(s)", "device: auto",
                     "backend: onnx", "tile_size_px: automatic", "batch_size: automatic", "Device used: cpu",
                     "Model: random-init"):
        assert expected in log, expected
    loaded = [layer for layer in QgsProject.instance().mapLayers().values()
              if layer.source() == results["OUTPUT"]]
    assert len(loaded) == 1
    assert paletted_classes(loaded[0]) == {
        c["value"]: (c["name"], c["color"].lower()) for c in fixture_scene["classes"]}
    QgsProject.instance().removeMapLayer(loaded[0].id())


def test_classify_through_qgis_process_matches_the_engine_cli(fixture_scene, engine_model, cli_classes,
                                                             tmp_path):
    out = tmp_path / "qgis_process.tif"
    result = run_with_qgis_process(tmp_path / "profile", "bdgf:classify", classify_params(
        fixture_scene, engine_model, OUTPUT=str(out), TILE_SIZE=16, BATCH_SIZE=64), timeout=300)
    assert result["results"]["OUTPUT"] == str(out)
    assert (read_band(out) == cli_classes).all()  # tiling does not change the map
    layer = QgsRasterLayer(str(out), "qgis_process output")  # styled by the engine's sidecar .qml
    assert paletted_classes(layer)[6] == ("Water", "#2166ac")


def test_modelinfo_and_accuracy_through_qgis_process(fixture_scene, tiny_model, tmp_path):
    # one fresh profile per call: `qgis_process plugins enable` fails when the plugin is already enabled
    info = run_with_qgis_process(tmp_path / "profile1", "bdgf:modelinfo", {"MODEL": tiny_model})
    assert "Model: Tiny random model" in info["results"]["CARD"]
    report = tmp_path / "report.html"
    scores = run_with_qgis_process(tmp_path / "profile2", "bdgf:accuracy", {
        "INPUT": fixture_scene["labels"], "REFERENCE": fixture_scene["test"], "OUTPUT_HTML": str(report)})
    expected = engine_scores(fixture_scene["test"], fixture_scene["labels"], fixture_scene["classes"])
    assert scores["results"]["OA"] == pytest.approx(expected.oa)
    assert "#1b7837" in report.read_text()  # no model given: class colours from the raster's colour table


@pytest.mark.slow
def test_accuracy_of_a_trained_package_matches_its_training_metrics(
        bdgf_plugin, fixture_scene, engine_trained_run, tmp_path):
    run = Path(engine_trained_run)
    model = str(run / "model.bdgf")
    classified = run_in_process("bdgf:classify", classify_params(
        fixture_scene, model, OUTPUT=str(tmp_path / "trained.tif")))
    scores = run_in_process("bdgf:accuracy", {
        "INPUT": classified["OUTPUT"], "REFERENCE": fixture_scene["test"], "MODEL": model,
        "OUTPUT_HTML": str(tmp_path / "trained.html")})
    expected = engine_scores(fixture_scene["test"], classified["OUTPUT"], fixture_scene["classes"])
    assert scores["OA"] == pytest.approx(expected.oa)
    assert scores["KAPPA"] == pytest.approx(expected.kappa)
    training = json.loads((run / "metrics.json").read_text())
    # training evaluates with PyTorch, the plugin with ONNX Runtime: a pixel or two may flip
    assert scores["OA"] == pytest.approx(training["oa"], abs=2e-3)



def test_extra_auxiliary_layers_fill_the_card_modalities_beyond_sar_and_lidar(
        bdgf_plugin, fixture_scene, tmp_path):
    from tests.test_qgis_helpers import tiny_card

    card = tiny_card(fixture_scene)
    modalities = card["modalities"] + [{"name": "thermal", "role": "thermal", "bands": 1}]
    normalization = {key: values + [values[2]] for key, values in card["normalization"].items()}
    model = write_tiny_package(tmp_path / "four.bdgf", fixture_scene, modalities=modalities,
                               normalization=normalization)
    ok, message = check("bdgf:classify", classify_params(fixture_scene, model))
    assert not ok and "thermal (thermal): expected 1 band, found no layer (missing)" in message
    params = classify_params(fixture_scene, model, EXTRA_AUX=[fixture_scene["dsm"]],
                             OUTPUT=str(tmp_path / "four.tif"))
    assert check("bdgf:classify", params) == (True, "")
    assert read_band(run_in_process("bdgf:classify", params)["OUTPUT"]).max() > 0
