"""Where to label next (trust/suggest.py): points spread out, balanced across the map's classes, the most
uncertain of each class, deterministic; written as a GeoPackage that training reads back as vector labels."""
from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from engine.errors import BDGFError
from engine.raster.grid import Grid
from engine.raster.write import write_class_raster
from engine.trust.suggest import SuggestSettings, suggest_and_write, suggest_samples

H, W = 60, 80
CLASSES = [{"value": v, "name": n, "color": c} for v, n, c in
           ((1, "Trees", "#1b7837"), (2, "Grass", "#a6d96a"), (3, "Roof", "#d73027"), (4, "Road", "#404040"),
            (7, "Rare", "#2166ac"))]


@pytest.fixture(autouse=True)
def _collect_gdal_objects():
    yield
    gc.collect()


def _grid() -> Grid:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    return Grid(W, H, (500000.0, 2.0, 0.0, 5300000.0, 0.0, -2.0), srs.ExportToWkt())


def _uncertainty_raster(path, values: np.ndarray, description: str = "entropy",
                        grid: Grid | None = None) -> str:
    grid = grid or _grid()
    ds = gdal.GetDriverByName("GTiff").Create(str(path), grid.width, grid.height, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(-1)
    band.SetDescription(description)
    band.WriteArray(values.astype(np.float32))
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    """Four classes in blocks, a rare class of two distant pixels, an unclassified stripe, an uncertainty
    hole, uncertainty quantised to 0.05 (many equal values)."""
    folder = tmp_path_factory.mktemp("suggest")
    classes = np.zeros((H, W), np.uint8)
    classes[:30, :40], classes[:30, 40:], classes[30:, :40], classes[30:, 40:] = 1, 2, 3, 4
    classes[:, 55:58] = 0  # unclassified
    classes[5, 5] = classes[50, 70] = 7
    rows, cols = np.indices((H, W))
    noise = np.random.default_rng(0).random((H, W))
    field = 0.5 + 0.25 * np.sin(rows / 5.0) * np.cos(cols / 7.0) + 0.2 * noise
    uncertainty = np.round(np.clip(field, 0, 1) / 0.05) * 0.05
    uncertainty[10:20, 10:20] = -1  # nodata in the uncertainty raster only
    class_path = write_class_raster(folder / "classes.tif", _grid(), CLASSES, classes)
    return {"classes": class_path, "uncertainty": _uncertainty_raster(folder / "entropy.tif", uncertainty),
            "class_array": classes, "uncertainty_array": uncertainty, "dir": folder}


def _check_properties(suggestion, scene, settings: SuggestSettings) -> None:
    points = suggestion.points
    classes, uncertainty = scene["class_array"], scene["uncertainty_array"]
    rc = np.array([(p.row, p.col) for p in points])
    # inside valid pixels, with the map's class and the raster's uncertainty
    for p in points:
        assert classes[p.row, p.col] == p.value != 0
        assert uncertainty[p.row, p.col] != -1 and p.uncertainty == pytest.approx(uncertainty[p.row, p.col])
    # spread out
    d2 = ((rc[:, None] - rc[None]) ** 2).sum(-1) + np.eye(len(rc), dtype=int) * 10**9
    assert d2.min() >= settings.min_distance_px ** 2
    # balanced across the classes that did not run out
    counts = suggestion.per_class
    assert sum(counts.values()) == len(points) <= settings.count
    # the most uncertain of each class: a more uncertain pixel of the class left out lies within the minimum
    # distance of a chosen point (that is why it was skipped)
    valid = (classes > 0) & (uncertainty != -1)
    for value in counts:
        chosen = rc[[p.value == value for p in points]]
        if not len(chosen):
            continue
        lowest = min(p.uncertainty for p in points if p.value == value)
        rows, cols = np.nonzero(valid & (classes == value) & (uncertainty > lowest + 1e-6))
        for r, c in zip(rows, cols):
            if (r, c) in {tuple(x) for x in chosen}:
                continue
            assert (((rc - (r, c)) ** 2).sum(1) < settings.min_distance_px ** 2).any(), (value, r, c)


def test_points_are_spread_balanced_and_the_most_uncertain_of_their_class(scene):
    settings = SuggestSettings(count=50, min_distance_px=6, seed=0)
    suggestion = suggest_samples(scene["classes"], scene["uncertainty"], settings)
    assert len(suggestion.points) == 50 and not suggestion.warnings
    _check_properties(suggestion, scene, settings)
    assert suggestion.per_class[7] == 2  # the rare class gives what it has
    big = [suggestion.per_class[v] for v in (1, 2, 3, 4)]
    assert max(big) - min(big) <= 1 and sum(big) == 48
    assert {p.name for p in suggestion.points if p.value == 7} == {"Rare"}
    assert [p.rank for p in suggestion.points] == list(range(1, 51))
    # deterministic; the seed orders equal values and the classes' turns
    again = suggest_samples(scene["classes"], scene["uncertainty"], settings)
    assert again.points == suggestion.points
    other = suggest_samples(scene["classes"], scene["uncertainty"], SuggestSettings(50, 6, seed=1))
    _check_properties(other, scene, SuggestSettings(50, 6, seed=1))


def test_counts_stay_balanced_for_any_count(scene):
    for count in (1, 7, 13):
        settings = SuggestSettings(count=count, min_distance_px=3, seed=2)
        suggestion = suggest_samples(scene["classes"], scene["uncertainty"], settings)
        assert len(suggestion.points) == count
        counts = [suggestion.per_class[v] for v in suggestion.per_class]
        assert max(counts) - min(counts) <= 1
        _check_properties(suggestion, scene, settings)


def test_small_candidate_pools_give_the_same_points(scene, monkeypatch):
    """Each class keeps only its best candidates while reading; when the spacing uses them up it reads
    again with more: the points are those of unbounded pools."""
    import engine.trust.suggest as suggest

    settings = SuggestSettings(count=40, min_distance_px=9, seed=3)
    full = suggest_samples(scene["classes"], scene["uncertainty"], settings)
    monkeypatch.setattr(suggest, "POOL_MIN", 2)
    monkeypatch.setattr(suggest, "STRIP_PIXELS", 7 * W)  # several strips
    assert suggest_samples(scene["classes"], scene["uncertainty"], settings).points == full.points


def test_fewer_points_when_the_spacing_leaves_no_room(scene):
    settings = SuggestSettings(count=500, min_distance_px=20)
    suggestion = suggest_samples(scene["classes"], scene["uncertainty"], settings)
    assert 2 < len(suggestion.points) < 500
    assert "Lower the minimum distance" in suggestion.warnings[0]
    _check_properties(suggestion, scene, settings)


def test_equal_uncertainty_is_ordered_by_the_seed(scene, tmp_path):
    flat = _uncertainty_raster(tmp_path / "flat.tif", np.full((H, W), 0.5))
    picks = [[(p.row, p.col) for p in suggest_samples(scene["classes"], flat,
                                                      SuggestSettings(10, 4, seed)).points]
             for seed in (0, 0, 1)]
    assert picks[0] == picks[1] != picks[2]


def test_the_point_layer_is_ready_to_label(scene, tmp_path):
    out = tmp_path / "to_label.gpkg"
    suggestion = suggest_and_write(scene["classes"], scene["uncertainty"], str(out),
                                   SuggestSettings(count=20))
    assert sorted(os.listdir(tmp_path)) == ["to_label.gpkg"]  # no temporary file left
    source = ogr.Open(str(out))
    layer = source.GetLayerByName("suggested_samples")
    defn = layer.GetLayerDefn()
    assert [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())] == [
        "rank", "class_value", "class_name", "uncertainty", "row", "col", "label"]
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32632"
    assert layer.GetFeatureCount() == 20
    gt = _grid().geotransform
    for feature, point in zip(layer, suggestion.points):
        x, y = feature.GetGeometryRef().GetX(), feature.GetGeometryRef().GetY()
        assert (x, y) == (gt[0] + (point.col + 0.5) * gt[1], gt[3] + (point.row + 0.5) * gt[5])
        assert feature["class_value"] == point.value and feature["class_name"] == point.name
        assert feature.IsFieldNull("label")


