"""bdgf:environment — reports what QGIS's Python can run (diagnostics for bug reports).

The engine side (engine/model/environment.py) checks this Python: packages, where they are imported from, the
ONNX Runtime provider a tiny test session really used, CUDA / cuDNN, install commands. This module adds
QGIS's own lines; the dock's *Diagnostics* dialog shows the same text (`environment_text`).
"""
import json

from qgis.core import Qgis, QgsApplication, QgsProcessingOutputString
from qgis.PyQt.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

from ..engine.model.environment import environment_report, format_report, install_hint
from .algorithm import BDGFAlgorithm
from .plugin_files import PLUGIN_DIR, plugin_version


def qgis_lines():
    """(label, value) lines about QGIS and this plugin, for the top of the report."""
    return [
        ("QGIS", f"{Qgis.QGIS_VERSION} (Qt {QT_VERSION_STR}, PyQt {PYQT_VERSION_STR})"),
        ("QGIS prefix", QgsApplication.prefixPath()),
        ("QGIS profile", QgsApplication.qgisSettingsDirPath()),
        ("BDGF plugin", f"{plugin_version()} ({PLUGIN_DIR})"),
    ]


def training_lines():
    """The Python that trains (bdgf:train) and its packages, or why it cannot be checked."""
    from .training_python import (
        TrainingPythonError,
        configured_python,
        describe,
        requirements,
        training_python,
    )

    try:
        return describe(requirements(training_python(configured_python())))
    except TrainingPythonError as exc:
        return [str(exc)]


def environment_text(report=None, training=True):
    """The copyable text report (QGIS lines, then engine/model/environment.format_report, then the Python
    that trains)."""
    text = format_report(report if report is not None else environment_report(), qgis_lines())
    return text + ("\nTraining (bdgf:train)\n" + "\n".join(f"  {line}" for line in training_lines()) + "\n"
                   if training else "")


class EnvironmentAlgorithm(BDGFAlgorithm):
    ID = "environment"
    GROUP_ID = "tools"
    REPORT = "REPORT"
    TEXT = "TEXT"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Check environment")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Lists QGIS's and Python's versions and paths, the Python packages the BDGF engine needs "
            "(numpy, onnxruntime; torch optional) with their versions and where they are imported from, the "
            "ONNX Runtime providers and the one a tiny test session really used (CPU or GPU), CUDA / cuDNN "
            "visibility, GDAL, the plugin version, and the exact commands that install what is missing. "
            "Paste the text report (TEXT, also in the log) into problem reports."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addOutput(QgsProcessingOutputString(self.REPORT, self.tr("Environment report (JSON)")))
        self.addOutput(QgsProcessingOutputString(self.TEXT, self.tr("Environment report (text)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        report = environment_report()
        text = environment_text(report)
        for line in text.splitlines():
            feedback.pushInfo(line)
        if report["missing"]:
            feedback.reportError(
                self.tr("Missing required packages: {}. Install them with: {}").format(
                    ", ".join(report["missing"]), install_hint(report["missing"])
                )
            )
        return {self.REPORT: json.dumps(report, sort_keys=True), self.TEXT: text}
