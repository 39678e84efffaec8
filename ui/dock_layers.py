"""The dock's layer panel: one picker per modality the model card asks for (spectral, SAR, LiDAR / DSM,
and one more per further modality), each proposing the project layer that fits (ui/layer_matching.py) and
keeping a layer the user picked while it fits. Classification and training share it."""
from qgis.core import QgsProject, QgsRasterLayer, QgsSettings
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QFormLayout, QWidget

from .alg_classify import ClassifyAlgorithm
from .i18n import tr
from .layer_matching import bands_fit, expected_bands, propose_layers
from .layer_picker import LayerPicker
from .model_inputs import SLOT_ROLES, assign_modalities, describe_modality

MODALITIES = (  # (parameter id, label, optional)
    (ClassifyAlgorithm.SPECTRAL, "Spectral", False),
    (ClassifyAlgorithm.SAR, "SAR", True),
    (ClassifyAlgorithm.LIDAR, "LiDAR / DSM", True),
)


class LayerPanel(QWidget):
    """The modality pickers as a form; `changed` when any picked layer changes."""

    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.card = None
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.pickers = {}
        for key, label, optional in MODALITIES:
            self.pickers[key] = LayerPicker(optional, self)
            self.pickers[key].combo.layerChanged.connect(lambda *_: self.changed.emit())
            form.addRow(tr(label), self.pickers[key])
        self.extra_form = QFormLayout()  # one picker per further modality the model card asks for
        self.extra_pickers = []
        form.addRow(self.extra_form)

    def set_card(self, card):
        """The model card the pickers check against (None: none chosen); proposes layers for it."""
        self.card = card
        modalities = {slot: m for m, slot, _layer in assign_modalities(card, {})} if card else {}
        for key, picker in self.pickers.items():
            picker.set_expected(modalities.get(key), card)  # with the card: can it run without one?
        self._rebuild_extra_pickers()
        self.propose_layers()

    def _rebuild_extra_pickers(self):
        while self.extra_form.rowCount():
            self.extra_form.removeRow(0)
        self.extra_pickers = []
        extra = [m for m, slot, _layer in assign_modalities(self.card, {}) if slot == "EXTRA_AUX"] \
            if self.card else []
        for modality in extra:
            picker = LayerPicker(True, self)  # starts empty: the user picks the layer
            picker.combo.setLayer(None)
            picker.setToolTip(describe_modality(modality))
            picker.combo.layerChanged.connect(lambda *_: self.changed.emit())
            self.extra_form.addRow(modality["name"], picker)
            self.extra_pickers.append(picker)

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
        self.changed.emit()

    def slots(self):
        """{parameter id: layer} (EXTRA_AUX: a list) of the picked layers, for the card's checks."""
        slots = {key: p.layer() for key, p in self.pickers.items()}
        slots[ClassifyAlgorithm.EXTRA_AUX] = [p.layer() for p in self.extra_pickers if p.layer()]
        return slots

    def parameters(self, by_id=False):
        """The picked layers as Processing parameters: their sources (a worker thread reopens them), or
        their layer ids (`by_id`: on this thread, so a layer that is not a file is refused by its name)."""
        def value(layer):
            return layer.id() if by_id else layer.source()

        params = {key: value(p.layer()) if p.layer() else None for key, p in self.pickers.items()}
        extra = [value(p.layer()) for p in self.extra_pickers if p.layer()]
        if extra:
            params[ClassifyAlgorithm.EXTRA_AUX] = extra
        return params

    def restore(self, settings_key):
        settings = QgsSettings()
        for key, picker in self.pickers.items():
            layer = QgsProject.instance().mapLayer(settings.value(settings_key + key, "", str))
            if layer is not None:
                picker.set_layer(layer)
                picker.user_chosen = True  # chosen for an earlier run in this project: kept while it fits

    def save(self, settings_key):
        settings = QgsSettings()
        for key, picker in self.pickers.items():
            settings.setValue(settings_key + key, picker.layer().id() if picker.layer() else "")


def _keeps(picker, role, expected, proposal):
    """A layer the user picked stays, unless the card has no such modality, or the layer does not fit the
    card and the proposal does."""
    if expected is None:
        return True
    if role not in expected:
        return False
    return picker.fits() or proposal is None or not bands_fit(expected[role], proposal.bandCount())
