"""Tier 2: the dock panel in a real headless QGIS (background run, cancel, errors, screenshot)."""
import os
import shutil
import sys
from pathlib import Path

import pytest
from qgis.core import Qgis, QgsProject, QgsRasterLayer, QgsSettings

from tests.ui.test_helpers import hide_package, wait_until, write_tiny_package

pytestmark = pytest.mark.qgis
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # tests/artifacts
DEMO_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo.bdgf"


@pytest.fixture(scope="module")
def dock_model(engine_model):
    return engine_model  # random-init engine.nn package (tests/conftest.py)


@pytest.fixture()
def scene_layers(qgis_app, fixture_scene):
    project = QgsProject.instance()
    layers = {key: QgsRasterLayer(fixture_scene[key], key) for key in ("hsi", "sar", "dsm")}
    project.addMapLayers(list(layers.values()))
    yield layers
    project.removeMapLayers([layer.id() for layer in layers.values()])


@pytest.fixture()
def dock(bdgf_plugin, qgis_iface, scene_layers):
    qgis_iface.messageBar().clear_messages()
    QgsSettings().remove("bdgf/dock")  # pytest-qgis keeps one profile across runs: start from defaults
    bdgf_plugin.action.trigger()  # the toolbar / menu action opens the dock
    panel = bdgf_plugin.dock
    panel.pickers["SPECTRAL"].combo.setLayer(scene_layers["hsi"])
    panel.pickers["SAR"].combo.setLayer(scene_layers["sar"])
    panel.pickers["LIDAR"].combo.setLayer(scene_layers["dsm"])
    yield panel
    if panel.run is not None:
        panel.cancel()
        wait_until(lambda: panel.run is None, timeout=60)


def messages(qgis_iface, level):
    return qgis_iface.messageBar().get_messages(level)


def test_dock_shows_layer_info_and_the_model_card(dock, dock_model, scene_layers):
    info = {key: picker.info.text().replace("\u00a0", " ") for key, picker in dock.pickers.items()}
    assert info["SPECTRAL"].startswith("24 band(s) · EPSG:32632 · 64×48 px")
    assert info["SAR"].startswith("4 band(s)")
    dock.model.setFilePath(dock_model)
    assert dock.card["name"] == "random-init test model"
    text = dock.card_view.text()
    assert "#2166ac" in text and "Water" in text and "hsi (spectral): 24 band(s)" in text
    # which outputs the package supports: all of them (it gives each branch's probabilities)
    assert "Outputs this model can give" in text and "branch disagreement" in text and "&#10007;" not in text
    assert dock.check.text() == ""
    dock.resize(440, dock.body.sizeHint().height() + 160)  # the whole form, no scrolling
    ARTIFACTS.mkdir(exist_ok=True)
    assert dock.grab().save(str(ARTIFACTS / "dock.png"))


def test_run_adds_a_styled_layer_and_remembers_the_choices(dock, dock_model, qgis_iface, tmp_path):
    dock.model.setFilePath(dock_model)
    dock.output.setFilePath(str(tmp_path / "dock.tif"))
    dock.run_button.click()
    assert dock.run is not None and not dock.run_button.isEnabled()
    assert wait_until(lambda: dock.run is None, timeout=120)
    assert messages(qgis_iface, Qgis.Critical) == []
    layer = dock.last_layer
    assert layer.source() == str(tmp_path / "dock.tif")
    assert QgsProject.instance().mapLayer(layer.id()) is layer
    assert layer.renderer().type() == "paletted"
    assert {c.label for c in layer.renderer().classes()} >= {"Trees", "Water"}
    assert dock.progress.value() == 100
    assert any("Classification done" in m for m in messages(qgis_iface, Qgis.Success))
    assert QgsSettings().value("bdgf/dock/model") == dock_model
    QgsProject.instance().removeMapLayer(layer.id())


