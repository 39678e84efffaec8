"""Split rules (per-class count / ratio, seeded, spatially disjoint blocks; explicit per-class counts;
purity-based sparse blobs) and vector labels."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from scipy import ndimage

from tests.training.test_config import scene_config, write_config
from training.config import ConfigError, load_config
from training.label_config import SplitConfig
from training.prepare import prepare
from training.splits import (
    block_ids,
    sample_sparse_labels,
    split_by_purity,
    split_features,
    split_labels,
    split_per_class,
    validation_split,
)


@pytest.fixture(scope="module")
def labels():
    rng = np.random.default_rng(5)
    lab = np.full((60, 80), -1, np.int16)
    lab[rng.random(lab.shape) < 0.6] = 0
    lab[:30, :40][rng.random((30, 40)) < 0.7] = 1
    lab[40:, 50:] = 2
    return lab


def _counts(a, n=3):
    return np.bincount(a[a >= 0], minlength=n)


def test_per_class_count_is_exact_and_seeded(labels):
    train, test = split_labels(labels, SplitConfig(per_class=15, seed=1), 3)
    assert _counts(train).tolist() == [15, 15, 15]
    assert ((train >= 0) & (test >= 0)).sum() == 0
    assert (_counts(train) + _counts(test) == _counts(labels)).all()
    again, _ = split_labels(labels, SplitConfig(per_class=15, seed=1), 3)
    other, _ = split_labels(labels, SplitConfig(per_class=15, seed=2), 3)
    assert (again == train).all() and (other != train).any()


def test_ratio_per_class(labels):
    train, _ = split_labels(labels, SplitConfig(ratio=0.1, seed=0), 3)
    expected = np.round(0.1 * _counts(labels)).astype(int)
    assert _counts(train).tolist() == expected.tolist()


@pytest.mark.parametrize("split", [SplitConfig(per_class=40, seed=3, block_size=8),
                                   SplitConfig(ratio=0.2, seed=3, block_size=10)])
def test_blocks_are_spatially_disjoint(labels, split):
    train, test = split_labels(labels, split, 3)
    ids = block_ids(labels.shape, split.block_size)
    assert not set(ids[train >= 0].tolist()) & set(ids[test >= 0].tolist())
    counts = _counts(train)
    assert (counts > 0).all() and (_counts(test) > 0).all()
    if split.per_class:
        assert (counts <= split.per_class).all()


def test_validation_split_is_stratified(labels):
    train, _ = split_labels(labels, SplitConfig(per_class=20, seed=0), 3)
    fit, val = validation_split(train, 0.25, seed=0, n_classes=3)
    assert np.bincount(train.ravel()[val], minlength=3).tolist() == [5, 5, 5]
    assert not set(fit) & set(val) and len(fit) + len(val) == 60


def test_split_per_class_draws_exact_counts_on_a_label_raster(labels):
    raster = (labels + 1).astype(np.uint8)  # raster encoding: 0 = unlabelled, 1..3
    n_have = np.bincount(raster.ravel(), minlength=4)[1:]
    train, test = split_per_class(raster, (10, 20, 10**6), seed=4)
    assert train.dtype == test.dtype == np.uint8
    assert np.bincount(train.ravel(), minlength=4)[1:].tolist() == [10, 20, int(n_have[2])]  # capped
    assert not ((train > 0) & (test > 0)).any() and np.array_equal(np.maximum(train, test), raster)
    again, _ = split_per_class(raster, (10, 20, 10**6), seed=4)
    other, _ = split_per_class(raster, (10, 20, 10**6), seed=5)
    assert np.array_equal(again, train) and not np.array_equal(other, train)


def test_config_rule_and_per_class_split_pick_the_same_pixels(labels):
    train, test = split_labels(labels, SplitConfig(per_class=15, seed=1), 3)
    r_train, r_test = split_per_class((labels + 1).astype(np.int32), (15, 15, 15), seed=1)
    assert np.array_equal(train, r_train.astype(labels.dtype) - 1)
    assert np.array_equal(test, r_test.astype(labels.dtype) - 1)


@pytest.fixture(scope="module")
def raster_and_purity():
    lab = np.zeros((60, 80), np.uint8)
    lab[:, :30], lab[:, 30:60], lab[:30, 60:] = 1, 2, 3  # rows 30.. of columns 60.. unlabelled
    purity = np.ones(lab.shape, np.float32)
    purity[:, 27:33] = 0.6  # a mixed strip along the 1 | 2 boundary
    return lab, purity


def test_split_by_purity_blobs_on_pure_pixels_and_a_guard_ring(raster_and_purity):
    lab, purity = raster_and_purity
    train, test = split_by_purity(lab, purity, np.random.default_rng(3), guard=2, per_class=40)
    assert not ((train > 0) & (purity < 0.999)).any()
    assert ((train == lab) | (train == 0)).all() and ((test == lab) | (test == 0)).all()
    assert not (ndimage.binary_dilation(train > 0, iterations=2) & (test > 0)).any()
    assert set(np.unique(train)) == set(np.unique(test)) == {0, 1, 2, 3}
    for k in (1, 2, 3):
        assert 40 <= (train == k).sum() <= 40 + 20  # the last blob (<= 21 px) may overshoot the target
    again, _ = split_by_purity(lab, purity, np.random.default_rng(3), guard=2, per_class=40)
    assert np.array_equal(again, train)


def test_sparse_labels_respect_the_share_cap(raster_and_purity):
    lab, purity = raster_and_purity
    train = sample_sparse_labels(lab, purity, np.random.default_rng(0), per_class=10**6, max_share=0.05)
    for k in (1, 2, 3):
        assert 0 < (train == k).sum() <= 0.05 * (lab == k).sum() + 20  # + at most one blob's overshoot


def _write_vector(path, scene, features, field="cls"):
    ds_r = gdal.Open(scene["hsi"])
    x0, dx, _, y0, _, dy = ds_r.GetGeoTransform()
    srs = osr.SpatialReference()
    srs.ImportFromWkt(ds_r.GetProjection())
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("samples", srs, ogr.wkbUnknown)
    layer.CreateField(ogr.FieldDefn(field, ogr.OFTInteger))
    for value, (r0, c0, r1, c1) in features:  # pixel boxes (rows/cols), r1 == r0 -> a point
        if r1 == r0:
            wkt = f"POINT ({x0 + (c0 + 0.5) * dx} {y0 + (r0 + 0.5) * dy})"
        else:
            xa, xb, ya, yb = x0 + c0 * dx, x0 + c1 * dx, y0 + r0 * dy, y0 + r1 * dy
            wkt = f"POLYGON (({xa} {ya}, {xb} {ya}, {xb} {yb}, {xa} {yb}, {xa} {ya}))"
        feat = ogr.Feature(layer.GetLayerDefn())
        feat.SetField(field, value)
        feat.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feat)
    ds = None


def test_vector_labels(fixture_scene, tmp_path):
    gt = gdal.Open(fixture_scene["labels"]).ReadAsArray()
    valid = prepare(load_config(fixture_scene["config"]), log=lambda m: None).valid
    boxes = []
    for value in (1, 2, 3):  # one 3x3 box of valid class pixels per class, plus a point elsewhere
        ok = (gt == value) & valid
        rows, cols = np.nonzero(ok)
        r, c = next((r, c) for r, c in zip(rows, cols) if ok[r:r + 3, c:c + 3].sum() == 9)
        boxes.append((value, (r, c, r + 3, c + 3)))
        pr, pc = next((a, b) for a, b in zip(rows[::-1], cols[::-1])
                      if not (r <= a < r + 3 and c <= b < c + 3))
        boxes.append((value, (pr, pc, pr, pc)))
    path = tmp_path / "samples.gpkg"
    _write_vector(path, fixture_scene, boxes)
    data = scene_config(fixture_scene)
    data["labels"] = {"vector": str(path), "field": "cls", "split": {"per_class": 4, "seed": 0}}
    data["classes"] = data["classes"][:3]
    prep = prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)
    assert [c.value for c in prep.classes] == [1, 2, 3]
    assert _counts(prep.train).tolist() == [4, 4, 4]
    assert (_counts(prep.train) + _counts(prep.test)).tolist() == [10, 10, 10]  # 9 box pixels + 1 point
    data["labels"]["field"] = "class_id"
    with pytest.raises(ConfigError, match=r"has no field 'class_id' \(fields: cls\)"):
        prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)


def test_split_features_keeps_every_feature_on_one_side():
    labels = np.full((20, 20), -1, np.int64)
    features = np.zeros((20, 20), np.int64)
    for i in range(8):  # 8 square features of 4 px, classes 0 and 1 alternating
        r, c = 2 * (i // 4) * 3, 3 * (i % 4)
        labels[r:r + 2, c:c + 2], features[r:r + 2, c:c + 2] = i % 2, i + 1
    for seed in range(5):
        train, test = split_features(labels, features, SplitConfig(ratio=0.5, seed=seed), 2)
        for f in range(1, 9):
            on_train, on_test = (train[features == f] >= 0), (test[features == f] >= 0)
            assert on_train.all() != on_test.all() and (on_train.all() or on_test.all())  # whole, one side
        assert (_counts(train, 2) == [8, 8]).all() and (_counts(test, 2) == [8, 8]).all()  # 2 of 4 features
    single = np.where(features == 1, 0, -1)  # a class with one feature: it trains, nothing to test
    train, test = split_features(single, features, SplitConfig(per_class=1), 1)
    assert (train[features == 1] == 0).all() and (test < 0).all()


def _feature_boxes(fixture_scene, per_class=3):
    """Non-overlapping 3x3 boxes of valid pixels of classes 1-3 in the fixture scene, `per_class` each."""
    gt = gdal.Open(fixture_scene["labels"]).ReadAsArray()
    valid = prepare(load_config(fixture_scene["config"]), log=lambda m: None).valid
    used = np.zeros(gt.shape, bool)
    boxes = []
    for value in (1, 2, 3):
        ok = (gt == value) & valid
        for r, c in zip(*np.nonzero(ok)):
            if sum(b[0] == value for b in boxes) == per_class:
                break
            if ok[r:r + 3, c:c + 3].sum() == 9 and not used[max(r - 1, 0):r + 4, max(c - 1, 0):c + 4].any():
                used[r:r + 3, c:c + 3] = True
                boxes.append((value, (r, c, r + 3, c + 3)))
    return boxes


def test_vector_labels_split_by_feature_test_labels_and_extra_labels(fixture_scene, tmp_path):
    boxes = _feature_boxes(fixture_scene)
    path = tmp_path / "polygons.gpkg"
    _write_vector(path, fixture_scene, boxes)
    data = scene_config(fixture_scene)
    data["classes"] = data["classes"][:3]
    split = {"ratio": 0.5, "seed": 1, "by": "feature"}
    data["labels"] = {"vector": str(path), "field": "cls", "split": split}
    prep = prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)
    for k in range(3):  # 3 polygons of 9 px per class: whole polygons on each side, never one on both
        assert _counts(prep.train)[k] in (9, 18) and _counts(prep.train)[k] + _counts(prep.test)[k] == 27
    # given test labels: the vector trains, the test vector tests, no split
    train_path, test_path = tmp_path / "train.gpkg", tmp_path / "test.gpkg"
    _write_vector(train_path, fixture_scene, [b for i, b in enumerate(boxes) if i % 3])
    _write_vector(test_path, fixture_scene, boxes[::3])
    data["labels"] = {"vector": str(train_path), "field": "cls", "test": str(test_path)}
    prep = prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)
    assert _counts(prep.test).tolist() == [9, 9, 9] and _counts(prep.train).tolist() == [18, 18, 18]
    # extra labels (labelled suggested points) join the training side only
    extra = tmp_path / "points.gpkg"
    _write_vector(extra, fixture_scene, [(v, (r, c, r, c)) for v, (r, c, _, _) in boxes[::3]],
                  field="label")
    data["labels"] = {"vector": str(path), "field": "cls", "split": split,
                      "extra": [{"vector": str(extra), "field": "label"}]}
    with_extra = prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)
    points = [(r, c) for _, (r, c, _, _) in boxes[::3]]
    assert all(with_extra.train[r, c] >= 0 and with_extra.test[r, c] < 0 for r, c in points)


def test_a_class_field_of_fractions_is_refused(fixture_scene, tmp_path):
    boxes = _feature_boxes(fixture_scene, per_class=1)
    path = tmp_path / "real.gpkg"
    _write_vector(path, fixture_scene, boxes)  # then the same polygons with a real-valued field
    src = ogr.Open(str(path), 1)
    layer = src.GetLayer(0)
    layer.CreateField(ogr.FieldDefn("cls_real", ogr.OFTReal))
    for i, feature in enumerate(layer):
        feature.SetField("cls_real", 1.5 if i == 1 else 2.0)
        layer.SetFeature(feature)
    src = None
    data = scene_config(fixture_scene)
    data["classes"] = data["classes"][:3]
    data["labels"] = {"vector": str(path), "field": "cls_real", "split": {"per_class": 2}}
    with pytest.raises(ConfigError, match=r"cls_real.*holds 1\.5, not a whole number"):
        prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)


def test_block_validation_never_shares_a_block_with_fitting_pixels():
    rng = np.random.default_rng(0)
    train = np.full((64, 64), -1, np.int64)
    for k in range(3):  # three classes, 40 scattered training pixels each
        rows, cols = rng.integers(0, 64, 40), rng.integers(0, 64, 40)
        train[rows, cols] = k
    fit, val = validation_split(train, 0.25, seed=3, n_classes=3, block_size=8)
    assert len(np.intersect1d(fit, val)) == 0
    assert len(fit) + len(val) == int((train >= 0).sum())
    blocks = block_ids(train.shape, 8).ravel()
    assert not set(blocks[fit]) & set(blocks[val])
    flat = train.ravel()
    assert set(flat[fit]) == {0, 1, 2}  # every class keeps fitting pixels
    assert 0.1 < len(val) / (len(fit) + len(val)) < 0.45
    again = validation_split(train, 0.25, seed=3, n_classes=3, block_size=8)
    assert np.array_equal(again[1], val)
    pixelwise = validation_split(train, 0.25, seed=3, n_classes=3)
    assert set(blocks[pixelwise[0]]) & set(blocks[pixelwise[1]])  # the old draw mixes blocks
