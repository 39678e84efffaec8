"""The bundled demo (resources/demo/{hsi,sar,dsm}.tif, its label polygons labels.gpkg and
resources/models/demo.bdgf), one click away."""
import os

from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

from .plugin_files import PLUGIN_DIR

DEMO_DIR = os.path.join(PLUGIN_DIR, "resources", "demo")
DEMO_MODEL = os.path.join(PLUGIN_DIR, "resources", "models", "demo.bdgf")
DEMO_LAYERS = ("dsm", "sar", "hsi")  # resources/demo/<name>.tif, added in this order (hsi ends on top)
DEMO_LABELS = os.path.join(DEMO_DIR, "labels.gpkg")  # polygons with a text class field, styled by class


def demo_paths():
    return {name: os.path.join(DEMO_DIR, name + ".tif") for name in DEMO_LAYERS}


def demo_available():
    return os.path.isfile(DEMO_MODEL) and all(os.path.isfile(p) for p in demo_paths().values())


def load_demo_layers(project=None):
    """{name: layer} of the demo scene, added to the project unless a layer already reads that file."""
    project = project or QgsProject.instance()
    loaded = {os.path.normpath(layer.source()): layer for layer in project.mapLayers().values()
              if isinstance(layer, QgsRasterLayer)}
    layers = {}
    for name, path in demo_paths().items():
        layer = loaded.get(os.path.normpath(path))
        if layer is None:
            layer = QgsRasterLayer(path, name)
            if not layer.isValid():
                raise OSError(f"cannot open the demo layer {path}")
            project.addMapLayer(layer)
        layers[name] = layer
    return layers


def load_demo_labels(project=None):
    """The demo's label polygons (categorized by their `class` field, labels.qml), added once; None when
    the demo has none."""
    project = project or QgsProject.instance()
    if not os.path.isfile(DEMO_LABELS):
        return None
    for layer in project.mapLayers().values():
        if isinstance(layer, QgsVectorLayer) and os.path.normpath(layer.source().split("|")[0]) == \
                os.path.normpath(DEMO_LABELS):
            return layer
    layer = QgsVectorLayer(DEMO_LABELS, "labels", "ogr")
    if not layer.isValid():
        raise OSError(f"cannot open the demo labels {DEMO_LABELS}")
    layer.loadNamedStyle(os.path.splitext(DEMO_LABELS)[0] + ".qml")
    project.addMapLayer(layer)
    return layer
