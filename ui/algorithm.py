"""The base class of the plugin's Processing algorithms: names, groups, help. Kept small on purpose."""
from qgis.core import QgsProcessingAlgorithm

from .i18n import tr
from .plugin_files import help_url


class BDGFAlgorithm(QgsProcessingAlgorithm):
    """Common names and help plumbing; subclasses set ID, GROUP_ID, display texts."""

    ID = ""
    GROUP_ID = ""
    GROUPS = {
        "classification": "Classification",
        "labelling": "Labelling",
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
        """The algorithm's section of the bundled help page (the project has no public web home yet)."""
        return help_url(self.ID)