def test_bad_inputs_are_refused_before_anything_is_written(scene, tmp_path):
    out = str(tmp_path / "points.gpkg")
    agreement = _uncertainty_raster(tmp_path / "agreement.tif", np.ones((H, W)), "branch agreement")
    confidence = _uncertainty_raster(tmp_path / "confidence.tif", np.ones((H, W)), "confidence")
    cases = {
        "branch agreement": (scene["classes"], agreement, out),
        "is the confidence.*the most certain pixels": (scene["classes"], confidence, out),
        "same grid": (scene["classes"], _uncertainty_raster(
            tmp_path / "shifted.tif", np.ones((H, W)), grid=Grid(W, H, (500002.0, 2.0, 0, 5300000.0, 0, -2.0),
                                                                 _grid().crs_wkt)), out),
        "ending in .gpkg": (scene["classes"], scene["uncertainty"], str(tmp_path / "points.shp")),
        "class map.*would destroy": (scene["classes"], scene["uncertainty"], scene["classes"]),
        "band 2 was asked": (scene["classes"], scene["uncertainty"], out),
    }
    for expected, (classes, uncertainty, target) in cases.items():
        band = 2 if expected.startswith("band") else 1
        with pytest.raises(BDGFError, match=expected):
            suggest_and_write(classes, uncertainty, target, SuggestSettings(band=band))
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "points.shp")
    with pytest.raises(BDGFError, match="minimum distance"):
        SuggestSettings(min_distance_px=-1)
    with pytest.raises(BDGFError, match="count"):
        SuggestSettings(count=0)


