"""The bundled demo (resources/demo/{hsi,sar,dsm}.tif and resources/models/demo.bdgf), one click away."""
import os

from qgis.core import QgsProject, QgsRasterLayer

from .plugin_files import PLUGIN_DIR

DEMO_DIR = os.path.join(PLUGIN_DIR, "resources", "demo")
DEMO_MODEL = os.path.join(PLUGIN_DIR, "resources", "models", "demo.bdgf")
DEMO_LAYERS = ("dsm", "sar", "hsi")  # resources/demo/<name>.tif, added in this order (hsi ends on top)


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
