"""The base class of the plugin's Processing algorithms: names, groups, help. Kept small on purpose."""
from qgis.core import QgsProcessingAlgorithm, QgsProcessingParameterDefinition, QgsProcessingParameterString

from .i18n import tr
from .plugin_files import help_url


class BDGFAlgorithm(QgsProcessingAlgorithm):
    """Common names and help plumbing; subclasses set ID, GROUP_ID, display texts."""

    ID = ""
    GROUP_ID = ""
    NODATA, INPUT_SCALE = "NODATA", "INPUT_SCALE"  # per-layer settings of classify and train (one wording)
    GROUPS = {
        "classification": "Classification",
        "labelling": "Labelling",
        "assessment": "Accuracy assessment",
        "tools": "Model and environment",
    }

    def tr(self, text):
        return tr(text)

    def layer_setting_parameters(self) -> list:
        """Per-layer nodata and input scale, as bdgf:classify and bdgf:train both take them."""
        return [
            QgsProcessingParameterString(
                self.NODATA, self.tr("Nodata per layer (e.g. hsi=0, dsm=none; empty = each file's own)"),
                optional=True),
            QgsProcessingParameterString(
                self.INPUT_SCALE, self.tr("Input scale per layer (e.g. hsi=0.0001; empty = as they are)"),
                optional=True),
        ]

    def add_advanced(self, parameters) -> None:
        """Add parameters under the dialog's *Advanced* fold."""
        for parameter in parameters:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
            self.addParameter(parameter)

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
