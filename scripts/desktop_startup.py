"""Runs INSIDE the QGIS desktop application (`qgis --code scripts/desktop_startup.py`), started by
scripts/desktop_demo.py: opens the BDGF panel, clicks *Load demo* and *Run*, waits for the styled result
layer, saves a screenshot of the main window and quits. Everything it saw goes to a JSON status file.

Environment: BDGF_DESKTOP_OUT (folder for status.json, desktop.png, qgis_log.txt),
BDGF_DESKTOP_TIMEOUT (seconds for the whole scenario), BDGF_DESKTOP_SIZE ("1400x860"),
BDGF_DESKTOP_SCENARIO ("classify": Load demo, Run; "train": Load demo, Train (quick, with the training
settings in BDGF_DESKTOP_TRAIN_SETTINGS), the new model selected, Run; screenshot desktop_train.png).
"""
import json
import os
import time
import traceback

from qgis.core import Qgis, QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QAction, QApplication
from qgis.utils import iface, plugins

OUT = os.environ["BDGF_DESKTOP_OUT"]
DEADLINE = time.monotonic() + float(os.environ.get("BDGF_DESKTOP_TIMEOUT", "80"))
WIDTH, HEIGHT = (int(v) for v in os.environ.get("BDGF_DESKTOP_SIZE", "1400x1000").split("x"))
LOAD_DEADLINE = time.monotonic() + 30  # plugins load at start-up: seconds, not minutes
SCENARIO = os.environ.get("BDGF_DESKTOP_SCENARIO", "classify")
STATUS = {"ok": False, "steps": [], "started": time.time()}
_log = open(os.path.join(OUT, "qgis_log.txt"), "w", encoding="utf-8")  # noqa: SIM115 (open until exit)


def _log_message(message, tag, level):
    _log.write(f"[{tag}] {int(level)}: {message}\n")
    _log.flush()


QgsApplication.messageLog().messageReceived.connect(_log_message)


def step(text):
    STATUS["steps"].append(f"{time.time() - STATUS['started']:.1f}s {text}")
    _write()


def _write():
    with open(os.path.join(OUT, "status.json"), "w", encoding="utf-8") as f:
        json.dump(STATUS, f, indent=1)


def finish(error=None):
    STATUS["ok"] = error is None
    STATUS["error"] = error
    STATUS["messages"] = _message_bar_texts()
    STATUS["finished"] = True
    _write()
    _log.close()
    # QGIS's own exit path (QgsApplication.exit() crashes 3.22 while it tears the project down); a clean
    # project, so that QGIS does not ask whether to save it
    QgsProject.instance().setDirty(False)
    QTimer.singleShot(5000, _exit_blocked)
    iface.actionExit().trigger()


def _exit_blocked():
    """Still running 5 s after Exit: name the windows in the way (the driver stops QGIS and says so)."""
    STATUS["exit_blocked_by"] = [f"{type(w).__name__} '{w.windowTitle()}'"
                                 for w in QApplication.topLevelWidgets()
                                 if w.isVisible() and w is not iface.mainWindow()]
    _write()


def _message_bar_texts():
    texts = []
    for item in iface.messageBar().items():
        texts.append(f"{item.title()}: {item.text()}")
    return texts


def wait_for(condition, then, what, interval_ms=200):
    """Poll `condition` on the event loop; `then()` once true; fail with `what` past the deadline."""
    def poll():
        try:
            if condition():
                then()
            elif time.monotonic() > DEADLINE:
                finish(f"timed out waiting for {what}")
            else:
                QTimer.singleShot(interval_ms, poll)
        except Exception:  # noqa: BLE001 (any failure ends the run with its traceback)
            finish(traceback.format_exc())
    QTimer.singleShot(interval_ms, poll)


def guarded(function):
    def run(*args):
        try:
            function(*args)
        except Exception:  # noqa: BLE001
            finish(traceback.format_exc())
    return run


@guarded
def open_panel():
    if not plugin_ready():
        raise RuntimeError("QGIS did not load the bdgf plugin (is it enabled in the profile's QGIS3.ini?)")
    step(f"QGIS {Qgis.QGIS_VERSION} ready, plugin loaded")
    window = iface.mainWindow()
    window.resize(WIDTH, HEIGHT)
    window.move(0, 0)
    action = window.findChild(QAction, "BDGFShowDock")
    if action is None:
        raise RuntimeError("the 'BDGF land cover panel' action is not in the main window")
    action.trigger()
    dock = plugins["bdgf"].dock
    if dock is None or not dock.isVisible():
        raise RuntimeError("triggering the panel action did not show the dock")
    step("dock opened")
    dock.demo_button.click()
    STATUS["layers"] = sorted(layer.name() for layer in QgsProject.instance().mapLayers().values())
    STATUS["pickers"] = {key: p.layer().name() if p.layer() else None for key, p in dock.pickers.items()}
    STATUS["picker_lines"] = {key: p.info.text() for key, p in dock.pickers.items()}
    STATUS["card"] = dock.card["name"] if dock.card else None
    STATUS["model"] = os.path.basename(dock.model.filePath())
    STATUS["check"] = dock.check.text()
    STATUS["dock_width"] = dock.width()
    step("demo loaded")
    if SCENARIO == "train":
        train_then_run(dock)
        return
    run_classification(dock)


