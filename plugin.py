"""The QGIS plugin object: registers the Processing provider and the dock panel."""
from qgis.core import QgsApplication


class BDGFPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.dock = None
        self.action = None

    def initProcessing(self):  # noqa: N802 (QGIS API name)
        from .ui.provider import BDGFProvider

        self.provider = BDGFProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802 (QGIS API name)
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
