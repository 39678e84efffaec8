"""training.evaluate: which pixels the evaluation stage predicts, and metrics on a test-pixel sample."""
from types import SimpleNamespace

import numpy as np

from training import evaluate
from training.evaluate import evaluation_pixels, fill_strided


def _prep(h=40, w=50):
    rng = np.random.default_rng(0)
    valid = np.ones((h, w), bool)
    valid[:, :5] = False
    test = np.where(rng.random((h, w)) < 0.8, rng.integers(0, 3, (h, w)), -1)
    classes = [SimpleNamespace(value=v, name=f"c{v}") for v in (1, 2, 3)]
    return SimpleNamespace(valid=valid, test=test, classes=classes)


def test_every_test_pixel_is_evaluated_by_default():
    prep = _prep()
    flat, tested = evaluation_pixels(prep, stride=1)
    assert np.array_equal(tested, prep.test >= 0)
    assert np.array_equal(np.sort(flat), np.flatnonzero(prep.valid.ravel()))


def test_a_capped_sample_of_test_pixels_and_a_strided_map():
    prep = _prep()
    flat, tested = evaluation_pixels(prep, stride=3, max_test=300, seed=4)
    assert tested.sum() == 300 and not (tested & (prep.test < 0)).any()
    predicted = np.zeros(prep.valid.size, bool)
    predicted[flat] = True
    predicted = predicted.reshape(prep.valid.shape)
    assert (predicted[tested & prep.valid]).all()  # every sampled test pixel is predicted
    assert predicted.sum() < 0.5 * prep.valid.sum()  # the rest only on the stride grid
    assert np.array_equal(evaluation_pixels(prep, 3, 300, 4)[1], tested)  # seeded
    pred_map = np.where(predicted, prep.test.clip(0), -1).astype(np.int16)  # perfect where predicted
    metrics = evaluate.test_metrics(prep, pred_map, tested)
    assert metrics["test_pixels_evaluated"] == 300
    assert metrics["test_pixels_total"] == int((prep.test >= 0).sum())
    sampled_valid = int((tested & prep.valid).sum())
    assert metrics["oa_classified"] == 1.0 and metrics["coverage"] == sampled_valid / 300
    filled = fill_strided(pred_map, prep.valid, 3)
    assert (filled[prep.valid] >= 0).mean() > 0.9 and (filled[~prep.valid] == -1).all()


def test_each_branch_is_scored_alone_as_the_fused_map_is():
    """branch_oa: the OA of each branch's softmax on the test pixels, by test_metrics' rule (OA over the
    classified ones): a branch that is right everywhere scores 1, one that always says class 0 scores that
    class's share, a uniform-noise branch near chance."""
    prep = _prep()
    flat, tested = evaluation_pixels(prep, stride=1)
    truth = prep.test.ravel()[flat]
    n = len(flat)
    right = np.eye(3, dtype=np.float32)[truth.clip(0)]
    always_0 = np.tile(np.float32([0.8, 0.1, 0.1]), (n, 1))
    noise = np.random.default_rng(1).random((n, 3)).astype(np.float32)
    branch = np.stack([right, always_0, noise], axis=1)  # (N, 3 branches, 3 classes)
    scores = evaluate.branch_oa(prep, flat, branch, ["cnn", "mamba", "transformer"], tested)
    assert list(scores) == ["cnn", "mamba", "transformer"]
    scored = tested & prep.valid
    assert scores["cnn"] == 1.0
    assert scores["mamba"] == (prep.test[scored] == 0).mean()
    assert 0.2 < scores["transformer"] < 0.45
