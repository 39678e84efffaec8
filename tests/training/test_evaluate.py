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
