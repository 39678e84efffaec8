"""Trust outputs of `engine classify` (README, "Trust outputs"): entropy, branch disagreement and agreement,
modality contribution and the dominant modality, on the fixture scene with the random-init quick package.

The reference values come from another path: the torch modules rebuilt from the package's weights, the
diffusion features of the whole scene in one window (not the engine's tiles) and the patchwise classifier
(not the dense graphs), with numpy computing the measures from the branch softmaxes."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from osgeo import gdal

from engine.classify.run import classify
from engine.errors import BDGFError
from engine.model.package import ModelPackage
from engine.settings import ClassifyOutputs, ClassifySettings

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SCALAR = ("entropy", "disagreement", "agreement")
TRUST = (*SCALAR, "contribution", "dominant_modality")
PIXELS = 40  # reference pixels (torch, patchwise)


def _inputs(scene) -> dict:
    return {"hsi": scene["hsi"], "sar": scene["sar"], "dsm": scene["dsm"]}


def _read(path) -> np.ndarray:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray()


@pytest.fixture(scope="module")
def runs(engine_model, fixture_scene, tmp_path_factory) -> dict:
    """{backend: (ClassifyResult, {output: array})} of one run with every trust output, and the class map
    of a plain run ("plain <backend>")."""
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("trust")
    out = {}
    for backend in ("onnx", "torch"):
        paths = {key: str(folder / f"{key}_{backend}.tif") for key in TRUST}
        outputs = ClassifyOutputs(str(folder / f"classes_{backend}.tif"), **paths)
        result = classify(_inputs(fixture_scene), ModelPackage(engine_model), outputs,
                          ClassifySettings(device="cpu", backend=backend, tile_size_px=32))
        arrays = {key: _read(path) for key, path in paths.items()}
        arrays["classes"] = _read(outputs.classes)
        out[backend] = (result, arrays)
        plain = str(folder / f"plain_{backend}.tif")
        classify(_inputs(fixture_scene), ModelPackage(engine_model), plain,
                 ClassifySettings(device="cpu", backend=backend, tile_size_px=32))
        out[f"plain {backend}"] = _read(plain)
    return out


# ---------------------------------------------------------------- the independent reference

@pytest.fixture(scope="module")
def reference(engine_model, fixture_scene, runs) -> dict:
    """Fused and branch probabilities at PIXELS valid pixels, plain and with each modality filled with 0,
    through the torch modules: features of the whole scene (one window, the tiles' halo around it, the same
    position-keyed noise), patchwise classifier."""
    import torch

    from engine.classify.run import _plan
    from engine.nn.bdgf import BDGFClassifier
    from engine.nn.config import BDGFConfig
    from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
    from engine.noise import position_noise
    from engine.raster.read import read_window

    package = ModelPackage(engine_model)
    card = package.card
    plan = _plan(package, _inputs(fixture_scene), None, 32)
    halo, h, w = plan.halo, plan.grid.height, plan.grid.width
    arrays, valid = [], None
    for ds in plan.sources:
        data, ok = read_window(ds, -halo, -halo, h + 2 * halo, w + 2 * halo, pad=True, fill=0.0)
        arrays.append(data)
        valid = ok if valid is None else valid & ok
    x = plan.norm.apply(arrays, valid)
    noise = position_noise(card["diffusion"]["noise_seed"], -halo, -halo, h + 2 * halo, w + 2 * halo,
                           x.shape[1], len(card["diffusion"]["timesteps"]))
    cfg = BDGFConfig.from_dict(card["network"])

    def load(module, prefix):
        state = {k: torch.from_numpy(np.array(v)) for k, v in package.tensors(prefix).items()}
        module.load_state_dict(state, strict=True)
        return module.eval()

    extractor = DiffusionFeatureExtractor(load(MultimodalDDPM(cfg), "ddpm."), card["diffusion"]["timesteps"])
    classifier = load(BDGFClassifier(cfg), "classifier.")
    classes = runs["onnx"][1]["classes"]
    rows, cols = np.nonzero(classes > 0)
    pick = np.random.default_rng(0).choice(len(rows), PIXELS, replace=False)
    rows, cols = rows[pick], cols[pick]
    r = plan.patch // 2

    def probs(x_in):
        with torch.no_grad():
            feats = extractor(torch.from_numpy(x_in), torch.from_numpy(noise)).numpy()
            xp = np.stack([x_in[0, :, y + halo - r:y + halo + r + 1, c + halo - r:c + halo + r + 1]
                           for y, c in zip(rows, cols)])
            dp = np.stack([feats[0, :, y + halo - r:y + halo + r + 1, c + halo - r:c + halo + r + 1]
                           for y, c in zip(rows, cols)])
            fused, branches = classifier.forward_branches(torch.from_numpy(xp), torch.from_numpy(dp))
        return fused.numpy(), branches.numpy()

    fused, branches = probs(x)
    filled = []
    start = 0
    for n in plan.norm.channels:
        x_m = x.copy()
        x_m[:, start:start + n] = 0.0
        filled.append(probs(x_m)[0])
        start += n
    return {"rows": rows, "cols": cols, "fused": fused, "branches": branches, "filled": filled}


def _entropy(p, axis=-1):
    p = np.asarray(p, np.float64)
    return -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(axis)


# ---------------------------------------------------------------- tests

def test_trust_outputs_are_bounded_nodata_where_the_map_is_and_styled(runs, engine_model):
    result, arrays = runs["onnx"]
    classes = arrays["classes"]
    valid = classes > 0
    assert valid.any() and (~valid).any()  # the fixture has nodata holes
    card = ModelPackage(engine_model).card
    for key in (*SCALAR, "contribution"):
        band = arrays[key]
        values = band[..., valid]
        assert values.min() >= 0.0 and values.max() <= 1.0, key
        assert (band[..., ~valid] == -1).all(), key
        path = getattr(result.outputs, key)
        ds = gdal.Open(path)
        assert ds.GetRasterBand(1).GetNoDataValue() == -1
        assert "singlebandpseudocolor" in open(os.path.splitext(path)[0] + ".qml").read()
        assert ds.GetMetadata()["bdgf_measure"]
    assert arrays["contribution"].shape == (3, *classes.shape)
    ds = gdal.Open(result.outputs.contribution)
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == ["hsi", "sar", "dsm"]
    ds = gdal.Open(result.outputs.disagreement)  # kept: a band outlives no dataset in GDAL 3.6
    assert ds.GetRasterBand(1).GetDescription() == "branch disagreement"
    # the measures vary (random weights: uncertain everywhere, but not uniformly)
    assert np.ptp(arrays["entropy"][valid]) > 0.01 and np.ptp(arrays["disagreement"][valid]) > 0.01
    # agreement: k of the 3 branches
    assert set(np.unique(np.rint(arrays["agreement"][valid] * 3))) <= {0, 1, 2, 3}
    # dominant modality: a paletted raster, 0 exactly where the class map is nodata
    dominant = arrays["dominant_modality"]
    assert ((dominant == 0) == ~valid).all() and set(np.unique(dominant[valid])) <= {1, 2, 3, 4}
    contribution = arrays["contribution"]
    top = np.where(contribution.max(0) > 0, contribution.argmax(0) + 1, 4)
    assert (dominant[valid] == top[valid]).all()
    from engine.raster.write import read_classes

    named = [c["name"] for c in read_classes(result.outputs.dominant_modality)]
    assert named[:3] == [m["name"] for m in card["modalities"]] and named[3].startswith("none")
    assert "paletted" in open(os.path.splitext(result.outputs.dominant_modality)[0] + ".qml").read()


def test_class_map_is_bitwise_the_same_with_trust_outputs(runs):
    for backend in ("onnx", "torch"):
        assert np.array_equal(runs[backend][1]["classes"], runs[f"plain {backend}"])
    # the two backends' trust outputs agree (ORT graphs against the torch modules)
    onnx, torch_ = runs["onnx"][1], runs["torch"][1]
    valid = onnx["classes"] > 0
    for key in (*SCALAR, "contribution"):
        assert np.abs(onnx[key] - torch_[key])[..., valid].max() < 1e-3, key


def test_uncertainty_equals_the_measures_of_the_branch_probabilities(runs, reference):
    arrays = runs["onnx"][1]
    rows, cols = reference["rows"], reference["cols"]
    fused, branches = reference["fused"], reference["branches"]  # (n, K), (n, 3, K)
    assert np.abs(branches.mean(1) - fused).max() < 1e-6
    k, m = fused.shape[1], branches.shape[1]
    entropy = _entropy(fused) / math.log(k)
    jsd = (_entropy(branches.mean(1)) - _entropy(branches).mean(1)) / math.log(min(m, k))
    agreement = (branches.argmax(2) == fused.argmax(1)[:, None]).mean(1)
    assert np.abs(arrays["entropy"][rows, cols] - entropy).max() < 1e-3
    assert np.abs(arrays["disagreement"][rows, cols] - jsd).max() < 1e-3
    assert np.array_equal(arrays["classes"][rows, cols] - 1, fused.argmax(1))
    assert np.allclose(arrays["agreement"][rows, cols], agreement)
    # monotone: ordering the pixels by the reference JSD orders the raster's values the same way
    order = np.argsort(jsd)
    steps = np.diff(arrays["disagreement"][rows, cols][order])
    assert (steps >= -1e-3).all()


def test_disagreement_is_higher_where_the_branches_disagree(runs):
    arrays = runs["onnx"][1]
    valid = arrays["classes"] > 0
    # most branches agree with the map's class / at most one of three does; random-init branches rarely all
    # agree (network version 2's on 16 of the 2,816 pixels, version 3's on 3), so the groups are split at
    # the majority; both must hold enough pixels for their means to be compared
    agree = valid & (arrays["agreement"] > 0.5)
    split = valid & (arrays["agreement"] < 0.5)
    assert agree.sum() >= 10 and split.sum() >= 10
    assert arrays["disagreement"][split].mean() > arrays["disagreement"][agree].mean()
    assert arrays["entropy"][split].mean() > arrays["entropy"][agree].mean()
    # where every branch is sure of a different class JSD reaches 1; identical branches give 0
    from engine.trust.uncertainty import branch_agreement, branch_disagreement, normalised_entropy

    eye = np.eye(3, dtype=np.float32)[:, :, None]  # 3 branches, each certain of its own class
    assert branch_disagreement(eye)[0] == pytest.approx(1.0)
    same = np.repeat(np.full((1, 3, 1), 1 / 3, np.float32), 3, 0)
    assert branch_disagreement(same)[0] == pytest.approx(0.0, abs=1e-7)
    assert normalised_entropy(same[0])[0] == pytest.approx(1.0)
    assert branch_agreement(eye, np.array([0]))[0] == pytest.approx(1 / 3)


def test_contribution_is_the_drop_of_the_predicted_class_probability(runs, reference):
    arrays = runs["onnx"][1]
    rows, cols = reference["rows"], reference["cols"]
    predicted = reference["fused"].argmax(1)
    at = np.arange(len(rows))
    for m, filled in enumerate(reference["filled"]):
        drop = np.maximum(reference["fused"][at, predicted] - filled[at, predicted], 0.0)
        assert np.abs(arrays["contribution"][m, rows, cols] - drop).max() < 1e-3, m
    assert (arrays["contribution"][:, arrays["classes"] > 0] >= 0).all()
    assert arrays["contribution"].max() > 0.01  # some modality holds some pixel's class


def test_contribution_time_is_measured_and_reported(runs, engine_model, fixture_scene, tmp_path, capsys):
    result = runs["onnx"][0]
    assert result.profile["modality contribution"] > 0
    assert result.profile["modality contribution"] < result.seconds
    from engine.__main__ import main

    code = main(["classify", "--spectral", fixture_scene["hsi"], "--aux", fixture_scene["sar"], "--aux",
                 fixture_scene["dsm"], "--model", engine_model, "--out", str(tmp_path / "c.tif"),
                 "--device", "cpu", "--dominant-modality", str(tmp_path / "d.tif")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "modality contribution: +" in printed and "px/s without it" in printed
    assert sorted(os.listdir(tmp_path)) == ["c.qml", "c.tif", "c.tif.aux.xml", "d.qml", "d.tif",
                                            "d.tif.aux.xml"]


# ---------------------------------------------------------------- packages without the branch output

@pytest.fixture(scope="module")
def old_model(engine_model, tmp_path_factory) -> str:
    """The engine model's weights with classifier graphs as exported before the branch output."""
    from training.export_model import add_branch_outputs

    path = tmp_path_factory.mktemp("old_model") / "old.bdgf"
    add_branch_outputs(engine_model, path, branches=False)
    return str(path)