def run_classification(dock):
    dock.run_button.click()
    if dock.run is None:
        raise RuntimeError("Run did not start: " + " | ".join(_message_bar_texts()))
    step("classification started")
    wait_for(lambda: dock.run is None, lambda: result_added(dock), "the classification to finish")


def train_then_run(dock):
    """Train (quick) on the demo's label polygons, check the new model is the panel's, then Run."""
    panel = dock.train
    panel.setCollapsed(False)
    STATUS["train_labels"] = panel.labels.currentLayer().name() if panel.labels.currentLayer() else None
    STATUS["train_field"] = panel.field.currentField()
    panel.preset.setCurrentIndex(0)  # quick
    panel.output.setFilePath(os.path.join(OUT, "trained.bdgf"))
    panel.settings.setText(os.environ.get("BDGF_DESKTOP_TRAIN_SETTINGS", ""))
    STATUS["train_clicked"] = time.monotonic()
    panel.train_button.click()
    if dock.run is None:
        raise RuntimeError("Train did not start: " + " | ".join(_message_bar_texts()))
    step("training started")
    wait_for(lambda: dock.run is None, lambda: trained(dock), "the training to finish")


@guarded
def trained(dock):
    STATUS["trained_model"] = dock.model.filePath()
    STATUS["trained_card"] = dock.card["name"] if dock.card else None
    STATUS["trained_classes"] = [[c["value"], c["name"], c["color"]] for c in dock.card["classes"]] \
        if dock.card else []
    if os.path.basename(STATUS["trained_model"]) != "trained.bdgf":
        raise RuntimeError("the trained model is not the panel's model: " + " | ".join(_message_bar_texts()))
    step("model trained and selected")
    run_classification(dock)


@guarded
def result_added(dock):
    layer = dock.last_layer
    if layer is None:
        raise RuntimeError("the run ended without a result layer: " + " | ".join(_message_bar_texts()))
    renderer = layer.renderer()
    STATUS["result"] = {"name": layer.name(), "renderer": renderer.type(),
                        "classes": [[c.value, c.label, c.color.name()] for c in renderer.classes()]
                        if renderer.type() == "paletted" else []}
    STATUS["progress"] = dock.progress.value()
    step("result layer added")
    canvas = iface.mapCanvas()  # the window was resized after Load demo zoomed: zoom again
    canvas.setExtent(canvas.mapSettings().layerExtentToOutputExtent(layer, layer.extent()))
    canvas.refreshAllLayers()
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started > 1.0 and not canvas.isDrawing(), screenshot,
             "the map to render")


@guarded
def screenshot():
    QApplication.processEvents()
    if "train_clicked" in STATUS:
        STATUS["train_to_map_s"] = round(time.monotonic() - STATUS.pop("train_clicked"), 1)
    path = os.path.join(OUT, "desktop_train.png" if SCENARIO == "train" else "desktop.png")
    if not iface.mainWindow().grab().save(path, "PNG", 0):  # 0: the smallest PNG
        raise RuntimeError(f"cannot save {path}")
    step("screenshot saved")
    if SCENARIO == "train":
        finish()
        return
    dock = plugins["bdgf"].dock
    dock.diagnostics_button.click()
    dialog = dock.diagnostics
    dialog.copy_button.click()
    STATUS["diagnostics"] = dialog.text.toPlainText()
    STATUS["clipboard_matches"] = QApplication.clipboard().text() == STATUS["diagnostics"]
    QApplication.processEvents()
    dialog.grab().save(os.path.join(OUT, "diagnostics.png"), "PNG", 0)
    dialog.close()
    step("diagnostics report copied")
    finish()


def plugin_ready():
    return "bdgf" in plugins and iface.mainWindow().findChild(QAction, "BDGFShowDock") is not None


wait_for(lambda: plugin_ready() or time.monotonic() > LOAD_DEADLINE, open_panel,
         "QGIS to load the bdgf plugin")
