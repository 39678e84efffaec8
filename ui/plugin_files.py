"""The plugin's own files: its folder, its version (metadata.txt) and the bundled help page."""
import os

from qgis.PyQt.QtCore import QUrl

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