def test_old_package_classifies_as_before_and_refuses_branch_outputs_before_any_work(
        old_model, engine_model, fixture_scene, runs, tmp_path):
    from engine.model.card import format_card

    old = ModelPackage(old_model)
    assert not old.has_branch_probs and old.card["capabilities"] == []
    assert ModelPackage(engine_model).has_branch_probs
    assert "no   branch disagreement" in format_card(old.card)
    assert "--add-branch-outputs" in format_card(old.card)
    for backend in ("onnx", "torch"):
        for key in ("disagreement", "agreement"):
            folder = tmp_path / f"{backend}_{key}"
            folder.mkdir()
            outputs = ClassifyOutputs(str(folder / "classes.tif"), entropy=str(folder / "entropy.tif"),
                                      **{key: str(folder / f"{key}.tif")})
            settings = ClassifySettings(device="cpu", backend=backend)
            with pytest.raises(BDGFError) as caught:
                classify(_inputs(fixture_scene), old, outputs, settings)
            message = str(caught.value)
            for expected in ("branch_probs", "(batch, 3, 6)", "python -m training.export_model "
                             f"--add-branch-outputs {old_model}", "found: only the fused 'probs'",
                             "Nothing was written"):
                assert expected in message, expected
            assert os.listdir(folder) == []
    # the class map, entropy and contribution as the package with the branch output gives them
    out = tmp_path / "old"
    out.mkdir()
    outputs = ClassifyOutputs(str(out / "classes.tif"), entropy=str(out / "entropy.tif"),
                              contribution=str(out / "contribution.tif"))
    classify(_inputs(fixture_scene), old, outputs, ClassifySettings(device="cpu", tile_size_px=32))
    new = runs["onnx"][1]
    assert np.array_equal(_read(outputs.classes), new["classes"])
    assert np.array_equal(_read(outputs.entropy), new["entropy"])
    assert np.array_equal(_read(outputs.contribution), new["contribution"])


