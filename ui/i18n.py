"""Translation of the QGIS side's texts (one context for the whole plugin)."""
from qgis.PyQt.QtCore import QCoreApplication

CONTEXT = "BDGF"


def tr(text):
    return QCoreApplication.translate(CONTEXT, text)
