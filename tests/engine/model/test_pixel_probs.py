"""engine.model.pixel_probs: the patches and the dense classifier's gather index hold each pixel's P x P
patch; a tile's probabilities are the same through the dense classifier (in strips) and the patchwise one,
and only the valid pixels get any."""
from __future__ import annotations

import numpy as np

from engine.model.backends import make_backend
from engine.model.card import branch_names
from engine.model.pixel_probs import Profile, patch_batches, patch_index, pixel_probs
from tests.engine.model import test_backends
from tests.engine.model.test_backends import _inputs

package = test_backends.package  # fixture


def test_patch_batches_and_patch_index_gather_each_pixels_patch():
    rng = np.random.default_rng(0)
    x, feats = rng.standard_normal((1, 4, 12, 13)), rng.standard_normal((1, 6, 12, 13))
    rows, cols = np.array([2, 2, 5, 9, 9, 6, 3]), np.array([2, 10, 6, 2, 10, 7, 4])  # patch centres
    batches = list(patch_batches(x, feats, rows, cols, patch=5, batch=3))
    assert [sl for _, _, sl in batches] == [slice(0, 3), slice(3, 6), slice(6, 7)]
    for xp, dp, sl in batches:
        assert xp.shape == (sl.stop - sl.start, 4, 5, 5) and dp.shape == (sl.stop - sl.start, 6, 5, 5)
        for j, (r, c) in enumerate(zip(rows[sl], cols[sl])):
            np.testing.assert_array_equal(xp[j], x[0, :, r - 2:r + 3, c - 2:c + 3])
            np.testing.assert_array_equal(dp[j], feats[0, :, r - 2:r + 3, c - 2:c + 3])
    window = np.arange(12 * 13).reshape(12, 13)
    index = patch_index(rows, cols, 13, 5)
    assert index.shape == (7, 25) and index.dtype == np.int64
    for j, (r, c) in enumerate(zip(rows, cols)):  # row-major positions of the patch in the flat window
        np.testing.assert_array_equal(window.ravel()[index[j]], window[r - 2:r + 3, c - 2:c + 3].ravel())


def test_dense_in_strips_equals_patchwise_and_leaves_invalid_pixels_at_zero(package):
    card = package.card
    patch, k, m = card["patch_size"], len(card["classes"]), len(branch_names(card))
    r = patch // 2
    x, _, _, dp = _inputs(package, h=16 + 2 * r, w=18 + 2 * r)
    feats = np.random.default_rng(1).standard_normal((1, dp.shape[1], *x.shape[2:])).astype(np.float32)
    rows, cols = slice(r, r + 16), slice(r, r + 18)  # the core; the window adds the patch radius
    valid = np.random.default_rng(2).random((16, 18)) > 0.3
    rr, cc = np.nonzero(valid)
    backend = make_backend(package, "onnx", "cpu")
    assert backend.dense and backend.branches
    out = {}
    for dense in (True, False):
        backend.dense = dense
        prof, fractions = Profile(), []
        strip_px = (18 + 2 * r) * (patch + 2 * r)  # windows of P core rows: several strips
        out[dense] = pixel_probs(x, feats, rows, cols, rr, cc, backend, 64, patch, k, m, prof,
                                 fractions.append, branches=True, strip_px=strip_px)
        assert ("classifier maps" in prof) == dense and ("classifier" in prof) != dense
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        if dense:
            assert len(fractions) >= 2  # more than one strip
    (pd, bd), (pp, bp) = out[True], out[False]
    assert pd.shape == (k, 16, 18) and bd.shape == (m, k, 16, 18)
    assert np.abs(pd - pp).max() <= 1e-4 and np.abs(bd - bp).max() <= 1e-4
    assert (pd[:, ~valid] == 0).all() and (bd[:, :, ~valid] == 0).all()
    np.testing.assert_allclose(pd[:, valid].sum(0), 1.0, atol=1e-5)
    assert np.abs(pd[:, valid] - pd[:, valid].mean(1, keepdims=True)).max() > 1e-3  # not a constant map


def test_strips_in_flight_give_the_one_at_a_time_probabilities_and_stop_on_cancel(package):
    """ONNX Runtime on a multi-core CPU computes several dense strips at once (backend.workers): the same
    probabilities bit for bit as one strip at a time, progress still rising to 1, and an exception from
    `on_batch` (a cancel) ends the run there."""
    card = package.card
    patch, k, m = card["patch_size"], len(card["classes"]), len(branch_names(card))
    r = patch // 2
    x, _, _, dp = _inputs(package, h=20 + 2 * r, w=18 + 2 * r)
    feats = np.random.default_rng(3).standard_normal((1, dp.shape[1], *x.shape[2:])).astype(np.float32)
    rows, cols = slice(r, r + 20), slice(r, r + 18)
    rr, cc = np.nonzero(np.random.default_rng(4).random((20, 18)) > 0.2)
    backend = make_backend(package, "onnx", "cpu")
    strip_px = (18 + 2 * r) * (patch + 2 * r)
    out = {}
    for workers in (1, 3):
        backend.workers = workers
        prof, fractions = Profile(), []
        out[workers] = pixel_probs(x, feats, rows, cols, rr, cc, backend, 16, patch, k, m, prof,
                                   fractions.append, branches=True, strip_px=strip_px)
        assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 3
        assert prof["classifier maps"] > 0 and prof["classifier pixels"] > 0
    for a, b in zip(out[1], out[3]):
        np.testing.assert_array_equal(a, b)

    class Stop(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Stop

    backend.workers = 2
    try:
        pixel_probs(x, feats, rows, cols, rr, cc, backend, 16, patch, k, m, Profile(), cancel, branches=False,
                    strip_px=strip_px)
    except Stop:
        pass
    else:
        raise AssertionError("the cancel did not stop the run")


def test_strip_workers_share_the_threads():
    from engine.model.backends import MAX_STRIP_WORKERS, strip_workers

    assert strip_workers(1) == (1, 1)
    assert strip_workers(2) == (2, 1)
    assert strip_workers(16) == (MAX_STRIP_WORKERS, 16 // MAX_STRIP_WORKERS)
    assert strip_workers(0) == (1, 1)