# ---------------------------------------------------------------- back into training

def test_labelled_points_are_burnt_into_the_training_labels(fixture_scene, tmp_path):
    """The labelling loop: suggested points, labelled in their `label` field, are vector labels of a training
    config ([labels] vector + field = "label"): prepare() burns each labelled point into its pixel and leaves
    the unlabelled ones out."""
    from training.config import load_config
    from training.label_config import LabelsConfig, SplitConfig
    from training.prepare import prepare

    truth = gdal.Open(fixture_scene["labels"]).ReadAsArray()
    ds = gdal.Open(fixture_scene["hsi"])
    grid = Grid(ds.RasterXSize, ds.RasterYSize, ds.GetGeoTransform(), ds.GetProjection())
    ds = None
    uncertainty = _uncertainty_raster(tmp_path / "entropy.tif",
                                      np.random.default_rng(1).random(truth.shape), grid=grid)
    points = tmp_path / "to_label.gpkg"
    suggestion = suggest_and_write(fixture_scene["labels"], uncertainty, str(points),
                                   SuggestSettings(count=60, min_distance_px=3))
    source = ogr.Open(str(points), 1)
    layer = source.GetLayer(0)
    labelled = {}
    for i, feature in enumerate(layer):
        if i % 5 == 4:  # the interpreter skipped these
            continue
        value = int(truth[feature["row"], feature["col"]])
        feature.SetField("label", value)
        layer.SetFeature(feature)
        labelled[(feature["row"], feature["col"])] = value
    source = None
    assert len(labelled) == 48 == len(suggestion.points) * 4 // 5

    cfg = load_config(fixture_scene["config"])
    split = SplitConfig(per_class=10**6)
    cfg.labels = LabelsConfig("vector", vector=Path(points), field="label", split=split)
    prep = prepare(cfg, log=lambda *args: None)
    r0, c0, _, _ = prep.window
    index = {c.value: k for k, c in enumerate(prep.classes)}
    labels = np.where(prep.train >= 0, prep.train, prep.test)  # the split keeps a test pixel per class
    assert not ((prep.train >= 0) & (prep.test >= 0)).any()
    burnt = {(int(r) + r0, int(c) + c0): int(labels[r, c]) for r, c in zip(*np.nonzero(labels >= 0))}
    expected = {rc: index[v] for rc, v in labelled.items() if prep.valid[rc[0] - r0, rc[1] - c0]}
    assert burnt == expected and len(expected) > 30


