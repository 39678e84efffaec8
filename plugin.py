"""The QGIS plugin object: registers the Processing provider, the dock panel and the help menu entry."""
import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt, QUrl
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import QAction

from .ui.i18n import tr
from .ui.plugin_files import HELP_PAGE

ICON = os.path.join(os.path.dirname(__file__), "resources", "icon.png")
MENU = "BDGF land cover"


class BDGFPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.dock = None
        self.action = None
        self.help_action = None
        self.help_menu = None  # Help > Plugins, or None when the help entry went to the plugin's menu

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
        self.help_action = QAction(QIcon(ICON), tr("BDGF Land Cover help"), self.iface.mainWindow())
        self.help_action.setObjectName("BDGFHelp")
        self.help_action.triggered.connect(self.open_help)
        self.help_menu = self._plugin_help_menu()
        if self.help_menu is not None:
            self.help_menu.addAction(self.help_action)
        else:
            self.iface.addPluginToRasterMenu(tr(MENU), self.help_action)

    def _plugin_help_menu(self):
        """Help > Plugins of the QGIS window; None where the interface has none (stand-ins of QGIS)."""
        try:
            return self.iface.pluginHelpMenu()
        except (AttributeError, NotImplementedError, TypeError, RuntimeError):
            return None

    def open_help(self):
        """Opens the bundled help page (help/index.html) in the system browser."""
        return QDesktopServices.openUrl(QUrl.fromLocalFile(HELP_PAGE))

    def show_dock(self, visible=True):
        if self.dock is None:
            from .ui.dock import ClassifyDock

            self.dock = ClassifyDock(self.iface, self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
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
        if self.help_action is not None:
            if self.help_menu is not None:
                self.help_menu.removeAction(self.help_action)
            else:
                self.iface.removePluginRasterMenu(tr(MENU), self.help_action)
            self.help_action.deleteLater()
            self.help_action = None
            self.help_menu = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
