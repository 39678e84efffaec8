"""bdgf:train in a real headless QGIS: polygons from the fixture scene's training raster, a text class
field styled 'Categorized', the child process with its progress, cancel, refusals before any work, and the
same figures through qgis_process as through `python -m training.run` on the same config."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from osgeo import gdal, ogr
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRendererCategory,
    QgsVectorLayer,
)

from engine.model.package import ModelPackage
from engine.raster.write import read_classes
from tests.fixtures import FIXTURE_CLASSES
from tests.qgis_tools import REPO, run_in_process, run_with_qgis_process

pytestmark = [pytest.mark.qgis, pytest.mark.slow]
# the test-size overrides of tests/training/test_run.py, plus no few-label recipe: seconds, not minutes
# (";" between settings: qgis_process splits a value at commas)
TINY = "ddpm_steps=12; epochs=2; tsne_points=100; min_steps=0; pseudo_rounds=0"
STYLE = {"Trees": "#006400", "Grass": "#7cfc00", "Roof (concrete)": "#ff00ff", "Asphalt road": "#000080",
         "Bare soil": "#ffa500", "Water": "#00ffff"}  # not the fixture's colours: they must come from here


def text_polygons(scene, path, values=None):
    """The scene's training pixels as polygons with a text field `cover` (the class names)."""
    raster = gdal.Open(scene["train"])
    band = raster.GetRasterBand(1)
    memory = ogr.GetDriverByName("Memory").CreateDataSource("m")
    polygons = memory.CreateLayer("p", raster.GetSpatialRef())
    polygons.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    gdal.Polygonize(band, band, polygons, 0)
    out = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = out.CreateLayer("labels", raster.GetSpatialRef(), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("cover", ogr.OFTString))
    for feature in polygons:
        name = (values or FIXTURE_CLASSES)[feature.GetField("value") - 1]
        copy = ogr.Feature(layer.GetLayerDefn())
        copy.SetField("cover", name)
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        layer.CreateFeature(copy)
    out = None
    return str(path)


def labelled_points(scene, path, count=6):
    """Points on test pixels with a text field `label`: the class names, as a user fills in the points of
    bdgf:suggestsamples (one left empty: not labelled)."""
    raster = gdal.Open(scene["test"])
    values = raster.GetRasterBand(1).ReadAsArray()
    x0, dx, _, y0, _, dy = raster.GetGeoTransform()
    out = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = out.CreateLayer("suggested_samples", raster.GetSpatialRef(), ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("label", ogr.OFTString))
    rows, cols = (values > 0).nonzero()
    for i in range(count + 1):
        r, c = int(rows[i * 37 % len(rows)]), int(cols[i * 37 % len(rows)])
        feature = ogr.Feature(layer.GetLayerDefn())
        if i < count:
            feature.SetField("label", FIXTURE_CLASSES[int(values[r, c]) - 1])
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x0 + (c + 0.5) * dx} {y0 + (r + 0.5) * dy})"))
        layer.CreateFeature(feature)
    out = None
    return str(path)


def styled_layer(path):
    layer = QgsVectorLayer(path, "labels", "ogr")
    categories = [QgsRendererCategory(name, QgsFillSymbol.createSimple({"color": colour}), f"{name} (mine)")
                  for name, colour in STYLE.items()]
    layer.setRenderer(QgsCategorizedSymbolRenderer("cover", categories))
    QgsProject.instance().addMapLayer(layer)
    return layer


def train_params(scene, labels, out, **extra):
    return {"SPECTRAL": scene["hsi"], "SAR": scene["sar"], "LIDAR": scene["dsm"], "LABELS": labels,
            "LABEL_FIELD": "cover", "PRESET": 0, "DEVICE": 2, "TRAINING_SETTINGS": TINY, "OUTPUT": str(out),
            **extra}


class Recorder(QgsProcessingFeedback):
    def __init__(self, cancel_at=None):
        super().__init__()
        self.values, self.infos, self.cancel_at, self.cancelled_at = [], [], cancel_at, None
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        self.values.append(value)
        if self.cancel_at is not None and value >= self.cancel_at and self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
            self.cancel()

    def pushInfo(self, info):  # noqa: N802 (QGIS API name)
        self.infos.append(info)
        super().pushInfo(info)