def test_one_run_opens_and_hashes_the_model_package_once(dock, dock_model, qgis_iface, tmp_path,
                                                         monkeypatch):
    """Dock card, parameter check and the run on the worker thread share one opened package."""
    package_module = sys.modules[type(dock).__module__.split(".ui.")[0] + ".engine.model.package"]
    original, hashed = package_module.ModelPackage._check_hash, []

    def counting(self, zf):
        hashed.append(self.path)
        return original(self, zf)

    monkeypatch.setattr(package_module.ModelPackage, "_check_hash", counting)
    fresh = tmp_path / "fresh.bdgf"  # a path no earlier test opened
    shutil.copyfile(dock_model, fresh)
    dock.model.setFilePath(str(fresh))
    dock.output.setFilePath(str(tmp_path / "once.tif"))
    dock.run_button.click()
    assert wait_until(lambda: dock.run is None, timeout=120)
    assert messages(qgis_iface, Qgis.Critical) == []
    assert (tmp_path / "once.tif").exists()
    assert hashed.count(str(fresh)) == 1
    stat = fresh.stat()  # a changed file (new mtime) is opened and hashed again
    os.utime(fresh, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    dock.model.setFilePath(dock_model)
    dock.model.setFilePath(str(fresh))
    assert hashed.count(str(fresh)) == 2
    QgsProject.instance().removeMapLayer(dock.last_layer.id())


def test_cancel_mid_run_leaves_no_output_file(dock, dock_model, qgis_iface, tmp_path):
    dock.model.setFilePath(dock_model)
    out = tmp_path / "cancelled.tif"
    dock.output.setFilePath(str(out))
    dock.tile.setValue(8)  # many small tiles and batches: a run long enough to cancel
    dock.batch.setValue(1)
    dock.run_button.click()
    assert wait_until(lambda: dock.run is None or dock.progress.value() > 0, timeout=120)
    assert dock.run is not None, "the run ended before it could be cancelled"
    dock.cancel_button.click()
    assert wait_until(lambda: dock.run is None, timeout=120)
    assert any("cancelled" in m for m in messages(qgis_iface, Qgis.Info))
    assert messages(qgis_iface, Qgis.Critical) == []
    assert not out.exists() and os.listdir(tmp_path) == []


def test_export_job_writes_the_panel_as_a_batch_job_and_shows_the_command(
        dock, dock_model, scene_layers, qgis_iface, tmp_path):
    from osgeo import gdal

    from engine.batch.job import load_job

    dock.model.setFilePath(dock_model)
    dock.tile.setValue(16)
    dock.trust["entropy"].setChecked(True)
    dock.trust["contribution"].setChecked(True)
    results = dock.export_job(str(tmp_path / "job.json"))
    dock.trust["entropy"].setChecked(False)
    dock.trust["contribution"].setChecked(False)
    assert results is not None and messages(qgis_iface, Qgis.Critical) == []
    job = load_job(tmp_path / "job.json")  # the panel's layers, model, settings and the trust boxes
    assert job.scenes[0].inputs() == [scene_layers[key].source() for key in ("hsi", "sar", "dsm")]
    assert os.path.samefile(job.model, dock_model) and job.settings.tile_size_px == 16
    assert job.products() == ("classes", "entropy", "contribution", "dominant_modality")
    assert dock.job_dialog.isVisible() and results["COMMAND"] in dock.job_dialog.text()
    assert "python3 -m engine batch" in results["COMMAND"]
    dock.job_dialog.close()
    # a layer that is not a file (a GDAL in-memory raster here) is refused by name; no job is written
    gdal.Translate("/vsimem/dock_hsi.tif", scene_layers["hsi"].source())
    memory = QgsRasterLayer("/vsimem/dock_hsi.tif", "hsi in memory")
    QgsProject.instance().addMapLayer(memory)
    try:
        dock.pickers["SPECTRAL"].combo.setLayer(memory)
        assert dock.export_job(str(tmp_path / "refused.json")) is None
        errors = messages(qgis_iface, Qgis.Critical)
        assert len(errors) == 1 and "Layer 'hsi in memory' cannot go into a batch job" in errors[0]
        assert not (tmp_path / "refused.json").exists()
    finally:
        QgsProject.instance().removeMapLayer(memory.id())
        gdal.Unlink("/vsimem/dock_hsi.tif")


def test_a_model_that_does_not_fit_the_layers_gives_a_message_bar_error(
        dock, fixture_scene, qgis_iface, tmp_path):
    dock.model.setFilePath(write_tiny_package(tmp_path / "wrong.bdgf", fixture_scene, hsi_bands=30))
    assert "expected 30 bands, found 24 bands" in dock.check.text()
    dock.run_button.click()
    assert dock.run is None  # refused before starting
    errors = messages(qgis_iface, Qgis.Critical)
    assert len(errors) == 1 and "hsi (spectral): expected 30 bands, found 24 bands" in errors[0]


def test_missing_onnxruntime_is_explained_in_the_dock(dock, dock_model, qgis_iface, monkeypatch):
    hide_package(monkeypatch, "onnxruntime")
    dock.model.setFilePath(dock_model)
    hint = f"{sys.executable} -m pip install onnxruntime"
    assert hint in dock.check.text()
    dock.run_button.click()
    assert dock.run is None
    assert hint in messages(qgis_iface, Qgis.Critical)[0]


def test_an_engine_error_during_the_run_reaches_the_message_bar(dock, dock_model, qgis_iface, tmp_path):
    dock.model.setFilePath(dock_model)
    dock.output.setFilePath(str(tmp_path / "missing folder" / "out.tif"))
    dock.run_button.click()
    assert wait_until(lambda: dock.run is None, timeout=120)
    errors = messages(qgis_iface, Qgis.Critical)
    assert len(errors) == 1 and "Output folder does not exist" in errors[0], errors
    assert "Traceback" not in errors[0]


def test_a_card_with_a_fourth_modality_gets_its_own_picker(dock, fixture_scene, scene_layers, tmp_path):
    from tests.ui.test_helpers import tiny_card

    card = tiny_card(fixture_scene)
    modalities = card["modalities"] + [{"name": "thermal", "role": "thermal", "bands": 1}]
    normalization = {key: values + [values[2]] for key, values in card["normalization"].items()}
    model = write_tiny_package(tmp_path / "four.bdgf", fixture_scene, modalities=modalities,
                               normalization=normalization)
    dock.model.setFilePath(model)
    assert len(dock.extra_pickers) == 1
    assert "thermal" in dock.check.text()  # no layer for it yet: the engine's expected/found message
    dock.extra_pickers[0].combo.setLayer(scene_layers["dsm"])
    assert dock.check.text() == ""
    assert dock.parameters()["EXTRA_AUX"] == [scene_layers["dsm"].source()]
    dock.model.setFilePath(write_tiny_package(tmp_path / "three.bdgf", fixture_scene))
    assert dock.extra_pickers == [] and "EXTRA_AUX" not in dock.parameters()


# ---- the first ten minutes: proposals, the demo, the diagnostics, the layout (issue #18)

@pytest.fixture()
def fresh_dock(bdgf_plugin, qgis_iface, scene_layers):
    """The dock as a new user opens it: no saved settings, pickers left to the dock's proposals."""
    qgis_iface.messageBar().clear_messages()
    QgsSettings().remove("bdgf/dock")
    bdgf_plugin.action.trigger()
    yield bdgf_plugin.dock


def picked(dock):
    return {key: picker.layer().name() if picker.layer() else None for key, picker in dock.pickers.items()}


def test_without_a_model_each_picker_proposes_the_layer_of_its_modality(fresh_dock):
    """The reported bug: every picker showed the alphabetically first layer, dsm (1 band)."""
    assert picked(fresh_dock) == {"SPECTRAL": "hsi", "SAR": "sar", "LIDAR": "dsm"}
    assert all(p.info.styleSheet() != "color: #b2182b" for p in fresh_dock.pickers.values())


def test_a_picker_whose_layer_does_not_fit_the_card_says_expected_and_found(fresh_dock, dock_model,
                                                                             scene_layers):
    fresh_dock.model.setFilePath(dock_model)
    assert picked(fresh_dock) == {"SPECTRAL": "hsi", "SAR": "sar", "LIDAR": "dsm"}
    assert fresh_dock.check.text() == ""
    picker = fresh_dock.pickers["SPECTRAL"]
    picker.combo.setLayer(scene_layers["dsm"])
    assert picker.info.text().startswith("hsi (spectral): expected 24 band(s), found 1 band(s)")
    assert "#b2182b" in picker.info.styleSheet()
    assert "expected 24 bands, found 1 band" in fresh_dock.check.text()  # the engine's check, before Run
    picker.combo.setLayer(scene_layers["hsi"])
    assert "#b2182b" not in picker.info.styleSheet()


def test_a_layer_the_user_picked_stays_while_it_fits_the_model(fresh_dock, dock_model, fixture_scene,
                                                               scene_layers):
    picker = fresh_dock.pickers["SPECTRAL"]

    def user_picks(layer):
        picker.combo.setLayer(layer)
        picker.combo.activated.emit(picker.combo.currentIndex())  # what a click in the combo sends

    user_picks(scene_layers["dsm"])
    copy = QgsRasterLayer(fixture_scene["hsi"], "my scene")
    QgsProject.instance().addMapLayer(copy)  # new layers re-propose, but not over the user's choice
    assert picker.layer() is scene_layers["dsm"]
    fresh_dock.model.setFilePath(dock_model)  # a 1-band layer does not fit, the proposal does
    assert picker.layer() is scene_layers["hsi"] and not picker.user_chosen
    user_picks(copy)
    fresh_dock.model.setFilePath("")
    fresh_dock.model.setFilePath(dock_model)
    assert picker.layer() is copy  # fits the card: kept
    QgsProject.instance().removeMapLayer(copy.id())


def test_load_demo_adds_the_scene_and_selects_the_demo_model(bdgf_plugin, qgis_iface):
    QgsSettings().remove("bdgf/dock")
    qgis_iface.messageBar().clear_messages()
    bdgf_plugin.action.trigger()
    dock = bdgf_plugin.dock
    project = QgsProject.instance()
    before = set(project.mapLayers())
    dock.demo_button.click()
    added = {layer.name(): layer for lid, layer in project.mapLayers().items() if lid not in before}
    try:
        assert set(added) == {"hsi", "sar", "dsm", "labels"}  # the label polygons, for Train
        assert dock.train.labels.currentLayer() is added["labels"]
        assert dock.train.field.currentField() == "class"
        assert added["labels"].renderer().type() == "categorizedSymbol"  # labels.qml: the classes' colours
        assert os.path.samefile(dock.model.filePath(), DEMO_MODEL)
        assert dock.card["name"] == "synthetic" and "Expected layers" in dock.card_view.text()
        assert {key: p.layer() for key, p in dock.pickers.items()} == {
            "SPECTRAL": added["hsi"], "SAR": added["sar"], "LIDAR": added["dsm"]}
        assert dock.check.text() == "" and messages(qgis_iface, Qgis.Critical) == []
        assert dock.model.lineEdit().toolTip() == dock.model.filePath()  # the whole path, shown elided
        dock.demo_button.click()  # twice: the layers are reused, not added again
        assert len(project.mapLayers()) == len(before) + 4
    finally:
        project.removeMapLayers(list(added_id for added_id in project.mapLayers() if added_id not in before))


def test_the_diagnostics_button_shows_a_report_to_copy(fresh_dock):
    from qgis.PyQt.QtWidgets import QApplication

    fresh_dock.diagnostics_button.click()
    dialog = fresh_dock.diagnostics
    text = dialog.text.toPlainText()
    assert dialog.isVisible() and text.startswith("BDGF for QGIS: environment report")
    assert "test session used:      CPUExecutionProvider" in text and "\nQGIS " in text
    assert "Training (bdgf:train)" in text and "Python for training: " in text  # the Python that trains
    assert "torch: 2." in text  # and its packages (this test's Python has them)
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == text
    dialog.close()


def test_the_dock_reads_well_at_a_narrow_width(fresh_dock, dock_model):
    """Nothing forces the panel wider than a default right dock: long names and paths shrink or wrap."""
    fresh_dock.model.setFilePath(dock_model)
    body = fresh_dock.body
    assert body.minimumSizeHint().width() <= 280, body.minimumSizeHint()


def test_an_auxiliary_picker_may_stay_empty_when_the_model_runs_without_it(
        fresh_dock, fixture_scene, qgis_iface, tmp_path):
    figures = {"sar": {"oa": 0.412, "aa": 0.3, "kappa": 0.2, "test_pixels": 100}}
    model = write_tiny_package(tmp_path / "dropout.bdgf", fixture_scene,
                               metrics={"oa": 0.5, "missing_modality": figures})
    fresh_dock.model.setFilePath(model)
    assert "Can run without: sar (test OA 41.2 %); one at a time" in fresh_dock.card_view.text()
    sar, lidar = fresh_dock.pickers["SAR"], fresh_dock.pickers["LIDAR"]
    sar.combo.setLayer(None)
    sar.combo.activated.emit(sar.combo.currentIndex())  # the user picks the empty entry
    assert sar.info.text() == ("No layer: the model runs without it (test OA 41.2 % without it instead of "
                               "50.0 % with every layer)")
    assert "#b2182b" not in sar.info.styleSheet() and fresh_dock.check.text() == ""
    fresh_dock.propose_layers()  # the user's empty choice stays
    assert sar.layer() is None
    lidar.combo.setLayer(None)  # no figure for dsm: red, and the engine's message
    assert "#b2182b" in lidar.info.styleSheet()
    assert "this model cannot run without dsm" in fresh_dock.check.text()
    fresh_dock.propose_layers(force=True)
    assert lidar.layer() is not None and sar.layer() is not None
    sar.combo.setLayer(None)
    fresh_dock.output.setFilePath(str(tmp_path / "nosar.tif"))
    # the parameters the Run button hands to bdgf:classify, run here on the main thread: a second
    # background QgsTask run in this file crashed the full suite (segmentation fault) 2 times in 3; the
    # background path itself is covered by test_one_run_opens_and_hashes_the_model_package_once
    params = fresh_dock.parameters()
    assert params["SAR"] is None and params["LIDAR"] and params["SPECTRAL"]
    from qgis.core import QgsProcessingFeedback

    from tests.qgis_tools import run_in_process

    results = run_in_process("bdgf:classify", params, feedback=QgsProcessingFeedback())
    assert results["OUTPUT"] == str(tmp_path / "nosar.tif") and (tmp_path / "nosar.tif").stat().st_size > 0


def test_also_write_boxes_add_the_trust_layers_styled_and_hidden(fresh_dock, dock_model, fixture_scene,
                                                                   qgis_iface, tmp_path):
    dock = fresh_dock
    old = write_tiny_package(tmp_path / "old.bdgf", fixture_scene)  # graphs without branch outputs
    dock.model.setFilePath(old)
    assert not dock.trust["disagreement"].isEnabled()
    assert "--add-branch-outputs" in dock.trust["disagreement"].toolTip()
    import processing
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="add-branch-outputs"):  # a job is refused the same way
        processing.run("bdgf:exportjob", {**dock.parameters(), "WRITE_DISAGREEMENT": True,
                                          "OUTPUT": str(tmp_path / "job.json")})
    assert not (tmp_path / "job.json").exists()
    dock.model.setFilePath(dock_model)
    assert dock.trust["disagreement"].isEnabled()
    for box in dock.trust.values():
        box.setChecked(True)
    dock.output.setFilePath(str(tmp_path / "map.tif"))
    params = dock.parameters()
    assert params["ENTROPY"] == str(tmp_path / "map_entropy.tif")
    assert params["DOMINANT_MODALITY"] == str(tmp_path / "map_dominant_modality.tif")
    assert {"DISAGREEMENT", "AGREEMENT", "CONTRIBUTION"} <= set(params)
    dock.output.setFilePath("")
    assert dock.parameters()["ENTROPY"] == "TEMPORARY_OUTPUT"  # a temporary map: temporary trust files too
    dock.output.setFilePath(str(tmp_path / "map.tif"))
    from qgis.core import QgsProcessingFeedback

    from tests.qgis_tools import run_in_process

    # on the main thread, as the no-SAR test above (a second background run in this file crashed the suite)
    results = run_in_process("bdgf:classify", dock.parameters(), feedback=QgsProcessingFeedback())
    dock.add_result(results, dock.card)
    layers = {layer.source(): layer for layer in dock.trust_layers}
    assert set(layers) == {str(tmp_path / f"map_{s}.tif") for s in
                           ("entropy", "disagreement", "agreement", "contribution", "dominant_modality")}
    root = QgsProject.instance().layerTreeRoot()
    for layer in layers.values():
        assert layer.isValid() and QgsProject.instance().mapLayer(layer.id()) is layer
        assert not root.findLayer(layer.id()).isVisible()  # the map stays the land cover
    entropy = layers[str(tmp_path / "map_entropy.tif")]
    assert entropy.renderer().type() == "singlebandpseudocolor"  # the engine's 0..1 ramp, from its .qml
    assert layers[str(tmp_path / "map_dominant_modality.tif")].renderer().type() == "paletted"
    assert "random-init test model" in entropy.name()
    dock.save_settings()
    assert QgsSettings().value("bdgf/dock/trust/contribution", False, bool) is True
    QgsProject.instance().removeMapLayers([dock.last_layer.id(), *(layer.id() for layer in layers.values())])
    for box in dock.trust.values():
        box.setChecked(False)
    dock.save_settings()
