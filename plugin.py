"""The QGIS plugin object: registers the Processing provider and the dock panel."""
import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .ui.common import tr

ICON = os.path.join(os.path.dirname(__file__), "resources", "icon.svg")
MENU = "BDGF land cover"


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
        self.action = QAction(QIcon(ICON), tr("BDGF land cover panel"), self.iface.mainWindow())
        self.action.setObjectName("BDGFShowDock")
        self.action.setCheckable(True)
        self.action.setToolTip(tr("Classify hyperspectral + SAR + LiDAR layers with a BDGF model"))
        self.action.toggled.connect(self.show_dock)
        self.iface.addToolBarIcon(self.action)
        self.iface.addPluginToRasterMenu(tr(MENU), self.action)

    def show_dock(self, visible=True):
        if self.dock is None:
            from .ui.dock import ClassifyDock

            self.dock = ClassifyDock(self.iface, self.iface.mainWindow())
            self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
            self.dock.visibilityChanged.connect(self.action.setChecked)
        self.dock.setVisible(visible)

    def unload(self):
        if self.dock is not None:
            self.dock.shutdown()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.action is not None:
            self.iface.removePluginRasterMenu(tr(MENU), self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