def test_train_on_styled_text_polygons_then_classify_with_the_package(bdgf_plugin, fixture_scene, tmp_path):
    layer = styled_layer(text_polygons(fixture_scene, tmp_path / "labels.gpkg"))
    feedback = Recorder()
    out = tmp_path / "mine.bdgf"
    points = labelled_points(fixture_scene, tmp_path / "to_label.gpkg")  # the labelling loop's points
    results = run_in_process("bdgf:train", train_params(fixture_scene, layer.id(), out, EXTRA_LABELS=points),
                             feedback=feedback)
    assert results["OUTPUT"] == str(out) and out.is_file()
    assert feedback.values == sorted(feedback.values) and feedback.values[-1] == 100  # monotonic, to 100
    card = ModelPackage(out).card
    mine = [(f"{n} (mine)", c) for n, c in STYLE.items()]
    assert [(c["name"], c["color"]) for c in card["classes"]] == mine
    assert [c["value"] for c in card["classes"]] == [1, 2, 3, 4, 5, 6]  # codes for the text values
    assert 0 <= results["OA"] <= 1 and results["COVERAGE"] == 1.0 and Path(results["REPORT"]).is_file()
    assert set(json.loads(results["MISSING_MODALITY"])) == {"sar", "dsm"}
    run = Path(results["RUN_FOLDER"])
    assert all((run / name).is_file() for name in ("train.log", "config.toml", "labels.gpkg", "extra.gpkg"))
    assert "[[labels.extra]]" in (run / "config.toml").read_text()
    source = ogr.Open(str(run / "extra.gpkg"))  # kept while its layer is read
    extra = source.GetLayer(0)
    assert extra.GetFeatureCount() == 6  # the empty one is not a label; the names became class codes
    assert {f.GetField("class_code") for f in extra} <= {c["value"] for c in card["classes"]}
    source = None
    assert any("Time: about" in line for line in feedback.infos)  # the preflight's estimate
    mapped = run_in_process("bdgf:classify", {"SPECTRAL": fixture_scene["hsi"], "SAR": fixture_scene["sar"],
                                              "LIDAR": fixture_scene["dsm"], "MODEL": str(out),
                                              "OUTPUT": str(tmp_path / "map.tif")})
    written = read_classes(mapped["OUTPUT"])  # the map carries the user's names and colours
    assert [(c["name"], c["color"]) for c in written] == [(f"{n} (mine)", c) for n, c in STYLE.items()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: its state in /proc says so
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_cancel_at_about_30_percent_stops_the_process_tree_and_leaves_no_package(
        bdgf_plugin, fixture_scene, tmp_path):
    layer = styled_layer(text_polygons(fixture_scene, tmp_path / "labels.gpkg"))
    feedback = Recorder(cancel_at=30)
    out = tmp_path / "cancelled.bdgf"
    params = train_params(fixture_scene, layer.id(), out,
                          TRAINING_SETTINGS="ddpm_steps=400, epochs=2, min_steps=0, pseudo_rounds=0")
    with pytest.raises(QgsProcessingException, match="Cancelled: training stopped and no model package"):
        run_in_process("bdgf:train", params, feedback=feedback)
    stopped = time.monotonic()
    assert feedback.cancelled_at is not None and stopped - feedback.cancelled_at < 2.5
    assert 30 <= feedback.values[-1] < 40
    pid = int(next(line.split()[-1] for line in feedback.infos if line.startswith("Training process id:")))
    assert not _alive(pid)
    assert not list(tmp_path.rglob("*.bdgf"))
    assert (tmp_path / "cancelled_run" / "ckpt").is_dir()  # what a rerun continues from


def test_an_interpreter_without_torch_is_refused_before_any_work(bdgf_plugin, fixture_scene, tmp_path):
    from processing.core.ProcessingConfig import ProcessingConfig

    python = "/usr/bin/python3"  # Debian's Python: GDAL and numpy from apt, no torch
    probe = subprocess.run([python, "-c", "import torch"], capture_output=True)
    assert probe.returncode != 0, "this test needs a Python without torch"
    ProcessingConfig.setSettingValue("BDGF_TRAINING_PYTHON", python)
    try:
        layer = styled_layer(text_polygons(fixture_scene, tmp_path / "labels.gpkg"))
        with pytest.raises(QgsProcessingException) as error:
            run_in_process("bdgf:train", train_params(fixture_scene, layer.id(), tmp_path / "m.bdgf"))
    finally:
        ProcessingConfig.setSettingValue("BDGF_TRAINING_PYTHON", "")
    message = str(error.value)
    assert "torch" in message and f"{python} -m pip install" in message
    assert not (tmp_path / "m_run").exists() and not (tmp_path / "m.bdgf").exists()


def test_a_class_without_training_pixels_is_refused_by_name(bdgf_plugin, fixture_scene, tmp_path):
    path = text_polygons(fixture_scene, tmp_path / "labels.gpkg")
    source = ogr.Open(path, 1)  # one more polygon, of a class of its own, far outside the scene
    layer = source.GetLayer(0)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("cover", "Glacier")
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"))
    layer.CreateFeature(feature)
    source = None
    labels = QgsVectorLayer(path, "labels", "ogr")
    QgsProject.instance().addMapLayer(labels)
    with pytest.raises(QgsProcessingException, match="'Glacier' have no labelled pixel"):
        run_in_process("bdgf:train", train_params(fixture_scene, labels.id(), tmp_path / "m.bdgf"))
    assert not (tmp_path / "m.bdgf").exists()


def test_qgis_process_and_training_run_give_the_same_figures(fixture_scene, tmp_path):
    labels = text_polygons(fixture_scene, tmp_path / "labels.gpkg")
    out = tmp_path / "qp.bdgf"
    params = train_params(fixture_scene, labels, out)  # qgis_process takes each KEY=VALUE as it is
    results = run_with_qgis_process(tmp_path / "qgis", "bdgf:train", params, timeout=600)["results"]
    run = Path(results["RUN_FOLDER"])
    assert "ddpm_steps = 12" in (run / "config.toml").read_text()  # the settings reached the config
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    command = [sys.executable, "-m", "training.run", "--config", str(run / "config.toml"), "--out",
               str(tmp_path / "cli"), "--preset", "quick", "--device", "cpu", "--seeds", "0"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert (results["OA"], results["AA"], results["KAPPA"]) == (cli["oa"], cli["aa"], cli["kappa"])
