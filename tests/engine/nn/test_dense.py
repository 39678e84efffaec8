"""The dense classifiers (engine/nn/dense.py for network version 1, dense_window.py for 2, dense_block.py for
3) compute the patchwise classifier's probabilities for every pixel: every network version, each branch alone
and all three, ONNX Runtime and PyTorch, on the fixture scenes' real tiles
(nodata holes filled with 0, layers that end inside the scene, windows padded past the scene edge); the
fused probabilities and each branch's (the trust outputs' branch_probs graph output)."""
from __future__ import annotations

import gc

import numpy as np
import pytest

from engine.classify.run import _classify_tile, _plan
from engine.model.backends import make_backend
from engine.model.package import ModelPackage
from engine.model.pixel_probs import Profile
from engine.settings import ClassifyOutputs

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

BRANCH_SETS = (("cnn",), ("mamba",), ("transformer",), ("cnn", "mamba", "transformer"))
VERSIONS = (1, 2, 3)  # engine/nn/config.py NETWORK_VERSIONS
TILE = 16  # 12 tiles on the 48 x 64 scene: tile edges, scene edges, halos read past the scene
TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def _collect_gdal_objects():
    yield
    gc.collect()


@pytest.fixture(scope="module")
def packages(engine_model, fixture_scene, tmp_path_factory) -> dict:
    """One random-init quick package per (network version, branch set) (the current version with all
    three: the engines' shared fixture)."""
    from engine.nn.config import NETWORK_VERSION, BDGFConfig
    from tests.conftest import _fixture_normalization
    from training.export_model import build_random_package

    shared = ModelPackage(engine_model)
    assert shared.card["network"]["classifier"]["version"] == NETWORK_VERSION == 3
    out = {(NETWORK_VERSION, BRANCH_SETS[-1]): shared}
    card = shared.card
    folder = tmp_path_factory.mktemp("dense_models")
    for version in VERSIONS:
        for branches in BRANCH_SETS:
            if (version, branches) in out:
                continue
            net = BDGFConfig.quick([24, 4, 1], len(fixture_scene["classes"]))
            net.classifier.branches = list(branches)
            net.classifier.version = version
            path = folder / f"v{version}_{'_'.join(branches)}.bdgf"
            build_random_package(path, card["modalities"], card["classes"],
                                 _fixture_normalization(fixture_scene), network=net, tile_size=TILE, seed=1)
            out[(version, branches)] = ModelPackage(path)
    return out


def _both_paths(package: ModelPackage, scene: dict, backend: str, tmp_path):
    """(dense, patchwise) probabilities, validity and branch probabilities of every tile of the scene, same
    engine."""
    inputs = {"hsi": scene["hsi"], "sar": scene["sar"], "dsm": scene["dsm"]}
    plan = _plan(package, inputs, ClassifyOutputs(str(tmp_path / "unused.tif")), TILE)
    # what the tiles compute for an output that needs the branch probabilities (a run refuses a one-branch
    # model's disagreement before any work; the graphs give its branch probabilities all the same)
    outputs = ClassifyOutputs(str(tmp_path / "unused.tif"), agreement=str(tmp_path / "unused_agreement.tif"))
    engine = make_backend(package, backend, "cpu")
    assert engine.dense and engine.branches, "the package holds the dense graphs and the branch outputs"
    out = {}
    for dense in (True, False):
        engine.dense = dense
        prof, tiles = Profile(), []
        for t in plan.tiles():
            tile = _classify_tile(plan, t, engine, 29, prof, lambda fraction: None, outputs)
            tiles.append((tile.probs, tile.valid, tile.branch_probs))
        assert ("classifier maps" in prof) == dense  # the path asked for really ran
        out[dense] = tiles
    return out[True], out[False], plan


@pytest.mark.parametrize("backend", ["onnx", "torch"])
@pytest.mark.parametrize("branches", BRANCH_SETS, ids=lambda b: "+".join(b))
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_dense_equals_patchwise_on_every_pixel(packages, fixture_scene, fixture_scene_mixed, backend,
                                               branches, version, tmp_path):
    package = packages[(version, branches)]
    assert package.card["network"]["classifier"]["version"] == version
    for scene in (fixture_scene, fixture_scene_mixed):
        dense, patchwise, plan = _both_paths(package, scene, backend, tmp_path)
        holes = edge = 0
        for (pd, vd, bd), (pp, vp, bp), t in zip(dense, patchwise, plan.tiles()):
            assert np.array_equal(vd, vp)
            assert bd.shape == bp.shape == (len(branches), *pd.shape)
            if not vd.any():
                continue
            diff = np.abs(pd - pp)[:, vd].max()
            assert diff <= TOLERANCE, (scene["variant"], t.core, diff)
            # each branch's probabilities too, and the fused ones are their mean
            assert np.abs(bd - bp)[:, :, vd].max() <= TOLERANCE, (scene["variant"], t.core)
            assert np.abs(bd.mean(0) - pd)[:, vd].max() <= 1e-6
            assert np.allclose(bd.sum(1)[:, vd], 1.0, atol=1e-5)
            # the comparison has teeth: the map varies, and one pixel off it would fail
            assert np.abs(pp[:, vd] - pp[:, vd].mean(1, keepdims=True)).max() > 10 * TOLERANCE
            if vd.sum() > 1:
                shifted = np.roll(pp, 1, axis=2)[:, vd]
                assert np.abs(pd[:, vd] - shifted).max() > 10 * TOLERANCE
            holes += int((~vd).any())  # a nodata hole or the end of a layer inside this tile
            edge += int(t.row0 < 0 or t.col0 < 0)  # the window reaches past the scene
        assert holes and edge, (scene["variant"], holes, edge)


def test_a_package_written_before_network_versions_runs_as_version_1(packages, fixture_scene, tmp_path):
    """Cards written before versions have no classifier.version: the PyTorch backend builds version 1 from
    them (a version 2 build would not even load the weights) and agrees with the package's ONNX graphs."""
    import copy

    from engine.model.package import DENSE_MEMBERS, ONNX_MEMBERS, write_package
    from engine.nn.config import BDGFConfig

    v1 = packages[(1, BRANCH_SETS[-1])]
    card = copy.deepcopy({k: v for k, v in v1.card.items() if k != "content_hash"})
    del card["network"]["classifier"]["version"]
    path = tmp_path / "before_versions.bdgf"
    graphs = {m: v1.onnx(m) for m in (*ONNX_MEMBERS, *DENSE_MEMBERS)}
    write_package(path, card, graphs, v1.tensors(strip=False))
    old = ModelPackage(path)
    assert "version" not in old.card["network"]["classifier"]
    assert BDGFConfig.from_dict(old.card["network"]).classifier.version == 1
    probs = {}
    for backend in ("onnx", "torch"):
        dense, _, _ = _both_paths(old, fixture_scene, backend, tmp_path)
        probs[backend] = np.concatenate([p[:, v] for p, v, _ in dense], axis=1)
    assert probs["onnx"].shape[1] > 100
    assert np.abs(probs["onnx"] - probs["torch"]).max() <= TOLERANCE
