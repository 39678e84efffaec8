"""Tier 2: the bundled Processing model (resources/models/classify_and_assess.model3) loads in QGIS's
own model class and runs bdgf:classify -> bdgf:accuracy on the demo scene (the Model Designer path)."""
import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingModelAlgorithm

from tests.qgis_tools import REPO, run_in_process

pytestmark = pytest.mark.qgis
MODEL3 = REPO / "resources" / "models" / "classify_and_assess.model3"
DEMO = REPO / "resources" / "demo"


def test_the_processing_model_chains_classify_and_accuracy_on_the_demo(bdgf_plugin, tmp_path):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL3)), f"QGIS cannot read {MODEL3}"
    children = model.childAlgorithms()
    assert {c.algorithmId() for c in children.values()} == {"bdgf:classify", "bdgf:accuracy"}
    assert all(c.algorithm() is not None for c in children.values()), "a child algorithm is not registered"
    source = children["accuracy"].parameterSources()["INPUT"][0]
    assert (source.outputChildId(), source.outputName()) == ("classify", "OUTPUT")
    params = {"spectral": str(DEMO / "hsi.tif"), "sar": str(DEMO / "sar.tif"), "lidar": str(DEMO / "dsm.tif"),
              "model": str(REPO / "resources" / "models" / "demo.bdgf"), "reference": str(DEMO / "test.tif"),
              "classify:landcover": str(tmp_path / "landcover.tif"),
              "accuracy:report": str(tmp_path / "accuracy.html")}
    ok, message = model.checkParameterValues(params, _context())
    assert ok, message
    results = run_in_process(model, params)
    assert results["classify:landcover"] == str(tmp_path / "landcover.tif")
    assert results["accuracy:report"] == str(tmp_path / "accuracy.html")
    dataset = gdal.Open(str(tmp_path / "landcover.tif"))
    classes = dataset.GetRasterBand(1).ReadAsArray()
    dataset = None
    assert set(np.unique(classes)) <= set(range(9)) and (classes > 0).mean() > 0.5
    report = (tmp_path / "accuracy.html").read_text(encoding="utf-8")
    assert "Kappa" in report and "Water" in report  # class names from the model card


def _context():
    from qgis.core import QgsProcessingContext, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return context
