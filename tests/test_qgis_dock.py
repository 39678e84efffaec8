"""Tier 2: the dock panel in a real headless QGIS (background run, cancel, errors, screenshot)."""
import os
import shutil
import sys
from pathlib import Path

import pytest
from qgis.core import Qgis, QgsProject, QgsRasterLayer, QgsSettings

from tests.test_qgis_helpers import hide_package, wait_until, write_tiny_package

pytestmark = pytest.mark.qgis
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


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
    assert dock.pickers["SPECTRAL"].info.text().startswith("24 band(s) · EPSG:32632 · 64×48 px")
    assert dock.pickers["SAR"].info.text().startswith("4 band(s)")
    dock.model.setFilePath(dock_model)
    assert dock.card["name"] == "random-init test model"
    text = dock.card_view.text()
    assert "#2166ac" in text and "Water" in text and "hsi (spectral): 24 band(s)" in text
    assert dock.check.text() == ""
    dock.resize(440, dock.widget().widget().sizeHint().height() + 60)  # the whole form, no scrolling
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
    package_module = sys.modules[type(dock).__module__.split(".ui.")[0] + ".engine.package"]
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
    from tests.test_qgis_helpers import tiny_card

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
