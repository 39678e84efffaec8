"""Which Python packages a run needs and whether QGIS's Python has them (imported lazily)."""
from ..engine.model.environment import importable, install_hint
from ..engine.settings import BACKEND_PACKAGES
from .i18n import tr

ALWAYS = ("numpy",)


def missing_packages(backend=None):
    """The packages the backend (or, without one, any run) needs that cannot be imported."""
    names = BACKEND_PACKAGES[backend] if backend else ALWAYS
    return [name for name in names if not importable(name)]


def missing_message(missing, backend=None):
    """A plain message naming the missing packages and the command that installs them."""
    if not missing:
        return ""
    what = tr("the {} backend").format(backend) if backend else tr("BDGF")
    return tr("{} needs the Python package(s) {} in QGIS's Python, which are not installed. "
              "Install them with:\n{}\nthen restart QGIS.").format(what, ", ".join(missing),
                                                                   install_hint(missing))
