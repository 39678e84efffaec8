"""Dock panel: pick layers and a model, see its card, run bdgf:classify in the background.

Each picker proposes the layer that fits its modality (ui/layer_matching.py: the card's band count,
then names, then band counts) and keeps a layer the user picked as long as it fits the card;
*Load demo* adds the bundled scene and model; *Diagnostics* shows the environment report; *Export job...*
writes the same run as a batch job (bdgf:exportjob) and shows the command that runs it.
"""
import os

from qgis.core import (
    Qgis,
    QgsProcessing,
    QgsProject,
    QgsRasterLayer,
    QgsSettings,
)
from qgis.gui import QgsDockWidget, QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..engine.settings import BACKENDS, DEVICE_LABELS, DEVICES
from .alg_classify import ClassifyAlgorithm
from .background_run import BackgroundRun
from .card_view import CardView
from .class_style import apply_class_style, apply_sidecar_style
from .common import tr
from .demo_scene import DEMO_MODEL, demo_available, load_demo_layers
from .layer_matching import bands_fit, expected_bands, propose_layers
from .layer_picker import LayerPicker
from .model_card import SLOT_ROLES, assign_modalities, describe_modality, load_card, mismatch_messages
from .runtime_check import missing_message, missing_packages

SETTINGS = "bdgf/dock/"
# "Also write" boxes: box -> (bdgf:classify outputs it sets, file suffix of each, label, tooltip)
TRUST_BOXES = {
    "entropy": (("ENTROPY",), ("entropy",), "Uncertainty (entropy)",
                "0 = one class holds all the probability, 1 = every class equally likely"),
    "disagreement": (("DISAGREEMENT", "AGREEMENT"), ("disagreement", "agreement"), "Branch disagreement",
                     "How far the CNN, Mamba and Transformer branches disagree (Jensen-Shannon, 0..1), and "
                     "the share of branches that voted for the map's class"),
    "contribution": (("CONTRIBUTION", "DOMINANT_MODALITY"), ("contribution", "dominant_modality"),
                     "Modality contribution",
                     "How much each layer holds up the mapped class, and the layer that holds it most; one "
                     "more pass per layer (slower)"),
}
MODALITIES = (  # (parameter id, label, optional)
    (ClassifyAlgorithm.SPECTRAL, "Spectral", False),
    (ClassifyAlgorithm.SAR, "SAR", True),
    (ClassifyAlgorithm.LIDAR, "LiDAR / DSM", True),
)


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
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.pickers = {}
        for key, label, optional in MODALITIES:
            self.pickers[key] = LayerPicker(optional, body)
            form.addRow(tr(label), self.pickers[key])
        self.extra_form = QFormLayout()  # one picker per further modality the model card asks for
        self.extra_pickers = []
        form.addRow(self.extra_form)
        self.model = QgsFileWidget(body)
        _shrinkable(self.model)
        self.model.setFilter(tr("BDGF model package (*.bdgf)"))
        self.model.setDialogTitle(tr("Choose a BDGF model package"))
        form.addRow(tr("Model"), self.model)
        self.card_view = CardView(body)
        self.device = QComboBox(body)
        self.device.addItems([tr(DEVICE_LABELS[d]) for d in DEVICES])
        self.backend = QComboBox(body)
        self.backend.addItems(list(BACKENDS))
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(12)  # a narrower dock elides the name; the tooltip explains
        self.device.setToolTip(tr("'Automatic' uses a GPU when the backend can, else the CPU; "
                                  "the log says which ran."))
        self.tile = _auto_spin(body, 4096)
        self.batch = _auto_spin(body, 65536)
        self.output = QgsFileWidget(body)
        _shrinkable(self.output)
        self.output.fileChanged.connect(lambda path: _show_path(self.output, path))
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setFilter(tr("GeoTIFF (*.tif *.tiff)"))
        self.output.lineEdit().setPlaceholderText(tr("[temporary file]"))
        self.trust = {}
        trust = QVBoxLayout()
        for key, (_params, _suffixes, label, tip) in TRUST_BOXES.items():
            box = QCheckBox(tr(label), body)
            box.setObjectName(f"BDGFTrust_{key}")
            box.setToolTip(tr(tip))
            trust.addWidget(box)
            self.trust[key] = box
        form.addRow(QLabel(tr("Device"), body))  # long device names: the combo gets the whole width
        form.addRow(self.device)
        for label, widget in ((tr("Backend"), self.backend), (tr("Tile size"), self.tile),
                              (tr("Batch size"), self.batch), (tr("Output"), self.output)):
            form.addRow(label, widget)
        form.addRow(QLabel(tr("Also write"), body))  # the boxes get the whole width (a narrow dock)
        form.addRow(trust)
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
        layout.addLayout(form)
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
        for picker in self.pickers.values():
            picker.combo.layerChanged.connect(self._update_check)
        self.backend.currentIndexChanged.connect(self._update_check)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.demo_button.clicked.connect(self.load_demo)
        self.diagnostics_button.clicked.connect(self.show_diagnostics)
        self.export_button.clicked.connect(lambda: self.export_job())

    # ---- settings
    def _restore(self):
        settings = QgsSettings()
        self.model.setFilePath(settings.value(SETTINGS + "model", "", str))
        self.device.setCurrentIndex(settings.value(SETTINGS + "device", 0, int))
        self.backend.setCurrentIndex(settings.value(SETTINGS + "backend", 0, int))
        self.tile.setValue(settings.value(SETTINGS + "tile_size", 0, int))
        self.batch.setValue(settings.value(SETTINGS + "batch_size", 0, int))
        for key, box in self.trust.items():
            box.setChecked(settings.value(SETTINGS + "trust/" + key, False, bool))
        for key, picker in self.pickers.items():
            layer = QgsProject.instance().mapLayer(settings.value(SETTINGS + "layer/" + key, "", str))
            if layer is not None:
                picker.set_layer(layer)
                picker.user_chosen = True  # chosen for an earlier run in this project: kept while it fits

    def _save(self):
        settings = QgsSettings()
        settings.setValue(SETTINGS + "model", self.model.filePath())
        settings.setValue(SETTINGS + "device", self.device.currentIndex())
        settings.setValue(SETTINGS + "backend", self.backend.currentIndex())
        settings.setValue(SETTINGS + "tile_size", self.tile.value())
        settings.setValue(SETTINGS + "batch_size", self.batch.value())
        for key, box in self.trust.items():
            settings.setValue(SETTINGS + "trust/" + key, box.isChecked())
        for key, picker in self.pickers.items():
            settings.setValue(SETTINGS + "layer/" + key, picker.layer().id() if picker.layer() else "")

    # ---- model card and checks
    def _model_changed(self, path):
        self.card, error = load_card(path) if path else (None, None)
        self.card_view.show_card(self.card, error)
        _show_path(self.model, path)
        modalities = {slot: m for m, slot, _layer in assign_modalities(self.card, {})} if self.card else {}
        for key, picker in self.pickers.items():
            picker.set_expected(modalities.get(key), self.card)  # with the card: can it run without one?
        self._rebuild_extra_pickers()
        self._trust_supported()
        self.propose_layers()
        self._update_check()

    def _trust_supported(self):
        """Each box as the card allows it (model.card.supported_outputs, what `engine info` shows): branch
        disagreement needs graphs that give each branch's probabilities, and two branches or more."""
        from ..engine.model.card import supported_outputs

        support = supported_outputs(self.card)[1:] if self.card else [(None, True, "")] * len(TRUST_BOXES)
        for (key, box), (_name, ok, why) in zip(self.trust.items(), support):
            box.setEnabled(ok)
            tip = tr(TRUST_BOXES[key][3])
            box.setToolTip(f"{tip} ({why})" if ok and why else tip if ok else tr("Not with this model: {}")
                           .format(why))

    # ---- layer proposals (the rule: ui/layer_matching.py)
    def propose_layers(self, force=False):
        """Give each picker the project layer that fits its modality. Without `force`, a layer the user
        picked stays while it fits the card (or while no card is chosen)."""
        layers = [layer for layer in QgsProject.instance().layerTreeRoot().layerOrder()
                  if isinstance(layer, QgsRasterLayer)]
        expected = expected_bands(self.card)
        chosen = propose_layers([(layer.name(), layer.bandCount()) for layer in layers], expected)
        for key, role in SLOT_ROLES:
            picker = self.pickers[key]
            proposal = layers[chosen[role]] if chosen[role] is not None else None
            if not force and picker.user_chosen and _keeps(picker, role, expected, proposal):
                continue
            picker.set_layer(proposal)
            picker.user_chosen = False
        self._update_check()

    def _layers_added(self, *_args):
        if self.run is None:
            self.propose_layers()

    # ---- the demo and the diagnostics
    def load_demo(self):
        """Add the bundled demo layers, choose the bundled model, propose its layers, show the scene."""
        try:
            layers = load_demo_layers(QgsProject.instance())
        except OSError as exc:
            self._error(tr("The demo cannot be loaded: {}").format(exc))
            return
        self.model.setFilePath(DEMO_MODEL)
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

    def _rebuild_extra_pickers(self):
        while self.extra_form.rowCount():
            self.extra_form.removeRow(0)
        self.extra_pickers = []
        extra = [m for m, slot, _layer in assign_modalities(self.card, {}) if slot == "EXTRA_AUX"] \
            if self.card else []
        for modality in extra:
            picker = LayerPicker(True, self.body)  # starts empty: the user picks the layer
            picker.combo.setLayer(None)
            picker.setToolTip(describe_modality(modality))
            picker.combo.layerChanged.connect(self._update_check)
            self.extra_form.addRow(modality["name"], picker)
            self.extra_pickers.append(picker)

    def _slots(self):
        slots = {key: p.layer() for key, p in self.pickers.items()}
        slots[ClassifyAlgorithm.EXTRA_AUX] = [p.layer() for p in self.extra_pickers if p.layer()]
        return slots

    def problems(self):
        """What would stop a run, in plain words (missing packages, layers that do not fit the card)."""
        backend = BACKENDS[self.backend.currentIndex()]
        missing = missing_packages(backend)
        if missing:
            return [missing_message(missing, backend)]
        if self.card is None:
            return []
        return mismatch_messages(self.card, self._slots())

    def _update_check(self, *_args):
        self.check.setText("\n".join(self.problems()))

    # ---- run
    def parameters(self):
        params = {
            ClassifyAlgorithm.MODEL: self.model.filePath(),
            ClassifyAlgorithm.DEVICE: self.device.currentIndex(),
            ClassifyAlgorithm.BACKEND: self.backend.currentIndex(),
            ClassifyAlgorithm.TILE_SIZE: self.tile.value(),
            ClassifyAlgorithm.BATCH_SIZE: self.batch.value(),
            ClassifyAlgorithm.OUTPUT: self.output.filePath() or QgsProcessing.TEMPORARY_OUTPUT,
        }
        for key, picker in self.pickers.items():  # sources, not layer ids: the worker thread reopens them
            params[key] = picker.layer().source() if picker.layer() else None
        extra = [p.layer().source() for p in self.extra_pickers if p.layer()]
        if extra:
            params[ClassifyAlgorithm.EXTRA_AUX] = extra
        params.update(self._trust_outputs(self.output.filePath()))
        return params

    def _trust_outputs(self, output):
        """The checked trust outputs: beside the land cover file (`<name>_entropy.tif`, ...), or temporary
        files when it is temporary."""
        out = {}
        stem = os.path.splitext(output)[0] if output else None
        for key, (names, suffixes, _label, _tip) in TRUST_BOXES.items():
            box = self.trust[key]
            if box.isChecked() and box.isEnabled():
                for name, suffix in zip(names, suffixes):
                    out[name] = f"{stem}_{suffix}.tif" if stem else QgsProcessing.TEMPORARY_OUTPUT
        return out

    def start(self):
        if self.run is not None:
            return
        self._save()
        run = BackgroundRun("bdgf:classify", self.parameters(), self)
        ok, message = run.check()
        if not ok:
            self._error(message)
            return
        self.run = run
        run.card = self.card  # the card of this run, even if the user picks another model meanwhile
        run.progress.connect(lambda value: self.progress.setValue(int(value)))
        run.finished.connect(self._finished)
        self.progress.setValue(0)
        self._set_running(True)
        run.start(tr("BDGF classification ({})").format(self.card["name"] if self.card else ""))

    def cancel(self):
        if self.run is not None:
            self.run.cancel()

    def export_job(self, path=None):
        """Write the panel's layers, model and settings as a batch job (bdgf:exportjob; `path` or asked
        for) and show the command that runs it. Returns the algorithm's results, or None."""
        from qgis.core import QgsApplication, QgsProcessingContext

        from .background_run import CapturingFeedback

        if path is None:
            path, _filter = QFileDialog.getSaveFileName(self, tr("Export a batch job"), "job.json",
                                                        tr("JSON files (*.json)"))
            if not path:
                return None
        self._save()
        params = dict(self.parameters(), OUTPUT=path)
        for name in self._trust_outputs(self.output.filePath()):  # the job writes them beside its mosaic
            del params[name]
            params["WRITE_" + name] = True
        for key, picker in self.pickers.items():  # the layers themselves (on this thread): a layer that is
            if picker.layer() is not None:       # not a file is refused by its name
                params[key] = picker.layer().id()
        extra = [p.layer().id() for p in self.extra_pickers if p.layer()]
        if extra:
            params[ClassifyAlgorithm.EXTRA_AUX] = extra
        algorithm = QgsApplication.processingRegistry().createAlgorithmById("bdgf:exportjob")
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        ok, message = algorithm.checkParameterValues(params, context)
        feedback = CapturingFeedback()
        results = algorithm.run(params, context, feedback)[0] if ok else None
        if not results:
            self._error(message or "\n".join(feedback.errors) or tr("The job could not be written."))
            return None
        self.job_dialog = QMessageBox(QMessageBox.Icon.Information, tr("BDGF batch job"),
                                      results["INSTRUCTIONS"], QMessageBox.StandardButton.Ok, self)
        self.job_dialog.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.job_dialog.setModal(False)
        self.job_dialog.show()
        return results

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
        self.cancel_button.setEnabled(running)

    def _finished(self, ok, results, message):
        cancelled, card = self.run.is_cancelled(), self.run.card
        self.run = None
        self._set_running(False)
        if cancelled:
            self.progress.setValue(0)
            self.iface.messageBar().pushMessage(
                tr("BDGF"), tr("Classification cancelled."), Qgis.MessageLevel.Info, 5)
        elif not ok:
            self._error(message or tr("The classification failed; see the Processing log."))
        else:
            self.progress.setValue(100)
            self._add_result(results, card)

    def _add_result(self, results, card):
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

    def _error(self, message):
        self.iface.messageBar().pushMessage(tr("BDGF"), message, Qgis.MessageLevel.Critical, 0)


def _keeps(picker, role, expected, proposal):
    """A layer the user picked stays, unless the card has no such modality, or the layer does not fit the
    card and the proposal does."""
    if expected is None:
        return True
    if role not in expected:
        return False
    return picker.fits() or proposal is None or not bands_fit(expected[role], proposal.bandCount())


def _shrinkable(file_widget):
    """A file widget that may get narrower than its path: the dock keeps its width."""
    file_widget.lineEdit().setMinimumWidth(60)
    file_widget.setMinimumWidth(80)


def _show_path(file_widget, path):
    """Show the end of a long path (the file name) and the whole path as tooltip."""
    file_widget.setToolTip(path or "")
    file_widget.lineEdit().setToolTip(path or "")
    file_widget.lineEdit().setCursorPosition(len(path or ""))


def _auto_spin(parent, maximum):
    spin = QSpinBox(parent)
    spin.setRange(0, maximum)
    spin.setSpecialValueText(tr("automatic"))
    return spin
