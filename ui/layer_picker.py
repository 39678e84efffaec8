"""Raster layer picker for the dock: a combo and, under it, the layer's band count, CRS and size."""
from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QLabel, QVBoxLayout, QWidget

from .layer_info import layer_brief


class LayerPicker(QWidget):
    """A raster layer combo with a line under it: band count, CRS and size of the chosen layer."""

    def __init__(self, optional, parent=None):
        super().__init__(parent)
        self.combo = QgsMapLayerComboBox(self)
        self.combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.combo.setAllowEmptyLayer(optional)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: #555")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.info)
        self.combo.layerChanged.connect(self._update)
        self._update(self.combo.currentLayer())

    def layer(self):
        return self.combo.currentLayer()

    def _update(self, layer):
        self.info.setText(layer_brief(layer))
