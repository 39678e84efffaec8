"""The dock's run settings and outputs: device, backend, tile and batch size, the land cover file and the
*Also write* boxes for the trust outputs (each enabled as the model card allows it)."""
import os

from qgis.core import QgsProcessing, QgsSettings
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from ..engine.settings import BACKENDS, DEVICE_LABELS, DEVICES
from .alg_classify import ClassifyAlgorithm
from .i18n import tr
from .widgets import auto_spin, show_path, shrinkable

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
                     "more pass per layer: the run takes about two to three times as long"),
}


class OutputsPanel(QWidget):
    """Run settings and outputs as a form."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.device = QComboBox(self)
        self.device.addItems([tr(DEVICE_LABELS[d]) for d in DEVICES])
        self.backend = QComboBox(self)
        self.backend.addItems(list(BACKENDS))
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(12)  # a narrower dock elides the name; the tooltip explains
        self.device.setToolTip(tr("'Automatic' uses a GPU when the backend can, else the CPU; "
                                  "the log says which ran."))
        self.tile = auto_spin(self, 4096)
        self.batch = auto_spin(self, 65536)
        self.output = QgsFileWidget(self)
        shrinkable(self.output)
        self.output.fileChanged.connect(lambda path: show_path(self.output, path))
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setFilter(tr("GeoTIFF (*.tif *.tiff)"))
        self.output.lineEdit().setPlaceholderText(tr("[temporary file]"))
        self.trust = {}
        trust = QVBoxLayout()
        for key, (_params, _suffixes, label, tip) in TRUST_BOXES.items():
            box = QCheckBox(tr(label), self)
            box.setObjectName(f"BDGFTrust_{key}")
            box.setToolTip(tr(tip))
            trust.addWidget(box)
            self.trust[key] = box
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(QLabel(tr("Device"), self))  # long device names: the combo gets the whole width
        form.addRow(self.device)
        for label, widget in ((tr("Backend"), self.backend), (tr("Tile size"), self.tile),
                              (tr("Batch size"), self.batch), (tr("Output"), self.output)):
            form.addRow(label, widget)
        form.addRow(QLabel(tr("Also write"), self))  # the boxes get the whole width (a narrow dock)
        form.addRow(trust)

    @property
    def backend_name(self):
        return BACKENDS[self.backend.currentIndex()]

    def set_card(self, card):
        """Each box as the card allows it (model.card.supported_outputs, what `engine info` shows): branch
        disagreement needs graphs that give each branch's probabilities, and two branches or more."""
        from ..engine.model.card import supported_outputs

        support = supported_outputs(card)[1:] if card else [(None, True, "")] * len(TRUST_BOXES)
        for (key, box), (_name, ok, why) in zip(self.trust.items(), support):
            box.setEnabled(ok)
            tip = tr(TRUST_BOXES[key][3])
            box.setToolTip(f"{tip} ({why})" if ok and why else tip if ok else tr("Not with this model: {}")
                           .format(why))

    def parameters(self):
        """bdgf:classify's settings and outputs (the trust outputs beside the land cover file)."""
        params = {
            ClassifyAlgorithm.DEVICE: self.device.currentIndex(),
            ClassifyAlgorithm.BACKEND: self.backend.currentIndex(),
            ClassifyAlgorithm.TILE_SIZE: self.tile.value(),
            ClassifyAlgorithm.BATCH_SIZE: self.batch.value(),
            ClassifyAlgorithm.OUTPUT: self.output.filePath() or QgsProcessing.TEMPORARY_OUTPUT,
        }
        params.update(self.trust_outputs())
        return params

    def trust_outputs(self):
        """The checked trust outputs: beside the land cover file (`<name>_entropy.tif`, ...), or temporary
        files when it is temporary."""
        output = self.output.filePath()
        out = {}
        stem = os.path.splitext(output)[0] if output else None
        for key, (names, suffixes, _label, _tip) in TRUST_BOXES.items():
            box = self.trust[key]
            if box.isChecked() and box.isEnabled():
                for name, suffix in zip(names, suffixes):
                    out[name] = f"{stem}_{suffix}.tif" if stem else QgsProcessing.TEMPORARY_OUTPUT
        return out

    def restore(self, settings_key):
        settings = QgsSettings()
        self.device.setCurrentIndex(settings.value(settings_key + "device", 0, int))
        self.backend.setCurrentIndex(settings.value(settings_key + "backend", 0, int))
        self.tile.setValue(settings.value(settings_key + "tile_size", 0, int))
        self.batch.setValue(settings.value(settings_key + "batch_size", 0, int))
        for key, box in self.trust.items():
            box.setChecked(settings.value(settings_key + "trust/" + key, False, bool))

    def save(self, settings_key):
        settings = QgsSettings()
        settings.setValue(settings_key + "device", self.device.currentIndex())
        settings.setValue(settings_key + "backend", self.backend.currentIndex())
        settings.setValue(settings_key + "tile_size", self.tile.value())
        settings.setValue(settings_key + "batch_size", self.batch.value())
        for key, box in self.trust.items():
            settings.setValue(settings_key + "trust/" + key, box.isChecked())
