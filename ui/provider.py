"""Processing provider `bdgf`."""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .alg_environment import EnvironmentAlgorithm

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icon.svg")


class BDGFProvider(QgsProcessingProvider):
    def id(self):
        return "bdgf"

    def name(self):
        return "BDGF land cover"

    def icon(self):
        return QIcon(ICON)

    def loadAlgorithms(self):  # noqa: N802 (QGIS API name)
        for algorithm in (EnvironmentAlgorithm(),):
            self.addAlgorithm(algorithm)
