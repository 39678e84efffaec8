"""Shared helpers of the QGIS side: translation, the bundled help page and the algorithm base class."""
import os

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtCore import QCoreApplication, QUrl

CONTEXT = "BDGF"
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository / plugin folder
# The bundled help page (help/index.html in the plugin folder; scripts/package.py ships help/).
HELP_PAGE = os.path.join(PLUGIN_DIR, "help", "index.html")


def help_url(anchor=""):
    """file:// URL of the bundled help page, optionally at `anchor` (an algorithm id such as "classify")."""
    url = QUrl.fromLocalFile(HELP_PAGE)
    if anchor:
        url.setFragment(anchor)
    return bytes(url.toEncoded()).decode("ascii")


def plugin_version():
    """The plugin's version from its metadata.txt ("unknown" when it cannot be read)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8")
        return parser.get("general", "version")
    except (configparser.Error, OSError):
        return "unknown"


def tr(text):
    return QCoreApplication.translate(CONTEXT, text)


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
