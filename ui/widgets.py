"""Small widget habits of the dock's panels: file fields that never widen a narrow dock and show the end of
a long path, and spin boxes whose 0 reads "automatic"."""
from qgis.PyQt.QtWidgets import QSpinBox

from .i18n import tr


def shrinkable(file_widget):
    """A file widget that may get narrower than its path: the dock keeps its width."""
    file_widget.lineEdit().setMinimumWidth(60)
    file_widget.setMinimumWidth(80)


def show_path(file_widget, path):
    """Show the end of a long path (the file name) and the whole path as tooltip."""
    file_widget.setToolTip(path or "")
    file_widget.lineEdit().setToolTip(path or "")
    file_widget.lineEdit().setCursorPosition(len(path or ""))


def auto_spin(parent, maximum):
    """A spin box from 0 ("automatic") to `maximum`."""
    spin = QSpinBox(parent)
    spin.setRange(0, maximum)
    spin.setSpecialValueText(tr("automatic"))
    return spin
