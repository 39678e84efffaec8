"""Shared helpers of the QGIS side: translation and the algorithm base class."""
from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtCore import QCoreApplication

CONTEXT = "BDGF"


def tr(text):
    return QCoreApplication.translate(CONTEXT, text)


class BDGFAlgorithm(QgsProcessingAlgorithm):
    """Common names and help plumbing; subclasses set ID, GROUP_ID, display texts."""

    ID = ""
    GROUP_ID = ""
    GROUPS = {
        "classification": "Classification",
        "assessment": "Accuracy assessment",
        "tools": "Model and environment",
    }

    def tr(self, text):
        return tr(text)

    def name(self):
        return self.ID

    def group(self):
        return self.tr(self.GROUPS[self.GROUP_ID])

    def groupId(self):  # noqa: N802 (QGIS API name)
        return self.GROUP_ID

    def createInstance(self):  # noqa: N802 (QGIS API name)
        return type(self)()

    def helpUrl(self):  # noqa: N802 (QGIS API name)
        return "https://github.com/bdgf-qgis/bdgf-qgis#processing-algorithms"
