"""bdgf:environment — reports what QGIS's Python can run (diagnostics for bug reports)."""
import json

from qgis.core import QgsProcessingOutputString

from ..engine.diagnostics import environment_report, install_hint
from .common import BDGFAlgorithm


class EnvironmentAlgorithm(BDGFAlgorithm):
    ID = "environment"
    GROUP_ID = "tools"
    REPORT = "REPORT"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Check environment")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Lists the Python packages the BDGF engine needs (numpy, onnxruntime; torch optional), "
            "their versions and the devices they can use, and the command that installs what is missing."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addOutput(QgsProcessingOutputString(self.REPORT, self.tr("Environment report (JSON)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        report = environment_report()
        for name, version in report["packages"].items():
            feedback.pushInfo(f"{name}: {version or 'not installed'}")
        if report["missing"]:
            feedback.reportError(
                self.tr("Missing required packages: {}. Install them with: {}").format(
                    ", ".join(report["missing"]), install_hint(report["missing"])
                )
            )
        return {self.REPORT: json.dumps(report, sort_keys=True)}
