"""The dock's *Diagnostics* dialog: the environment report as text, and a *Copy report* button."""
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QFontDatabase
from qgis.PyQt.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from .alg_environment import environment_text
from .i18n import tr


class EnvironmentDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("BDGFEnvironmentDialog")
        self.setWindowTitle(tr("BDGF diagnostics"))
        self.resize(760, 560)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # importing torch takes a moment
        try:
            self.report = environment_text()
        finally:
            QApplication.restoreOverrideCursor()
        hint = QLabel(tr("Paste this report into problem reports: the versions, paths and devices this QGIS "
                          "uses, and what to install."), self)
        hint.setWordWrap(True)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText(self.report)
        self.copy_button = QPushButton(tr("Copy report"), self)
        self.copy_button.clicked.connect(self.copy)
        close = QPushButton(tr("Close"), self)
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.text)
        layout.addLayout(buttons)

    def copy(self):
        QApplication.clipboard().setText(self.report)
        self.copy_button.setText(tr("Copied"))
