"""engine.classify.writers: every output of a run written tile by tile and renamed together at the end (the
class raster, probabilities, the trust outputs with their bands, nodata and styles); nothing when the run
fails."""
from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal, osr

from engine.classify.writers import RunWriters, TileResult, product_layout
from engine.errors import BDGFError
from engine.raster.grid import Grid
from engine.settings import ClassifyOutputs

CARD = {"name": "tiny", "content_hash": "sha256:0",
        "classes": [{"value": 3, "name": "Trees", "color": "#1b7837"}, {"value": 8, "name": "Water",
                                                                         "color": "#2166ac"}],
        "modalities": [{"name": "hsi", "role": "spectral", "bands": 4}, {"name": "dsm", "role": "lidar",
                                                                          "bands": 1}],
        "network": {"classifier": {"branches": ["cnn", "mamba"]}}}


@pytest.fixture
def grid():
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    return Grid(3, 2, (500000.0, 2.0, 0.0, 5000000.0, 0.0, -2.0), srs.ExportToWkt())


def _tile() -> TileResult:
    """2 x 3 px: certain Trees, even, fairly sure Water | certain Water, even, invalid."""
    trees = np.array([[1.0, 0.5, 0.1], [0.0, 0.5, 0.3]], np.float32)
    probs = np.stack([trees, 1 - trees])
    valid = np.array([[True, True, True], [True, True, False]])
    # branch 0 = the fused probabilities; branch 1 certain of Water everywhere
    branches = np.stack([probs, np.stack([np.zeros_like(trees), np.ones_like(trees)])])
    contribution = np.array([[[0.6, 0.0, 0.1], [0.2, 0.0, 0.0]], [[0.1, 0.0, 0.3], [0.2, 0.0, 0.0]]],
                            np.float32)
    return TileResult(probs, valid, branches, contribution)


def _read(path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


def test_every_output_of_a_tile_with_its_values_bands_and_styles(tmp_path, grid):
    names = ("classes", "probabilities", "entropy", "agreement", "contribution", "dominant_modality")
    outputs = ClassifyOutputs(**{n: str(tmp_path / f"{n}.tif") for n in names})
    with RunWriters(outputs, grid, CARD) as writers:
        writers.write(0, 0, _tile())
        assert not (tmp_path / "classes.tif").exists()  # renamed only when the run ends
    np.testing.assert_array_equal(_read(tmp_path / "classes.tif"), [[3, 3, 8], [8, 3, 0]])  # ties: first
    entropy = _read(tmp_path / "entropy.tif")
    h = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)) / np.log(2)
    np.testing.assert_allclose(entropy, [[0.0, 1.0, h], [0.0, 1.0, -1.0]], atol=1e-6)
    np.testing.assert_allclose(_read(tmp_path / "agreement.tif"), [[0.5, 0.5, 1.0], [1.0, 0.5, -1.0]])
    contribution = gdal.Open(str(tmp_path / "contribution.tif"))
    assert [contribution.GetRasterBand(i + 1).GetDescription() for i in range(2)] == ["hsi", "dsm"]
    np.testing.assert_allclose(contribution.ReadAsArray()[:, 1, 2], [-1.0, -1.0])  # nodata where invalid
    # dominant: 1 = hsi, 2 = dsm, 3 = none (every contribution 0); ties go to the first modality
    np.testing.assert_array_equal(_read(tmp_path / "dominant_modality.tif"), [[1, 3, 2], [1, 3, 0]])
    assert "singlebandpseudocolor" in (tmp_path / "entropy.qml").read_text(encoding="utf-8")
    dominant_qml = (tmp_path / "dominant_modality.qml").read_text(encoding="utf-8")
    assert 'type="paletted"' in dominant_qml and 'label="dsm"' in dominant_qml
    assert gdal.Open(str(tmp_path / "entropy.tif")).GetMetadata()["bdgf_model"] == "tiny"
    assert not [f for f in os.listdir(tmp_path) if ".partial-" in f]
    assert product_layout("probabilities", CARD) == (["Trees", "Water"], None, None)
    assert product_layout("contribution", CARD)[0] == ["hsi", "dsm"]


def test_a_failed_run_writes_nothing_and_keeps_the_earlier_map(tmp_path, grid):
    outputs = ClassifyOutputs(str(tmp_path / "classes.tif"), entropy=str(tmp_path / "entropy.tif"))
    with RunWriters(outputs, grid, CARD) as writers:
        writers.write(0, 0, _tile())
    earlier = sorted(os.listdir(tmp_path))
    both = ClassifyOutputs(outputs.classes, disagreement=str(tmp_path / "disagreement.tif"))
    with pytest.raises(BDGFError, match="branch probabilities of a tile were not computed"):
        with RunWriters(both, grid, CARD) as writers:
            tile = _tile()
            tile.branch_probs = None
            writers.write(0, 0, tile)
    assert sorted(os.listdir(tmp_path)) == earlier
    np.testing.assert_array_equal(_read(tmp_path / "classes.tif"), [[3, 3, 8], [8, 3, 0]])
