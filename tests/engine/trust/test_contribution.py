"""engine.trust.contribution: the drop of the predicted class's probability with each modality at the
neutral fill (clipped at 0, 0 outside the valid pixels, skipped for an absent modality); the dominant
modality and its paletted categories."""
from __future__ import annotations

import numpy as np

from engine.palette import default_colour
from engine.trust.contribution import (
    NONE,
    category_indices,
    dominant_modality,
    modality_classes,
    modality_contribution,
)

CHANNELS = [2, 1]  # modality 0: channels 0-1, modality 1: channel 2


def sig(v):
    return 1 / (1 + np.exp(-v))


def _probs(x: np.ndarray) -> np.ndarray:
    """A two-class 'classifier' of each pixel: p(class 0) = sigmoid(sum of its channels)."""
    p0 = sig(x[0].sum(0))
    return np.stack([p0, 1 - p0])


def test_contribution_is_the_clipped_drop_of_the_predicted_class():
    x = np.zeros((1, 3, 1, 2), np.float32)
    x[0, :, 0, 0] = [1.0, 1.0, -0.5]  # pixel 0: class 0 (sum 1.5); removing the spectral lowers it
    x[0, :, 0, 1] = [-2.0, 0.0, 3.0]  # pixel 1: class 0 (sum 1.0), held by modality 1
    before = x.copy()
    calls = []

    def without(filled, m):
        calls.append(m)
        assert (filled[0, [0, 1] if m == 0 else [2]] == 0).all()  # the modality at the neutral fill
        return _probs(filled)

    probs = _probs(x)
    out = modality_contribution(x, probs, np.array([[True, True]]), CHANNELS, without)
    assert out.shape == (2, 1, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 0], [sig(1.5) - sig(-0.5), 0.0], atol=1e-6)  # filling dsm raises p
    np.testing.assert_allclose(out[:, 0, 1], [0.0, sig(1.0) - sig(-2.0)], atol=1e-6)
    assert np.array_equal(x, before) and calls == [0, 1]  # x is never filled in place
    skipped = modality_contribution(x, probs, np.array([[True, False]]), CHANNELS, without, absent=[1])
    assert calls == [0, 1, 0]  # the absent modality's pass is skipped
    np.testing.assert_allclose(skipped[:, 0], [[sig(1.5) - sig(-0.5), 0.0], [0.0, 0.0]], atol=1e-6)


def test_dominant_modality_and_its_categories():
    contribution = np.array([[[0.3, 0.0, 0.2]], [[0.1, 0.0, 0.2]], [[0.0, 0.0, 0.1]]], np.float32)
    dominant = dominant_modality(contribution)
    np.testing.assert_array_equal(dominant, [[0, NONE, 0]])  # ties: the first in card order
    np.testing.assert_array_equal(category_indices(dominant, 3), [[0, 3, 0]])
    classes = modality_classes([{"name": "hsi"}, {"name": "sar"}, {"name": "dsm"}])
    assert [(c["value"], c["name"]) for c in classes[:3]] == [(1, "hsi"), (2, "sar"), (3, "dsm")]
    assert [c["color"] for c in classes[:3]] == [default_colour(i) for i in range(3)]
    assert classes[3]["value"] == 4 and classes[3]["name"].startswith("none")


def test_contribution_ratio_is_the_added_time_over_the_classification_without_it():
    from engine.trust.contribution import contribution_ratio

    # the demo's run: 1.5 s of a 2.5 s run went to the contribution -> 1.5 s on top of 1.0 s
    assert abs(contribution_ratio(1.5, 2.5) - 1.5) < 1e-12
    assert abs(contribution_ratio(31.8, 46.2) - 31.8 / 14.4) < 1e-12
