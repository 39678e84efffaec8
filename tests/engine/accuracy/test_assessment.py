"""engine.accuracy.assessment: one assessment of a small map computed by hand (coverage, both OAs, the
area-adjusted OA and areas with the map classes as strata) and its JSON, CSV and HTML files."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from osgeo import osr

from engine.accuracy.assessment import assess, class_values
from engine.raster.grid import Grid

CLASSES = [{"value": 1, "name": "Trees", "color": "#1b7837"}, {"value": 2, "name": "Water", "color": None}]
REFERENCE = np.array([[1, 1, 2, 2], [1, 2, 2, 0], [1, 1, 2, 2]])  # 0: no reference label
CLASS_MAP = np.array([[1, 2, 2, 2], [1, 2, 0, 1], [1, 1, 2, 0]])  # 0: unclassified


@pytest.fixture
def assessment():
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    grid = Grid(4, 3, (500000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), srs.ExportToWkt())  # 100 m² pixels
    return assess(REFERENCE, CLASS_MAP, CLASSES, grid, probability_sample=False)


def test_scores_and_areas_by_hand(assessment):
    # 11 reference pixels, 2 of them unclassified; of the 9 classified, 8 right (one Trees mapped as Water)
    scores = assessment.scores()
    assert scores["COVERAGE"] == pytest.approx(9 / 11) and scores["OA_CLASSIFIED"] == pytest.approx(8 / 9)
    assert scores["OA"] == scores["OA_CLASSIFIED"] and scores["OA_ALL_REFERENCE"] == pytest.approx(8 / 11)
    assert scores["AA"] == pytest.approx((4 / 5 + 4 / 4) / 2)  # producer's accuracies of Trees and Water
    # strata: 5 mapped pixels each (weights 0.5); users' accuracy Trees 4/4, Water 4/5
    assert scores["OA_AREA_ADJUSTED"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.8)
    area = assessment.to_dict()["area_adjusted"]
    assert area["mapped_pixels_total"] == 10 and area["pixel_area_m2"] == 100.0
    trees, water = area["classes"]
    assert trees["area_proportion"]["estimate"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.2)
    assert trees["area_ha"]["estimate"] == pytest.approx(0.6 * 10 * 100 / 10_000)
    assert water["area_pixels"]["estimate"] == pytest.approx(4.0)
    assert assessment.names == ["Trees", "Water"] and assessment.colours[0] == "#1b7837"
    assert assessment.colours[1].startswith("#")  # a class without a colour gets the unstyled grey
    assert class_values(np.array([[0, 7], [3, 0]]), np.array([[5, 3]])) == [3, 5, 7]


def test_json_csv_and_html_files(assessment, tmp_path):
    assessment.write_json(tmp_path / "a.json")
    data = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert data["oa_classified"] == pytest.approx(8 / 9) and data["unclassified"] == 2
    assert data["area_adjusted"]["overall_accuracy"]["estimate"] == pytest.approx(0.9)
    assessment.write_csv(tmp_path / "a.csv")
    with open(tmp_path / "a.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["class", "value", "reference_pixels"] and rows[1][:3] == ["Trees", "1", "5"]
    assert ["reference \\ predicted", "Trees", "Water", "total"] in rows
    assert ["OA_ALL_REFERENCE", "0.727273"] in rows and ["UNCLASSIFIED_REFERENCE_PIXELS", "2"] in rows
    assert next(r for r in rows if r and r[0] == "OA_AREA_ADJUSTED")[1] == "0.900000"
    assessment.write_html(tmp_path / "a.html", title="Accuracy of map.tif", notes=["Reference: test.tif"])
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert "Accuracy of map.tif" in html and "Reference: test.tif" in html and "Water" in html
