"""engine.normalise: the one input transform (robust scaling to [-1, 1], clipped to [-3, 3], optional PCA,
input scale folded in) and the neutral fill of invalid pixels and of a modality that is not there."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BDGFError
from engine.normalise import NEUTRAL_FILL, Normaliser, fill_modality

CARD = {"modalities": [{"name": "hsi", "bands": 2}, {"name": "dsm", "bands": 1}],
        "normalization": {"low": [[0.0, 10.0], [0.0]], "high": [[1.0, 30.0], [50.0]]}, "pca": None}


def test_fill_modality_as_a_copy_and_in_place():
    x = np.arange(1 * 6 * 2 * 2, dtype=np.float32).reshape(1, 6, 2, 2) + 1
    before = x.copy()
    copy = fill_modality(x, [3, 2, 1], 1)
    assert copy is not x and np.array_equal(x, before)  # a copy: x untouched
    assert (copy[:, 3:5] == NEUTRAL_FILL).all() and np.array_equal(copy[:, :3], x[:, :3])
    assert np.array_equal(copy[:, 5:], x[:, 5:])
    same = fill_modality(x, [3, 2, 1], 0, out=x)
    assert same is x and (x[:, :3] == NEUTRAL_FILL).all() and np.array_equal(x[:, 3:], before[:, 3:])


def test_apply_scales_clips_and_fills_invalid_pixels():
    norm = Normaliser.from_card(CARD)
    hsi = np.array([[[0.0, 0.5, 1.0, 5.0]], [[10.0, 20.0, 30.0, 20.0]]], np.float32)  # (2, 1, 4)
    dsm = np.array([[[25.0, -100.0, 50.0, 0.0]]], np.float32)
    valid = np.array([[True, True, True, False]])
    out = norm.apply([hsi, dsm], valid)
    assert out.shape == (1, 3, 1, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 0, :3], [[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [0.0, -3.0, 1.0]])
    assert (out[0, :, 0, 3] == NEUTRAL_FILL).all()  # an invalid pixel: every channel at the fill
    scaled = norm.with_input_scale([0.001, 1.0])  # the hsi layer stores reflectance x 1000
    stored = np.array([[[0.0, 500.0, 1000.0, 0.0]], [[10_000.0, 20_000.0, 30_000.0, 0.0]]], np.float32)
    again = scaled.apply([stored, np.array([[[25.0, -100.0, 50.0, 0.0]]], np.float32)], valid)
    np.testing.assert_allclose(again, out, atol=1e-6)


def test_pca_projects_the_spectral_bands_and_an_unreadable_pca_is_refused():
    card = {**CARD, "pca": {"mean": [0.0, 0.0], "matrix": [[1.0, 1.0]]}}  # one component: the band sum
    norm = Normaliser.from_card(card)
    assert norm.channels == [1, 1]
    hsi = np.array([[[0.0, 1.0]], [[10.0, 30.0]]], np.float32)
    out = norm.apply([hsi, np.array([[[25.0, 25.0]]], np.float32)], np.ones((1, 2), bool))
    np.testing.assert_allclose(out[0, :, 0], [[-2.0, 2.0], [0.0, 0.0]])
    with pytest.raises(BDGFError, match="'pca' entry has no projection matrix"):
        Normaliser.from_card({**CARD, "pca": {"mean": [0.0, 0.0]}})
