"""bench.contribution_grid: its resampling on hand-made fields, and its exact contribution on the bundled
demo against the raster the engine writes (an independent computation of the same rule)."""
import numpy as np

from bench.contribution_grid import DEMO, contribution, measure, upsample
from bench.stamp import REPO


def test_upsampling_keeps_the_samples_and_a_linear_field():
    h, w = 7, 9
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    field = (2 * yy + 3 * xx)[None]
    for stride in (2, 3):
        sub = field[:, ::stride, ::stride]
        for mode in ("nearest", "bilinear"):
            back = upsample(sub, stride, (h, w), mode)
            assert back.shape == (1, h, w)
            np.testing.assert_allclose(back[:, ::stride, ::stride], sub)
        # bilinear reproduces a linear field between samples (past the last sample it holds the edge)
        inner = (h - 1) // stride * stride + 1, (w - 1) // stride * stride + 1
        np.testing.assert_allclose(upsample(sub, stride, (h, w), "bilinear")[:, :inner[0], :inner[1]],
                                   field[:, :inner[0], :inner[1]])
    nearest = upsample(field[:, ::2, ::2], 2, (h, w), "nearest")
    assert nearest[0, 1, 1] == field[0, 0, 0] and nearest[0, 3, 2] == field[0, 2, 2]


def test_contribution_is_the_clipped_drop_of_the_mapped_class():
    full = np.array([[0.7, 0.2], [0.3, 0.8]])[:, None, :]  # 2 classes, 2 pixels: classes 0 and 1
    filled = [np.array([[0.4, 0.5], [0.6, 0.5]])[:, None, :]]
    out = contribution(full, filled, np.array([[True, True]]))
    np.testing.assert_allclose(out[0, 0], [0.3, 0.3])
    raised = [np.array([[0.9, 0.0], [0.1, 1.0]])[:, None, :]]  # filling raises both: 0, never negative
    assert not contribution(full, raised, np.array([[True, True]])).any()


def test_on_the_demo_it_computes_what_the_engine_writes():
    result = measure(REPO / "resources" / "models" / "demo.bdgf",
                     [DEMO / n for n in ("hsi.tif", "sar.tif", "dsm.tif")])
    assert result["valid_pixels"] > 10_000 and 0 < result["mean_contribution"] < 1
    assert result["engine_max_abs_difference"] <= 1e-5
    for row in result["rows"]:
        assert 0 < row["mae"] < 1 and 0 < row["dominant_same"] <= 1  # measured, not exact
