"""Paletted renderer from the model card's classes, and the engine's sidecar .qml, applied on the main
thread."""
import os

from qgis.core import QgsPalettedRasterRenderer, QgsProcessingLayerPostProcessorInterface
from qgis.PyQt.QtGui import QColor


def palette_classes(classes):
    """QgsPalettedRasterRenderer classes from card classes [{value, name, color}]."""
    return [
        QgsPalettedRasterRenderer.Class(int(c["value"]), QColor(c.get("color", "#808080")), str(c["name"]))
        for c in classes
    ]


def apply_class_style(layer, classes):
    """Give a class raster layer the card's colours and names (band 1)."""
    renderer = QgsPalettedRasterRenderer(layer.dataProvider(), 1, palette_classes(classes))
    layer.setRenderer(renderer)
    layer.triggerRepaint()
    return renderer


class ClassStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles the loaded output layer. Processing holds only a C++ pointer: keep the Python object alive."""

    _alive = []  # QGIS #47533/#48087: the instance must outlive the algorithm run

    def __init__(self, classes):
        super().__init__()
        self.classes = classes

    @classmethod
    def create(cls, classes):
        processor = cls(classes)
        cls._alive = cls._alive[-15:] + [processor]
        return processor

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        if layer is not None and layer.isValid():
            apply_class_style(layer, self.classes)


class SidecarStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Gives the loaded output layer the style the engine wrote beside it (`<raster>.qml`: the trust outputs'
    0..1 ramps, the dominant modality's palette). Processing loads layers without their default style."""

    _alive = []

    @classmethod
    def create(cls):
        processor = cls()
        cls._alive = cls._alive[-15:] + [processor]
        return processor

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        apply_sidecar_style(layer)


def apply_sidecar_style(layer):
    """The style the engine wrote beside a raster (`<raster>.qml`), when there is one."""
    if layer is None or not layer.isValid():
        return
    qml = os.path.splitext(layer.source())[0] + ".qml"
    if os.path.isfile(qml):
        layer.loadNamedStyle(qml)
        layer.triggerRepaint()
