"""`python -m engine accuracy` in a subprocess: coverage, both OAs and the area table, raster or vector
reference, one-line user errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from engine.accuracy.area import area_accuracy, class_pixel_counts
from engine.accuracy.metrics import ConfusionMatrix
from tests.fixtures import reference_polygons

REPO = str(Path(__file__).resolve().parents[3])


def _engine(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "accuracy", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def holed_map(fixture_scene, tmp_path):
    """The scene's dense labels as a 'map' with every 5th row left unclassified (0)."""
    src = gdal.Open(fixture_scene["labels"])
    path = str(tmp_path / "map.tif")
    ds = gdal.GetDriverByName("GTiff").CreateCopy(path, src)
    data = ds.GetRasterBand(1).ReadAsArray()
    data[::5] = 0
    ds.GetRasterBand(1).WriteArray(data)
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds = None
    return path, data


def test_cli_accuracy_reports_coverage_and_area_estimates(fixture_scene, holed_map, tmp_path):
    path, class_map = holed_map
    reference = gdal.Open(fixture_scene["test"]).ReadAsArray()
    values = [c["value"] for c in fixture_scene["classes"]]
    proc = _engine("--map", path, "--reference", fixture_scene["test"], "--json", "--sampling", "stratified",
                   "--html", tmp_path / "report.html", "--csv", tmp_path / "report.csv")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    expected = ConfusionMatrix(values).update(reference, class_map).metrics()
    assert expected.unclassified > 0  # the holes hit reference pixels
    assert report["confusion_matrix"] == expected.matrix.tolist()
    assert report["unclassified"] == expected.unclassified
    assert report["coverage"] == pytest.approx(expected.n / (expected.n + expected.unclassified))
    assert report["oa_all_reference"] == pytest.approx(np.trace(expected.matrix) / report["n_reference"])
    assert report["oa_classified"] == report["oa"] == pytest.approx(expected.oa)
    area = report["area_adjusted"]
    assert area["sampling"] == "stratified random sample"
    assert area["unclassified_reference_pixels"] == expected.unclassified
    mapped = class_pixel_counts(class_map, values)
    assert [c["mapped_pixels"] for c in area["classes"]] == mapped
    assert mapped == [int((class_map == v).sum()) for v in values]
    engine = area_accuracy(expected.matrix, mapped, values, probability_sample=True)
    assert area["overall_accuracy"]["estimate"] == pytest.approx(engine.overall.value)
    assert [c["area_pixels"]["ci95_half_width"] for c in area["classes"]] == pytest.approx(
        [c.area_pixels.half_width for c in engine.classes])
    # the fixture is on 2 m pixels in EPSG:32632 (metres): 4 m² a pixel
    assert area["pixel_area_m2"] == 4 and "metres" in area["area_note"]
    assert area["classes"][0]["area_ha"]["estimate"] == pytest.approx(
        area["classes"][0]["area_pixels"]["estimate"] * 4 / 10_000)
    assert "Area-adjusted accuracy and area estimates" in (tmp_path / "report.html").read_text()
    assert "OA_ALL_REFERENCE" in (tmp_path / "report.csv").read_text()

    text = _engine("--map", path, "--reference", fixture_scene["test"])
    assert text.returncode == 0, text.stderr
    assert "Coverage " in text.stdout and "OA over all reference pixels (unclassified = wrong)" in text.stdout
    assert "not a probability sample — indicative only" in text.stdout


def test_cli_accuracy_vector_reference_and_user_errors(fixture_scene, holed_map, tmp_path):
    path, _ = holed_map
    vector = reference_polygons(fixture_scene["test"], tmp_path / "reference.gpkg")
    by_raster = json.loads(_engine("--map", path, "--reference", fixture_scene["test"], "--json").stdout)
    proc = _engine("--map", path, "--reference", vector, "--field", "class", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["confusion_matrix"] == by_raster["confusion_matrix"]
    missing_field = _engine("--map", path, "--reference", vector)
    assert missing_field.returncode == 2
    assert missing_field.stderr.strip() == (f"error: The reference {vector} is a vector layer: give its "
                                            "integer class field with --field (fields: class).")
    nothing = _engine("--map", path, "--reference", tmp_path / "absent.tif")
    assert nothing.returncode == 2 and "neither a raster nor a vector layer" in nothing.stderr
