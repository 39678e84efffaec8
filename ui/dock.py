"""Dock panel: pick layers and a model, see its card, run bdgf:classify in the background."""
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
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
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
from .class_style import apply_class_style
from .common import tr
from .layer_picker import LayerPicker
from .model_card import assign_modalities, describe_modality, load_card, mismatch_messages
from .runtime_check import missing_message, missing_packages

SETTINGS = "bdgf/dock/"
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
        self._build()
        self._restore()
        self._model_changed(self.model.filePath())

    # ---- widgets
    def _build(self):
        body = QWidget(self)
        form = QFormLayout()
        self.pickers = {}
        for key, label, optional in MODALITIES:
            self.pickers[key] = LayerPicker(optional, body)
            form.addRow(tr(label), self.pickers[key])
        self.extra_form = QFormLayout()  # one picker per further modality the model card asks for
        self.extra_pickers = []
        form.addRow(self.extra_form)
        self.model = QgsFileWidget(body)
        self.model.setFilter(tr("BDGF model package (*.bdgf)"))
        self.model.setDialogTitle(tr("Choose a BDGF model package"))
        form.addRow(tr("Model"), self.model)
        self.card_view = CardView(body)
        self.device = QComboBox(body)
        self.device.addItems([tr(DEVICE_LABELS[d]) for d in DEVICES])
        self.backend = QComboBox(body)
        self.backend.addItems(list(BACKENDS))
        self.tile = _auto_spin(body, 4096)
        self.batch = _auto_spin(body, 65536)
        self.output = QgsFileWidget(body)
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setFilter(tr("GeoTIFF (*.tif *.tiff)"))
        self.output.lineEdit().setPlaceholderText(tr("[temporary file]"))
        for label, widget in ((tr("Device"), self.device), (tr("Backend"), self.backend),
                              (tr("Tile size"), self.tile), (tr("Batch size"), self.batch),
                              (tr("Output"), self.output)):
            form.addRow(label, widget)
        self.check = QLabel(body)
        self.check.setWordWrap(True)
        self.check.setStyleSheet("color: #b2182b")
        self.progress = QProgressBar(body)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.run_button = QPushButton(tr("Run"), body)
        self.cancel_button = QPushButton(tr("Cancel"), body)
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(body)
        layout.addLayout(form)
        layout.addWidget(self.card_view)
        layout.addWidget(self.check)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.setWidget(scroll)
        self.model.fileChanged.connect(self._model_changed)
        for picker in self.pickers.values():
            picker.combo.layerChanged.connect(self._update_check)
        self.backend.currentIndexChanged.connect(self._update_check)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)

    # ---- settings
    def _restore(self):
        settings = QgsSettings()
        self.model.setFilePath(settings.value(SETTINGS + "model", "", str))
        self.device.setCurrentIndex(settings.value(SETTINGS + "device", 0, int))
        self.backend.setCurrentIndex(settings.value(SETTINGS + "backend", 0, int))
        self.tile.setValue(settings.value(SETTINGS + "tile_size", 0, int))
        self.batch.setValue(settings.value(SETTINGS + "batch_size", 0, int))
        for key, picker in self.pickers.items():
            layer = QgsProject.instance().mapLayer(settings.value(SETTINGS + "layer/" + key, "", str))
            if layer is not None:
                picker.combo.setLayer(layer)

    def _save(self):
        settings = QgsSettings()
        settings.setValue(SETTINGS + "model", self.model.filePath())
        settings.setValue(SETTINGS + "device", self.device.currentIndex())
        settings.setValue(SETTINGS + "backend", self.backend.currentIndex())
        settings.setValue(SETTINGS + "tile_size", self.tile.value())
        settings.setValue(SETTINGS + "batch_size", self.batch.value())
        for key, picker in self.pickers.items():
            settings.setValue(SETTINGS + "layer/" + key, picker.layer().id() if picker.layer() else "")

    # ---- model card and checks
    def _model_changed(self, path):
        self.card, error = load_card(path) if path else (None, None)
        self.card_view.show_card(self.card, error)
        self._rebuild_extra_pickers()
        self._update_check()

    def _rebuild_extra_pickers(self):
        while self.extra_form.rowCount():
            self.extra_form.removeRow(0)
        self.extra_pickers = []
        extra = [m for m, slot, _layer in assign_modalities(self.card, {}) if slot == "EXTRA_AUX"] \
            if self.card else []
        for modality in extra:
            picker = LayerPicker(True, self.widget())  # starts empty: the user picks the layer
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
        return params

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

    def shutdown(self, timeout_ms=30000):
        """Cancel a running classification and wait for its task (plugin unload)."""
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
        self.last_layer = layer
        device = results.get(ClassifyAlgorithm.DEVICE_USED, "?")
        self.iface.messageBar().pushMessage(
            tr("BDGF"), tr("Classification done ({}).").format(device), Qgis.MessageLevel.Success, 5)

    def _error(self, message):
        self.iface.messageBar().pushMessage(tr("BDGF"), message, Qgis.MessageLevel.Critical, 0)


def _auto_spin(parent, maximum):
    spin = QSpinBox(parent)
    spin.setRange(0, maximum)
    spin.setSpecialValueText(tr("automatic"))
    return spin