def test_the_upgrade_command_adds_the_branch_output(old_model, tmp_path, capsys):
    from training.export_model import main

    upgraded = tmp_path / "upgraded.bdgf"
    assert main(["--add-branch-outputs", old_model, "--out", str(upgraded)]) == 0
    assert "branch probabilities output added" in capsys.readouterr().out
    package = ModelPackage(upgraded)
    assert package.has_branch_probs and package.has_dense
    assert package.card["capabilities"] == ["branch_probabilities"]


def test_requests_are_checked_against_the_card():
    from engine.model.card import check_request

    card = {"classes": [{}] * 4, "capabilities": ["branch_probabilities"],
            "network": {"classifier": {"branches": ["cnn"]}}}
    with pytest.raises(BDGFError, match="one \\(cnn\\)"):
        check_request(ClassifyOutputs("c.tif", agreement="a.tif"), card, "m.bdgf")
    check_request(ClassifyOutputs("c.tif", entropy="e.tif", contribution="k.tif"), card, "m.bdgf")
    with pytest.raises(BDGFError, match="same file"):
        ClassifyOutputs("c.tif", entropy="c.tif")


def test_a_trust_output_over_an_input_is_refused(engine_model, fixture_scene, tmp_path):
    with pytest.raises(BDGFError, match="entropy output .* is the hsi input layer"):
        classify(_inputs(fixture_scene), engine_model,
                 ClassifyOutputs(str(tmp_path / "c.tif"), entropy=fixture_scene["hsi"]),
                 ClassifySettings(device="cpu"))
    assert os.listdir(tmp_path) == []


def test_the_card_records_only_what_the_graphs_give(engine_model, old_model):
    from engine.errors import ModelPackageError
    from engine.model.package import DENSE_MEMBERS, ONNX_MEMBERS, check_graphs

    new, old = ModelPackage(engine_model), ModelPackage(old_model)
    graphs = {m: old.onnx(m) for m in (*ONNX_MEMBERS, *DENSE_MEMBERS)}
    with pytest.raises(ModelPackageError, match="card claims 'branch_probabilities'"):
        check_graphs(new.card, graphs, "test")
    mixed = {**graphs, "classifier.onnx": new.onnx("classifier")}
    with pytest.raises(ModelPackageError, match="every classifier graph or none"):
        check_graphs(old.card, mixed, "test")
