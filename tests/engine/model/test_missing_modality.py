"""engine.model.missing_modality: which layer a run may leave out (refusal), the warnings and figures of
the layers left out, and their channels filled in place. (The figures the card gives, their messages and
the fill's equality with the contribution's rule: tests/engine/test_missing_layers.py.)"""
from __future__ import annotations

import numpy as np

from engine.model.missing_modality import fill_missing, left_out, left_out_figures, refusal

CARD = {"modalities": [{"name": "hsi"}, {"name": "sar"}, {"name": "dsm"}],
        "metrics": {"oa": 0.9, "missing_modality": {"sar": {"oa": 0.8, "test_pixels": 50}}}}


def test_refusal_says_why_a_layer_may_not_be_left_out():
    assert "the spectral layer is always needed" in refusal(CARD, 0)
    assert refusal(CARD, 1) is None  # the card gives sar's figure
    no_figure = refusal(CARD, 2)
    assert no_figure.startswith("this model cannot run without dsm: its card gives no test accuracy")
    assert "trained with modality dropout" in no_figure
    two = refusal(CARD, 1, others_missing=["dsm"])
    assert "only one auxiliary layer may be left out, and dsm is missing too" in two


def test_the_layers_left_out_give_their_warnings_and_figures():
    indices, warnings = left_out(CARD, [False, True, False])
    assert indices == [1]
    assert warnings == ["sar missing: the model card gives test OA 80.0 % without it instead of 90.0 % with "
                        "every layer"]
    assert left_out_figures(CARD, indices) == {"sar": {"oa": 0.8, "test_pixels": 50}}
    assert left_out(CARD, [False, False, False]) == ([], [])


def test_fill_missing_writes_the_neutral_fill_into_the_input_itself():
    x = np.arange(1 * 6 * 2 * 2, dtype=np.float32).reshape(1, 6, 2, 2) + 1
    before = x.copy()
    out = fill_missing(x, [3, 2, 1], [2])
    assert out is x  # in place: the tile's own input
    assert (x[:, 5] == 0).all() and np.array_equal(x[:, :5], before[:, :5])
