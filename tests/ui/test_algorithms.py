"""Tier 2: bdgf:classify / accuracy / modelinfo inside a real headless QGIS (processing.run, qgis_process)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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

from tests.fixtures import reference_polygons as fixture_polygons
from tests.qgis_tools import REPO, import_plugin_package, run_in_process, run_with_qgis_process
from tests.ui.test_helpers import hide_package, read_band, write_tiny_package

pytestmark = pytest.mark.qgis

ALGORITHMS = {
    "bdgf:train": ("classification", ["SPECTRAL", "SAR", "LIDAR", "LABELS", "LABEL_FIELD", "LABEL_RASTER",
                                      "TEST_LABELS", "TEST_RASTER", "EXTRA_LABELS", "EXTRA_FIELD", "PRESET",
                                      "OUTPUT", "RUN_FOLDER", "TRAIN_SHARE", "DEVICE", "SEEDS", "NODATA",
                                      "INPUT_SCALE", "TRAINING_SETTINGS"]),
    "bdgf:classify": ("classification", ["SPECTRAL", "SAR", "LIDAR", "EXTRA_AUX", "MODEL", "DEVICE",
                                         "BACKEND", "TILE_SIZE", "BATCH_SIZE", "NODATA", "INPUT_SCALE",
                                         "OUTPUT", "PROBABILITIES", "CONFIDENCE", "ENTROPY", "DISAGREEMENT",
                                         "AGREEMENT", "CONTRIBUTION", "DOMINANT_MODALITY"]),
    "bdgf:suggestsamples": ("labelling", ["CLASSES", "UNCERTAINTY", "COUNT", "MIN_DISTANCE", "SEED",
                                          "OUTPUT"]),
    "bdgf:exportjob": ("classification", ["SPECTRAL", "SAR", "LIDAR", "EXTRA_AUX", "MODEL", "DEVICE",
                                          "BACKEND", "TILE_SIZE", "BATCH_SIZE", "NODATA", "INPUT_SCALE",
                                          "OUT_DIR", "BLOCK_SIZE", "WRITE_PROBABILITIES", "WRITE_CONFIDENCE",
                                          "WRITE_ENTROPY", "WRITE_DISAGREEMENT", "WRITE_AGREEMENT",
                                          "WRITE_CONTRIBUTION", "WRITE_DOMINANT_MODALITY", "COG", "OUTPUT"]),
    "bdgf:accuracy": ("assessment", ["INPUT", "REFERENCE", "CLASS_FIELD", "MODEL", "SAMPLING", "OUTPUT_HTML",
                                     "OUTPUT_CSV", "OUTPUT_JSON"]),
    "bdgf:samplingdesign": ("assessment", ["INPUT", "TARGET_SE", "USERS_ACCURACY", "USERS_ACCURACY_BY_CLASS",
                                           "MINIMUM", "SEED", "OUTPUT"]),
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
    # a package without each branch's probabilities: says so, and how to add them
    assert "no   branch disagreement" in result["CARD"] and "--add-branch-outputs" in result["CARD"]
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
    """tests.fixtures.reference_polygons as a QGIS layer source (file|layername)."""
    return f"{fixture_polygons(label_path, out_path)}|layername=reference"


def engine_scores(reference_path, predicted_path, classes):
    from engine.accuracy.metrics import ConfusionMatrix

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
    assert by_raster["OA_CLASSIFIED"] == by_raster["OA"]
    assert by_raster["COVERAGE"] == pytest.approx(expected.coverage)
    assert by_raster["OA_ALL_REFERENCE"] == pytest.approx(expected.oa_all_reference)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["confusion_matrix"] == expected.matrix.tolist()
    assert report["coverage"] == pytest.approx(expected.coverage)
    assert set(report["area_adjusted"]) == {
        "sampling", "probability_sample", "assumption", "strata", "confidence_level", "z",
        "mapped_pixels_total", "pixel_area_m2", "area_note", "unclassified_reference_pixels",
        "overall_accuracy", "classes", "error_matrix_area_proportions", "notes"}
    assert report["area_adjusted"]["sampling"] == "not a probability sample — indicative only"
    adjusted = report["area_adjusted"]["overall_accuracy"]
    assert by_raster["OA_AREA_ADJUSTED"] == pytest.approx(adjusted["estimate"])
    html = (tmp_path / "report.html").read_text()
    assert "Confusion matrix" in html and "Asphalt road" in html
    assert "Coverage" in html and "Estimated area (ha) ± 95 % CI" in html and "indicative only" in html
    assert (tmp_path / "report.csv").read_text().startswith("class,value,reference_pixels")

    vector = reference_polygons(fixture_scene["test"], tmp_path / "reference.gpkg")
    by_vector = run_in_process("bdgf:accuracy", {
        "INPUT": fixture_scene["labels"], "REFERENCE": vector, "CLASS_FIELD": "class",
        "OUTPUT_HTML": str(tmp_path / "vector.html")})
    assert by_vector["OA"] == pytest.approx(expected.oa)
    assert by_vector["KAPPA"] == pytest.approx(expected.kappa)


def test_accuracy_lists_reference_values_outside_the_class_table(bdgf_plugin, fixture_scene, tiny_model,
                                                               tmp_path):
    # the model's class table has the fixture's 6 classes; give some reference pixels values 9 and 42
    source = gdal.Open(fixture_scene["test"])
    path = str(tmp_path / "reference.tif")
    ds = gdal.GetDriverByName("GTiff").CreateCopy(path, source)
    data = ds.GetRasterBand(1).ReadAsArray()
    data[0, :5] = 9
    data[1, :3] = 42
    ds.GetRasterBand(1).WriteArray(data)
    ds = None
    feedback = CollectingFeedback()
    run_in_process("bdgf:accuracy", {
        "INPUT": fixture_scene["labels"], "REFERENCE": path, "MODEL": tiny_model,
        "OUTPUT_HTML": str(tmp_path / "r.html"), "OUTPUT_JSON": str(tmp_path / "r.json")}, feedback=feedback)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ignored"] == 8
    assert report["ignored_values"] == [{"value": 9, "pixels": 5}, {"value": 42, "pixels": 3}]
    listed = ("8 reference pixels ignored, their value is not in the class table: value 9 (5 px), "
              "value 42 (3 px).")
    assert listed in (tmp_path / "r.html").read_text()
    assert listed in "\n".join(feedback.lines)


def test_accuracy_refuses_an_image_or_a_map_of_nothing_in_one_line(bdgf_plugin, fixture_scene, tmp_path):
    """The spectral image as the classification, or a map that classifies none of the reference: a
    Processing error naming what is wrong (the second used to escape as a BDGFError traceback), no report."""
    params = {"REFERENCE": fixture_scene["test"], "OUTPUT_HTML": str(tmp_path / "r.html")}
    with pytest.raises(QgsProcessingException, match="is not a class raster: it has .* bands"):
        run_in_process("bdgf:accuracy", {"INPUT": fixture_scene["hsi"], **params})
    source = gdal.Open(fixture_scene["labels"])
    empty = str(tmp_path / "empty.tif")
    ds = gdal.GetDriverByName("GTiff").CreateCopy(empty, source)
    ds.GetRasterBand(1).Fill(0)
    ds = None
    with pytest.raises(RuntimeError) as failed:  # qgis_process: what a user's log shows
        run_with_qgis_process(tmp_path / "profile", "bdgf:accuracy", {"INPUT": empty, **params}, timeout=300)
    message = str(failed.value)
    del failed
    assert "classifies none of the" in message and "Traceback" not in message
    assert not (tmp_path / "r.html").exists()


def test_sampling_design_points_labelled_and_fed_back_to_the_accuracy_assessment(
        bdgf_plugin, fixture_scene, tmp_path):
    """bdgf:samplingdesign on a map with errors and holes; the points are labelled from the dense truth
    and fed back to bdgf:accuracy as a stratified random sample."""
    from osgeo import ogr

    from engine.accuracy.area import area_accuracy, class_pixel_counts
    from engine.accuracy.metrics import ConfusionMatrix

    truth = read_band(fixture_scene["labels"])
    values = [c["value"] for c in fixture_scene["classes"]]
    class_map = truth.copy()  # 0 where the truth has no label: unclassified
    wrong = np.zeros(truth.shape, bool)
    wrong[::3, ::4] = truth[::3, ::4] > 0  # 1 labelled pixel in 12 takes the previous class
    class_map[wrong] = np.roll(values, 1)[np.searchsorted(values, truth[wrong])]
    class_map[::7] = 0  # every 7th row unclassified
    map_path = str(tmp_path / "map.tif")
    ds = gdal.GetDriverByName("GTiff").CreateCopy(map_path, gdal.Open(fixture_scene["labels"]))
    ds.GetRasterBand(1).WriteArray(class_map)
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds = None
    points = str(tmp_path / "sample.gpkg")
    result = run_in_process("bdgf:samplingdesign", {
        "INPUT": map_path, "TARGET_SE": 0.03, "USERS_ACCURACY": 0.9, "USERS_ACCURACY_BY_CLASS": "6=0.7",
        "MINIMUM": 20, "SEED": 3, "OUTPUT": points})
    design = json.loads(result["DESIGN"])
    assert result["SAMPLE_SIZE"] == design["total"] >= 20 * len(values)
    assert {s["value"]: s["expected_users_accuracy"] for s in design["strata"]}[6] == 0.7
    source = ogr.Open(points, 1)
    layer = source.GetLayer(0)
    assert layer.GetFeatureCount() == result["SAMPLE_SIZE"]
    assert [layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(4)] == [
        "sample_id", "map_class", "map_name", "reference"]
    gt = gdal.Open(map_path).GetGeoTransform()
    per_class = {}
    for feature in layer:
        x, y = feature.GetGeometryRef().GetX(), feature.GetGeometryRef().GetY()
        col, row = int((x - gt[0]) / gt[1]), int((y - gt[3]) / gt[5])
        assert class_map[row, col] == feature["map_class"] != 0  # inside its class, never unclassified
        assert feature.IsFieldNull("reference")
        per_class[feature["map_class"]] = per_class.get(feature["map_class"], 0) + 1
        feature.SetField("reference", int(truth[row, col]))  # the "interpreter" labels the point
        layer.SetFeature(feature)
    source = None
    assert per_class == {s["value"]: s["sample_size"] for s in design["strata"]}

    report_path = tmp_path / "sample.json"
    scores = run_in_process("bdgf:accuracy", {
        "INPUT": map_path, "REFERENCE": f"{points}|layername=sample", "CLASS_FIELD": "reference",
        "SAMPLING": 1, "OUTPUT_HTML": str(tmp_path / "sample.html"), "OUTPUT_JSON": str(report_path)})
    report = json.loads(report_path.read_text())
    area = report["area_adjusted"]
    assert area["sampling"] == "stratified random sample" and area["probability_sample"] is True
    assert report["coverage"] == 1  # every point lies on a classified pixel
    assert [c["sample_pixels"] for c in area["classes"]] == [per_class[v] for v in values]
    mapped = class_pixel_counts(class_map, values)
    assert [c["mapped_pixels"] for c in area["classes"]] == mapped
    expected = area_accuracy(np.array(report["confusion_matrix"]), mapped, values, probability_sample=True)
    assert scores["OA_AREA_ADJUSTED"] == pytest.approx(expected.overall.value)
    # the estimate agrees with the map's true accuracy (known here from the dense truth) within 3 SE
    true = ConfusionMatrix(values).update(truth, class_map).metrics()
    assert abs(expected.overall.value - true.oa) < 3 * expected.overall.se
    assert "stratified random sample" in (tmp_path / "sample.html").read_text()


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
    from tests.ui.test_helpers import tiny_card

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


# ---------------------------------------------------------------- trust outputs and where to label next

TRUST = ("ENTROPY", "DISAGREEMENT", "AGREEMENT", "CONTRIBUTION", "DOMINANT_MODALITY")


def test_classify_trust_outputs_load_styled_and_feed_the_sample_suggestions(
        bdgf_plugin, fixture_scene, engine_model, cli_classes, tmp_path):
    import processing
    from qgis.core import QgsVectorLayer

    feedback = CollectingFeedback()
    paths = {name: str(tmp_path / f"{name.lower()}.tif") for name in TRUST}
    params = classify_params(fixture_scene, engine_model, OUTPUT=str(tmp_path / "classes.tif"), **paths)
    results = processing.runAndLoadResults("bdgf:classify", params, feedback=feedback)
    assert (read_band(results["OUTPUT"]) == cli_classes).all()  # the class map is the plain run's
    assert {name: results[name] for name in TRUST} == paths
    assert any(line.startswith("Modality contribution: +") for line in feedback.lines)
    loaded = {layer.source(): layer for layer in QgsProject.instance().mapLayers().values()}
    for name in ("ENTROPY", "DISAGREEMENT", "AGREEMENT", "CONTRIBUTION"):
        renderer = loaded[paths[name]].renderer()
        assert renderer.type() == "singlebandpseudocolor", name
        shader = renderer.shader().rasterShaderFunction()
        assert (shader.minimumValue(), shader.maximumValue()) == (0.0, 1.0), name
    assert paletted_classes(loaded[paths["DOMINANT_MODALITY"]])[1][0] == "hsi"
    for layer in loaded.values():
        QgsProject.instance().removeMapLayer(layer.id())

    points = str(tmp_path / "to_label.gpkg")
    suggested = processing.runAndLoadResults("bdgf:suggestsamples", {
        "CLASSES": results["OUTPUT"], "UNCERTAINTY": results["ENTROPY"], "COUNT": 30, "MIN_DISTANCE": 3,
        "OUTPUT": points})
    assert suggested["POINTS"] == 30 and suggested["OUTPUT"] == points
    layer = QgsVectorLayer(f"{points}|layername=suggested_samples", "points", "ogr")
    assert layer.isValid() and layer.featureCount() == 30
    assert layer.fields().names()[-7:] == ["rank", "class_value", "class_name", "uncertainty", "row", "col",
                                           "label"]
    classes = read_band(results["OUTPUT"])
    per_class, chosen = {}, []
    for feature in layer.getFeatures():
        assert classes[feature["row"], feature["col"]] == feature["class_value"] != 0
        per_class[feature["class_value"]] = per_class.get(feature["class_value"], 0) + 1
        chosen.append((feature["row"], feature["col"]))
    # balanced within one point, except a class that ran out of candidates: every pixel of it then lies
    # within the minimum distance (3 px) of a chosen point
    top = max(per_class.values())
    for value, n in per_class.items():
        if n < top - 1:
            rows, cols = np.nonzero(classes == value)
            pts = np.array(chosen, float)
            dist = np.hypot(rows[:, None] - pts[None, :, 0], cols[:, None] - pts[None, :, 1]).min(1)
            assert (dist < 3).all(), (value, n, per_class)
    for loaded_layer in list(QgsProject.instance().mapLayers().values()):
        QgsProject.instance().removeMapLayer(loaded_layer.id())


def test_classify_refuses_branch_outputs_of_an_older_package(bdgf_plugin, fixture_scene, tiny_model,
                                                             tmp_path):
    out = tmp_path / "classes.tif"
    params = classify_params(fixture_scene, tiny_model, OUTPUT=str(out),
                             DISAGREEMENT=str(tmp_path / "disagreement.tif"))
    ok, message = check("bdgf:classify", params)
    assert not ok and "--add-branch-outputs" in message and "branch_probs" in message
    with pytest.raises(QgsProcessingException, match="exported without them"):
        run_in_process("bdgf:classify", params)
    assert list(tmp_path.iterdir()) == []
    # the entropy needs nothing more
    entropy = run_in_process("bdgf:classify", classify_params(
        fixture_scene, tiny_model, OUTPUT=str(out), ENTROPY=str(tmp_path / "entropy.tif")))["ENTROPY"]
    assert 0 <= read_band(entropy)[read_band(out) > 0].min() and read_band(entropy).max() <= 1


def test_suggest_samples_refuses_the_branch_agreement(bdgf_plugin, tmp_path, fixture_scene):
    agreement = tmp_path / "agreement.tif"
    ds = gdal.GetDriverByName("GTiff").CreateCopy(str(agreement), gdal.Open(fixture_scene["dsm"]))
    ds.GetRasterBand(1).SetDescription("branch agreement")
    ds = None
    with pytest.raises(QgsProcessingException, match="branch agreement"):
        run_in_process("bdgf:suggestsamples", {
            "CLASSES": fixture_scene["labels"], "UNCERTAINTY": str(agreement),
            "OUTPUT": str(tmp_path / "points.gpkg")})
    assert not (tmp_path / "points.gpkg").exists()


# ---------------------------------------------------------------- running without an auxiliary layer

class LogFeedback(CollectingFeedback):
    """Info and warning lines (the engine's 'Warning: ...' lines go to pushWarning)."""

    def pushWarning(self, warning):  # noqa: N802 (QGIS API name)
        self.lines.append(warning)
        super().pushWarning(warning)


def test_classify_runs_without_the_sar_layer_when_the_card_gives_its_figure(
        bdgf_plugin, fixture_scene, tmp_path):
    from engine.classify.run import classify
    from engine.settings import ClassifySettings

    figures = {"sar": {"oa": 0.412, "aa": 0.3, "kappa": 0.2, "test_pixels": 100}}
    model = write_tiny_package(tmp_path / "dropout.bdgf", fixture_scene,
                               metrics={"oa": 0.5, "missing_modality": figures})
    params = classify_params(fixture_scene, model, SAR=None, OUTPUT=str(tmp_path / "nosar.tif"))
    assert check("bdgf:classify", params) == (True, "")
    feedback = LogFeedback()
    result = run_in_process("bdgf:classify", params, feedback=feedback)
    log = "\n".join(feedback.lines)
    figure = "sar missing: the model card gives test OA 41.2 % without it instead of 50.0 % with every layer"
    assert f"Input sar: none, {figure}" in log and f"Warning: {figure}" in log
    reference = classify({"hsi": fixture_scene["hsi"], "dsm": fixture_scene["dsm"]}, model,
                         str(tmp_path / "engine.tif"), ClassifySettings(device="cpu"))
    assert reference.missing_modalities == figures
    assert (read_band(result["OUTPUT"]) == read_band(tmp_path / "engine.tif")).all()
    # no figure for dsm: refused in the parameter check and in the run, before any output
    params = classify_params(fixture_scene, model, LIDAR=None, OUTPUT=str(tmp_path / "nodsm.tif"))
    ok, message = check("bdgf:classify", params)
    assert not ok and "found no layer (missing): this model cannot run without dsm" in message
    with pytest.raises(QgsProcessingException, match="modality dropout"):
        run_in_process("bdgf:classify", params)
    assert not (tmp_path / "nodsm.tif").exists()
    # a batch job lists every layer: refused with the alternative
    ok, message = check("bdgf:exportjob", classify_params(fixture_scene, model, SAR=None,
                                                          OUTPUT=str(tmp_path / "job.json")))
    assert not ok and "A batch job needs a layer for every modality of the model; none is given for sar" \
        in message
    info = run_in_process("bdgf:modelinfo", {"MODEL": model})["CARD"]
    assert "Can run without: sar (test OA 41.2 %); one at a time" in info
