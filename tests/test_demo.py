"""`make demo`'s path: the bundled scene classified and assessed through qgis_process, preview drawn."""
import json

import pytest
from osgeo import gdal

from engine.package import ModelPackage
from scripts import demo

pytestmark = pytest.mark.qgis


def test_demo_runs_in_qgis_and_reproduces_the_training_accuracy(tmp_path):
    summary = demo.run(tmp_path)
    card_metrics = ModelPackage(demo.MODEL).card["metrics"]
    # the same test labels as training's evaluation: QGIS must reproduce its OA/Kappa
    assert summary["oa"] == pytest.approx(card_metrics["oa"], abs=1e-4)
    assert summary["kappa"] == pytest.approx(card_metrics["kappa"], abs=1e-4)
    for path in summary["outputs"].values():
        assert (tmp_path / path.split("/")[-1]).stat().st_size > 0
    ds = gdal.Open(str(tmp_path / "landcover.tif"))
    band = ds.GetRasterBand(1)
    assert band.GetColorTable() is not None and band.GetNoDataValue() == 0
    assert json.loads((tmp_path / "summary.json").read_text())["device"]


def test_demo_refuses_missing_assets(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "MODEL", tmp_path / "absent.bdgf")
    with pytest.raises(SystemExit, match="demo assets missing: .*absent.bdgf.*make demo-assets"):
        demo.run(tmp_path / "out")
