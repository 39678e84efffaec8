"""Tier 2: the plugin inside a real headless QGIS."""
import json

import pytest
from qgis.core import Qgis, QgsApplication

from tests.qgis_tools import import_plugin_package, run_in_process, run_with_qgis_process

pytestmark = pytest.mark.qgis


def test_plugin_loads_registers_provider_and_unloads(qgis_app, qgis_iface, qgis_processing, qgis_base):
    registry = QgsApplication.processingRegistry()
    plugin = import_plugin_package(qgis_base).classFactory(qgis_iface)
    plugin.initGui()
    assert registry.providerById("bdgf") is not None
    assert registry.algorithmById("bdgf:environment") is not None
    plugin.unload()
    assert registry.providerById("bdgf") is None


def test_environment_algorithm_through_processing_run(bdgf_plugin):
    result = run_in_process("bdgf:environment", {})
    report = json.loads(result["REPORT"])
    assert report["packages"]["numpy"]
    assert report["packages"]["onnxruntime"], "the test venv must provide onnxruntime"
    assert report["missing"] == []
    text = result["TEXT"]  # the copyable report of the dock's Diagnostics dialog
    assert text.startswith("BDGF for QGIS: environment report")
    qgis_line = next(line for line in text.splitlines() if line.startswith("QGIS "))
    assert Qgis.QGIS_VERSION in qgis_line
    assert "BDGF plugin" in text and "0." in text.split("BDGF plugin", 1)[1].splitlines()[0]
    assert "test session used:      CPUExecutionProvider" in text
    assert "onnxruntime  " + report["packages"]["onnxruntime"] in text


def test_environment_algorithm_through_qgis_process(qgis_base):
    result = run_with_qgis_process(qgis_base, "bdgf:environment", {})
    report = json.loads(result["results"]["REPORT"])
    # QGIS's embedded Python sees the venv through PYTHONPATH
    assert report["packages"]["torch"], report
    assert report["gdal"].startswith("3.")
