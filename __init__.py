"""QGIS entry point of the BDGF Land Cover plugin."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin import BDGFPlugin

    return BDGFPlugin(iface)
