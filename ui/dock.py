"""Dock panel: pick layers, train a model or pick one, see its card, run bdgf:classify in the background.

The panel is assembled from its parts: the layer pickers (ui/dock_layers.py: each proposes the layer that
fits its modality and keeps one the user picked while it fits), *Train a model* (ui/dock_train.py: labels,
preset, output; bdgf:train in the background, the new package then becomes the model), the model and its
card, the run settings and outputs (ui/dock_outputs.py), *Export job…* (ui/dock_export.py); *Load demo*
adds the bundled scene, its labels and model; *Diagnostics* shows the environment report. Train and Run go
through the same algorithms as the toolbox, as background tasks.
"""

from qgis.core import Qgis, QgsProject, QgsRasterLayer, QgsSettings
from qgis.gui import QgsDockWidget, QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .alg_classify import ClassifyAlgorithm
from .background_run import BackgroundRun
from .card_view import CardView
from .class_style import apply_class_style, apply_sidecar_style
from .demo_scene import DEMO_MODEL, demo_available, load_demo_labels, load_demo_layers
from .dock_export import export_job
from .dock_layers import LayerPanel
from .dock_outputs import TRUST_BOXES, OutputsPanel
from .dock_train import TrainPanel
from .i18n import tr
from .model_inputs import load_card, mismatch_messages
from .runtime_check import missing_message, missing_packages
from .widgets import show_path, shrinkable

SETTINGS = "bdgf/dock/"


class ClassifyDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__(tr("BDGF land cover"), parent)
        self.setObjectName("BDGFClassifyDock")
        self.iface = iface
        self.run = None
        self.card = None
        self.last_layer = None
        self.diagnostics = None  # the Diagnostics dialog, once opened
        self.job_dialog = None  # the command of the last exported job
        self.trust_layers = []  # the trust outputs of the last run
        self._build()
        self._restore()
        self._model_changed(self.model.filePath())
        project = QgsProject.instance()
        project.layersAdded.connect(self._layers_added)
        project.layersRemoved.connect(self._layers_added)

    # the panels' widgets, as the dock's own (tests and scripts drive them)
    pickers = property(lambda self: self.layers.pickers)
    extra_pickers = property(lambda self: self.layers.extra_pickers)
    device = property(lambda self: self.outputs.device)
    backend = property(lambda self: self.outputs.backend)
    tile = property(lambda self: self.outputs.tile)
    batch = property(lambda self: self.outputs.batch)
    output = property(lambda self: self.outputs.output)
    trust = property(lambda self: self.outputs.trust)

    # ---- widgets
    def _build(self):
        body = QWidget(self)
        self.demo_button = QPushButton(tr("Load demo"), body)
        self.demo_button.setObjectName("BDGFLoadDemo")
        self.demo_button.setToolTip(tr("Add the bundled demo scene (hyperspectral, SAR, DSM) and select the "
                                       "bundled demo model"))
        self.demo_button.setEnabled(demo_available())
        self.diagnostics_button = QPushButton(tr("Diagnostics"), body)
        self.diagnostics_button.setObjectName("BDGFDiagnostics")
        self.diagnostics_button.setToolTip(tr("What QGIS's Python can run (packages, GPU), as a report to "
                                              "copy into problem reports"))
        tools = QHBoxLayout()
        tools.addWidget(self.demo_button)
        tools.addWidget(self.diagnostics_button)
        self.layers = LayerPanel(body)
        self.train = TrainPanel(body)
        self.model = QgsFileWidget(body)
        shrinkable(self.model)
        self.model.setFilter(tr("BDGF model package (*.bdgf)"))
        self.model.setDialogTitle(tr("Choose a BDGF model package"))
        model_form = QFormLayout()
        model_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        model_form.addRow(tr("Model"), self.model)
        self.card_view = CardView(body)
        self.outputs = OutputsPanel(body)
        self.check = QLabel(self)
        self.check.setWordWrap(True)
        self.check.setStyleSheet("color: #b2182b")
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.run_button = QPushButton(tr("Run"), self)
        self.cancel_button = QPushButton(tr("Cancel"), self)
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton(tr("Export job…"), self)
        self.export_button.setObjectName("BDGFExportJob")
        self.export_button.setToolTip(tr("Write this run as a batch job (JSON) for another machine or a Ray "
                                         "cluster, and show the command that runs it"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        rule = QFrame(body)
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(body)
        layout.addLayout(tools)
        layout.addWidget(rule)
        layout.addWidget(self.layers)
        layout.addWidget(self.train)
        layout.addLayout(model_form)
        layout.addWidget(self.outputs)
        layout.addWidget(self.card_view)
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.body = body
        # problems, progress and Run stay in view under the scrolling form and card
        panel = QWidget(self)
        outer = QVBoxLayout(panel)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll, 1)
        footer = QVBoxLayout()
        footer.setContentsMargins(9, 0, 9, 9)
        footer.addWidget(self.check)
        footer.addWidget(self.progress)
        footer.addLayout(buttons)
        outer.addLayout(footer)
        self.setWidget(panel)
        self.model.fileChanged.connect(self._model_changed)
        self.layers.changed.connect(self._update_check)
        self.backend.currentIndexChanged.connect(self._update_check)
        self.run_button.clicked.connect(self.start)
        self.train.train_button.clicked.connect(self.start_training)
        self.cancel_button.clicked.connect(self.cancel)
        self.demo_button.clicked.connect(self.load_demo)
        self.diagnostics_button.clicked.connect(self.show_diagnostics)
        self.export_button.clicked.connect(lambda: self.export_job())

    # ---- settings
    def _restore(self):
        self.model.setFilePath(QgsSettings().value(SETTINGS + "model", "", str))
        self.outputs.restore(SETTINGS)
        self.layers.restore(SETTINGS + "layer/")
        self.train.restore(SETTINGS + "train/")

    def save_settings(self):
        QgsSettings().setValue(SETTINGS + "model", self.model.filePath())
        self.outputs.save(SETTINGS)
        self.layers.save(SETTINGS + "layer/")
        self.train.save(SETTINGS + "train/")

    # ---- model card and checks
    def _model_changed(self, path):
        self.card, error = load_card(path) if path else (None, None)
        self.card_view.show_card(self.card, error)
        show_path(self.model, path)
        self.outputs.set_card(self.card)
        self.layers.set_card(self.card)
        self._update_check()

    def propose_layers(self, force=False):
        self.layers.propose_layers(force)

    def _layers_added(self, *_args):
        if self.run is None:
            self.propose_layers()

    # ---- the demo and the diagnostics
    def load_demo(self):
        """Add the bundled demo layers and label polygons, choose the bundled model, propose its layers,
        show the scene."""
        try:
            layers = load_demo_layers(QgsProject.instance())
            labels = load_demo_labels(QgsProject.instance())
        except OSError as exc:
            self.show_error(tr("The demo cannot be loaded: {}").format(exc))
            return
        self.model.setFilePath(DEMO_MODEL)
        if labels is not None:  # Train is ready too: the demo's polygons and their text class field
            self.train.labels.setLayer(labels)
            self.train.field.setField("class")
        self.propose_layers(force=True)
        root = QgsProject.instance().layerTreeRoot()
        for layer in layers.values():  # a 64-band legend of grey bands says little: fold the inputs
            node = root.findLayer(layer.id())
            if node is not None:
                node.setExpanded(False)
        canvas, hsi = self.iface.mapCanvas(), layers["hsi"]
        if canvas.mapSettings().destinationCrs().isValid():
            canvas.setExtent(canvas.mapSettings().layerExtentToOutputExtent(hsi, hsi.extent()))
        else:  # a canvas without a CRS yet: the layer's own extent
            canvas.setExtent(hsi.extent())
        canvas.refresh()

    def show_diagnostics(self):
        from .environment_dialog import EnvironmentDialog

        self.diagnostics = EnvironmentDialog(self.iface.mainWindow())
        self.diagnostics.show()

    def problems(self):
        """What would stop a run, in plain words (missing packages, layers that do not fit the card)."""
        backend = self.outputs.backend_name
        missing = missing_packages(backend)
        if missing:
            return [missing_message(missing, backend)]
        if self.card is None:
            return []
        return mismatch_messages(self.card, self.layers.slots())

    def _update_check(self, *_args):
        self.check.setText("\n".join(self.problems()))

    # ---- run
    def parameters(self):
        return {ClassifyAlgorithm.MODEL: self.model.filePath(), **self.outputs.parameters(),
                **self.layers.parameters()}

    def start(self):
        """Classify with the panel's layers, model and outputs (bdgf:classify, in the background)."""
        self._start("bdgf:classify", self.parameters(),
                    tr("BDGF classification ({})").format(self.card["name"] if self.card else ""))

    def start_training(self):
        """Train a model on the panel's layers and the Train section's labels (bdgf:train)."""
        problems = self.train.problems()
        if problems:
            self.show_error("\n".join(problems))
            return
        params = {**self.layers.parameters(), **self.train.parameters(), "DEVICE": self.device.currentIndex()}
        self._start("bdgf:train", params, tr("BDGF training"))

    def _start(self, algorithm, params, description):
        if self.run is not None:
            return
        self.save_settings()
        run = BackgroundRun(algorithm, params, self)
        ok, message = run.check()
        if not ok:
            self.show_error(message)
            return
        self.run = run
        run.card = self.card  # the card of this run, even if the user picks another model meanwhile
        run.progress.connect(lambda value: self.progress.setValue(int(value)))
        run.finished.connect(self._finished)
        self.progress.setValue(0)
        self._set_running(True)
        run.start(description)

    def cancel(self):
        if self.run is not None:
            self.run.cancel()

    def export_job(self, path=None):
        """Write the panel's run as a batch job and show its command (ui/dock_export.py)."""
        return export_job(self, path)

    def shutdown(self, timeout_ms=30000):
        """Cancel a running classification and wait for its task (plugin unload)."""
        project = QgsProject.instance()
        for signal in (project.layersAdded, project.layersRemoved):
            try:
                signal.disconnect(self._layers_added)
            except (TypeError, RuntimeError):
                pass
        run = self.run
        if run is not None:
            run.cancel()
            if run.task is not None:
                run.task.waitForFinished(timeout_ms)

    def _set_running(self, running):
        self.run_button.setEnabled(not running)
        self.train.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _finished(self, ok, results, message):
        cancelled, card = self.run.is_cancelled(), self.run.card
        training = self.run.algorithm.id() == "bdgf:train"
        what = tr("Training") if training else tr("Classification")
        self.run = None
        self._set_running(False)
        if cancelled:
            self.progress.setValue(0)
            self.iface.messageBar().pushMessage(tr("BDGF"), tr("{} cancelled.").format(what),
                                                Qgis.MessageLevel.Info, 5)
        elif not ok:
            self.show_error(message or tr("{} failed; see the Processing log.").format(what))
        elif training:
            self.progress.setValue(100)
            self.model_trained(results)
        else:
            self.progress.setValue(100)
            self.add_result(results, card)

    def model_trained(self, results):
        """The new package becomes the panel's model: its card is shown, Run classifies with it."""
        self.model.setFilePath(results["OUTPUT"])
        text = tr("Model trained: test OA {:.1f} % (report: {}). Run classifies with it now.")
        self.iface.messageBar().pushMessage(tr("BDGF"), text.format(100 * results.get("OA", 0.0),
                                                                    results.get("REPORT", "")),
                                            Qgis.MessageLevel.Success, 10)

    def add_result(self, results, card):
        layer = QgsRasterLayer(results[ClassifyAlgorithm.OUTPUT], tr("Land cover ({})").format(card["name"]))
        apply_class_style(layer, card["classes"])
        QgsProject.instance().addMapLayer(layer)
        node = QgsProject.instance().layerTreeRoot().findLayer(layer.id())
        if node is not None:
            node.setExpanded(True)  # the legend shows the card's classes and colours
        self.last_layer = layer
        self.trust_layers = []
        for names, _suffixes, label, _tip in TRUST_BOXES.values():
            for name in names:
                if results.get(name):
                    title = f"{tr(label)}: {name.lower().replace('_', ' ')}" if len(names) > 1 else tr(label)
                    trust = QgsRasterLayer(results[name], f"{title} ({card['name']})")
                    apply_sidecar_style(trust)  # the engine's ramp or palette
                    QgsProject.instance().addMapLayer(trust)
                    node = QgsProject.instance().layerTreeRoot().findLayer(trust.id())
                    if node is not None:
                        node.setItemVisibilityChecked(False)  # the map stays the land cover; tick to look
                    self.trust_layers.append(trust)
        device = results.get(ClassifyAlgorithm.DEVICE_USED, "?")
        self.iface.messageBar().pushMessage(
            tr("BDGF"), tr("Classification done ({}).").format(device), Qgis.MessageLevel.Success, 5)

    def show_error(self, message):
        self.iface.messageBar().pushMessage(tr("BDGF"), message, Qgis.MessageLevel.Critical, 0)
