"""The output guard in QGIS (issue 26, case 1): bdgf:exportjob never writes its job over the model or a
layer, bdgf:accuracy never writes its reports over the map or the reference; the files stay as they were."""
import shutil
from pathlib import Path

import pytest
from qgis.core import QgsProcessingException

from tests.qgis_tools import run_in_process
from tests.ui.test_helpers import write_tiny_package

pytestmark = pytest.mark.qgis


def test_exportjob_refuses_to_write_its_job_over_the_model_or_the_spectral_layer(bdgf_plugin, fixture_scene,
                                                                                 tmp_path):
    model = write_tiny_package(tmp_path / "tiny.bdgf", fixture_scene)
    hsi = shutil.copyfile(fixture_scene["hsi"], tmp_path / "hsi.tif")
    before = {p: Path(p).read_bytes() for p in (model, hsi)}
    for victim in (model, hsi):
        params = {"SPECTRAL": str(hsi), "SAR": fixture_scene["sar"], "LIDAR": fixture_scene["dsm"],
                  "MODEL": model, "OUTPUT": str(victim)}
        with pytest.raises(QgsProcessingException, match="would destroy that file"):
            run_in_process("bdgf:exportjob", params)
    assert {p: Path(p).read_bytes() for p in before} == before


def test_accuracy_refuses_to_write_its_report_over_the_reference(bdgf_plugin, fixture_scene, tmp_path):
    """A GeoJSON reference and the JSON report at the same path (QGIS itself accepts the name: it ends in
    .json): the assessment must not run, the reference stays."""
    from osgeo import gdal

    from tests.fixtures import reference_polygons

    polygons = reference_polygons(fixture_scene["test"], tmp_path / "reference.gpkg")
    reference = str(tmp_path / "reference.json")
    gdal.VectorTranslate(reference, polygons, format="GeoJSON")
    before = Path(reference).read_bytes()
    with pytest.raises(QgsProcessingException, match="would destroy that file"):
        run_in_process("bdgf:accuracy", {"INPUT": fixture_scene["labels"], "REFERENCE": reference,
                                         "CLASS_FIELD": "class", "OUTPUT_JSON": reference,
                                         "OUTPUT_HTML": str(tmp_path / "accuracy.html")})
    assert Path(reference).read_bytes() == before and not (tmp_path / "accuracy.html").exists()
