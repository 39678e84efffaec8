"""Raster layer picker for the dock: a combo and, under it, the layer's band count, CRS and size —
in red, with expected vs found, when the layer does not fit the model card's modality."""
from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QComboBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .i18n import tr
from .layer_info import layer_brief
from .layer_matching import bands_fit

MISMATCH_COLOUR = "#b2182b"


def wrap_at_dots(text):
    """'64 band(s) · EPSG:32632 · 160×128 px' may wrap at the dots only, never inside '128 px'."""
    return " · ".join(part.replace(" ", "\u00a0") for part in text.split(" · "))


class LayerPicker(QWidget):
    """A raster layer combo with a line under it: band count, CRS and size of the chosen layer.

    `set_expected(modality, card)` gives the card's modality for this picker (None: no card, or a
    modality the card does not have) and the card: a layer whose band count differs is then shown in red
    with expected vs found; no layer too, unless the card says the model can run without the modality
    (engine.model.missing_modality: then its test accuracy without it, in grey).
    `user_chosen` is True once the user picked a layer in the combo (the dock then keeps it).
    """

    def __init__(self, optional, parent=None):
        super().__init__(parent)
        self.combo = QgsMapLayerComboBox(self)
        self.combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.combo.setAllowEmptyLayer(optional)
        # long layer names must not widen the dock: the combo shrinks and elides, the tooltip has it all
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(8)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.modality = None
        self.without = None  # the card's line for running without this modality, when it can
        self.user_chosen = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.combo)
        layout.addWidget(self.info)
        self.combo.layerChanged.connect(self._update)
        self.combo.activated.connect(self._chosen_by_user)
        self._update(self.combo.currentLayer())

    def layer(self):
        return self.combo.currentLayer()

    def set_layer(self, layer):
        """Set by the dock (a proposal, restored settings): not a choice of the user."""
        self.combo.setLayer(layer)
        self._update(self.combo.currentLayer())

    def set_expected(self, modality, card=None):
        from ..engine.model.missing_modality import missing_figures, without_phrase

        self.modality = modality
        can = modality is not None and card is not None and modality["name"] in missing_figures(card)
        self.without = without_phrase(card, modality["name"]) if can else None
        self._update(self.combo.currentLayer())

    def fits(self):
        """False when the card expects another band count than the chosen layer has, or a layer at all
        (no layer fits when the model can run without this modality)."""
        layer = self.layer()
        if self.modality is None:
            return True
        if layer is None:
            return self.without is not None
        return bands_fit(self.modality["bands"], layer.bandCount())

    def mismatch(self):
        """'hsi (spectral): expected 64 bands, found 1 band' (the engine's wording), or ''."""
        if self.fits():
            return ""
        layer, modality = self.layer(), self.modality
        expected = tr("{} band(s)").format(modality["bands"])
        found = tr("{} band(s)").format(layer.bandCount()) if layer is not None else tr("no layer")
        return tr("{name} ({role}): expected {expected}, found {found}").format(
            name=modality["name"], role=modality.get("role", ""), expected=expected, found=found)

    def _chosen_by_user(self, _index):
        self.user_chosen = True

    def _update(self, layer):
        brief = wrap_at_dots(layer_brief(layer))
        problem = self.mismatch()
        if problem:
            self.info.setText(problem + ("\n" + brief if layer is not None else ""))
            self.info.setStyleSheet(f"color: {MISMATCH_COLOUR}")
        elif layer is None and self.without:
            self.info.setText(tr("No layer: the model runs without it ({})").format(self.without))
            self.info.setStyleSheet("color: palette(mid)")
        else:
            self.info.setText(brief)
            self.info.setStyleSheet("color: palette(mid)" if layer is None else "color: #555")
        tip = layer.source() if layer is not None else ""
        self.combo.setToolTip(tip)
        self.info.setToolTip(tip)
