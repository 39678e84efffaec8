"""`make demo`'s path: the bundled scene classified and assessed through qgis_process, preview drawn."""
import json

import pytest
from osgeo import gdal

from engine.model.package import ModelPackage
from scripts import demo

pytestmark = pytest.mark.qgis


def test_demo_runs_in_qgis_and_reproduces_the_training_accuracy(tmp_path):
    summary = demo.run(tmp_path)
    card_metrics = ModelPackage(demo.MODEL).card["metrics"]
    # the same test labels as training's evaluation: QGIS must reproduce its OA/Kappa
    assert summary["oa"] == pytest.approx(card_metrics["oa"], abs=1e-4)
    assert summary["kappa"] == pytest.approx(card_metrics["kappa"], abs=1e-4)
    # coverage counted: the demo map leaves reference pixels unclassified (nodata), and both OAs are shown
    from engine.raster.labels import read_labels
    from engine.raster.read import grid_of

    grid = grid_of(str(tmp_path / "landcover.tif"))
    predicted = read_labels(str(tmp_path / "landcover.tif"), grid)
    reference = read_labels(str(demo.DEMO / "test.tif"), grid)
    unclassified = int(((reference > 0) & (predicted == 0)).sum())
    assert summary["unclassified"] == unclassified > 0
    assert summary["reference_pixels"] == int((reference > 0).sum())
    assert summary["coverage"] == pytest.approx(1 - unclassified / summary["reference_pixels"])
    assert summary["oa_classified"] == summary["oa"]
    assert summary["oa_all_reference"] == pytest.approx(summary["oa"] * summary["coverage"])
    area = summary["area_adjusted"]
    assert area["sampling"] == "not a probability sample — indicative only"
    assert area["mapped_pixels_total"] == int((predicted > 0).sum())
    estimated = sum(c["area_pixels"]["estimate"] for c in area["classes"])
    assert estimated == pytest.approx(area["mapped_pixels_total"])  # the areas share out the classified map
    for path in summary["outputs"].values():
        assert (tmp_path / path.split("/")[-1]).stat().st_size > 0
    ds = gdal.Open(str(tmp_path / "landcover.tif"))
    band = ds.GetRasterBand(1)
    assert band.GetColorTable() is not None and band.GetNoDataValue() == 0
    assert json.loads((tmp_path / "summary.json").read_text())["device"]
    _check_trust_outputs(tmp_path, summary, predicted)


def _check_trust_outputs(folder, summary, predicted):
    """The trust outputs the demo writes: 0..1 where the map has a class, -1 (nodata) elsewhere; the
    dominant modality paletted over the card's modalities; the contribution's added time printed."""
    import numpy as np

    card = ModelPackage(demo.MODEL).card
    assert "branch_probabilities" in card["capabilities"]  # the rebuilt demo model gives them
    classified = predicted > 0
    for name in ("entropy.tif", "disagreement.tif", "agreement.tif", "contribution.tif"):
        ds = gdal.Open(str(folder / name))
        data = ds.ReadAsArray()
        assert ds.GetRasterBand(1).GetNoDataValue() == -1, name
        assert (data[..., ~classified] == -1).all(), name
        values = data[..., classified]
        assert values.min() >= 0 and values.max() <= 1 and np.ptp(values) > 0.1, name
        assert (folder / name.replace(".tif", ".qml")).stat().st_size > 0, name
    contribution = gdal.Open(str(folder / "contribution.tif"))
    assert contribution.RasterCount == len(card["modalities"]) == 3
    agreement = gdal.Open(str(folder / "agreement.tif")).ReadAsArray()[classified]
    assert set(np.unique(np.rint(agreement * 3))) <= {0, 1, 2, 3}
    dominant = gdal.Open(str(folder / "dominant_modality.tif")).ReadAsArray()
    assert ((dominant == 0) == ~classified).all()
    assert set(np.unique(dominant[classified])) <= {1, 2, 3, 4} and len(np.unique(dominant[classified])) >= 2
    cost = summary["contribution"]
    assert cost["passes"] == 3 and 0 < cost["seconds"] < cost["of_seconds"]
    from matplotlib.image import imread

    height, width = imread(folder / "preview.png").shape[:2]
    assert width > 1200 and height > 1200  # the 3 x 3 panels


def test_demo_refuses_missing_assets(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "MODEL", tmp_path / "absent.bdgf")
    with pytest.raises(SystemExit, match="demo assets missing: .*absent.bdgf.*make demo-assets"):
        demo.run(tmp_path / "out")
