"""Classifying without an auxiliary layer (engine/model/missing_modality.py; README, "Trust outputs").

With the package of `training.run --preset quick` (modality dropout on, its card gives the test metrics
without sar and without dsm): a run without the SAR layer gives, on the fixture's test labels, the OA the
card states for it; both backends give the same map; a copy of the same package whose card lacks the
figure, the spectral layer missing, or two auxiliary layers missing, are refused before any output."""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest
from osgeo import gdal

from engine.classify.run import classify
from engine.errors import InputMismatchError
from engine.model.package import DENSE_MEMBERS, ONNX_MEMBERS, ModelPackage, write_package
from engine.settings import ClassifyOutputs, ClassifySettings

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

slow = pytest.mark.slow


def _read(path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


def _test_metrics(classes_path, test_path, card):
    """accuracy.metrics on the written class raster and the fixture's test labels (engine.raster.labels)."""
    from engine.accuracy.metrics import compute_metrics, confusion_matrix
    from engine.raster.labels import read_labels
    from engine.raster.read import reference_grid

    reference = read_labels(test_path, reference_grid(str(classes_path)))
    predicted = _read(classes_path)
    values = [c["value"] for c in card["classes"]]
    unclassified = int(((reference > 0) & ~np.isin(predicted, values)).sum())
    return compute_metrics(confusion_matrix(reference, predicted, values), values, unclassified)


@pytest.fixture(scope="module")
def trained(engine_trained_run) -> str:
    return str(engine_trained_run / "model.bdgf")


@pytest.fixture(scope="module")
def runs(trained, fixture_scene, tmp_path_factory) -> dict:
    """{"full": result, "onnx" / "torch": result of the run without SAR} (tile 16, as training's test)."""
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("missing")
    package = ModelPackage(trained)
    out = {"full": classify({k: fixture_scene[k] for k in ("hsi", "sar", "dsm")}, package,
                            str(folder / "full.tif"), ClassifySettings(device="cpu", tile_size_px=16))}
    for backend in ("onnx", "torch"):
        outputs = ClassifyOutputs(str(folder / f"nosar_{backend}.tif"),
                                  contribution=str(folder / f"contribution_{backend}.tif"))
        out[backend] = classify({"hsi": fixture_scene["hsi"], "dsm": fixture_scene["dsm"]}, package, outputs,
                                ClassifySettings(device="cpu", backend=backend, tile_size_px=16))
    return out


@pytest.fixture(scope="module")
def without_figure(trained, tmp_path_factory) -> str:
    """The trained package with the same graphs and weights, its card without metrics.missing_modality."""
    package = ModelPackage(trained)
    card = copy.deepcopy(package.card)
    del card["metrics"]["missing_modality"]
    card.pop("content_hash")
    graphs = {m: package.onnx(m) for m in ONNX_MEMBERS + (DENSE_MEMBERS if package.has_dense else ())}
    path = tmp_path_factory.mktemp("no_figure") / "no_figure.bdgf"
    write_package(path, card, graphs, package.tensors())
    return str(path)


# ---------------------------------------------------------------- the run without SAR

@slow
def test_without_sar_the_test_oa_is_the_one_the_card_states(runs, trained, fixture_scene):
    card = ModelPackage(trained).card
    figure = card["metrics"]["missing_modality"]["sar"]
    result = runs["onnx"]
    assert result.missing_modalities == {"sar": figure}
    oa_text = f"{100 * figure['oa']:.1f} %"
    line = f"sar missing: the model card gives test OA {oa_text} without it instead of " \
           f"{100 * card['metrics']['oa']:.1f} % with every layer"
    assert line in result.warnings
    metrics = _test_metrics(result.outputs.classes, fixture_scene["test"], card)
    print(f"without sar: OA {metrics.oa:.4f} on {metrics.n} test pixels; card {figure['oa']:.4f} "
          f"({figure['test_pixels']} pixels); every layer: card {card['metrics']['oa']:.4f}")
    assert abs(metrics.oa - figure["oa"]) <= 0.02, (metrics.oa, figure)
    # the valid mask comes from the layers given: the SAR layer's NaN strip is classified now
    full, nosar = _read(runs["full"].outputs.classes), _read(result.outputs.classes)
    assert runs["full"].missing_modalities == {}
    assert result.pixels_classified > runs["full"].pixels_classified
    assert (nosar[full > 0] > 0).all()
    sar_nodata = ~np.isfinite(_read(fixture_scene["sar"])).all(0)
    assert sar_nodata.any() and (nosar[sar_nodata & (full == 0)] > 0).any()


@slow
def test_both_backends_give_the_same_map_without_sar(runs):
    onnx, torch_ = (_read(runs[b].outputs.classes) for b in ("onnx", "torch"))
    assert (onnx > 0).sum() == runs["onnx"].pixels_classified
    assert np.array_equal(onnx, torch_)


@slow
def test_the_missing_modality_contributes_nothing_and_is_not_recomputed(runs):
    contribution = _read(runs["onnx"].outputs.contribution)  # (hsi, sar, dsm)
    assert contribution.shape[0] == 3
    valid = _read(runs["onnx"].outputs.classes) > 0
    assert (contribution[1][valid] == 0).all()  # sar: already at the fill
    assert contribution[0][valid].max() > 0
    ds = gdal.Open(runs["onnx"].outputs.contribution)
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == ["hsi", "sar", "dsm"]


@slow
def test_the_command_line_runs_without_a_named_layer_and_prints_the_figure(trained, fixture_scene, tmp_path,
                                                                          capsys):
    from engine.__main__ import main

    out = tmp_path / "nosar.tif"
    code = main(["classify", "--spectral", fixture_scene["hsi"], "--aux", f"dsm={fixture_scene['dsm']}",
                 "--model", trained, "--out", str(out), "--device", "cpu", "--tile", "16"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "sar missing: the model card gives test OA" in captured.out
    assert "Warning: sar missing" in captured.err
    # positional --aux in card order: the last one may be left out the same way
    code = main(["classify", "--spectral", fixture_scene["hsi"], "--aux", fixture_scene["sar"], "--model",
                 trained, "--out", str(tmp_path / "nodsm.tif"), "--device", "cpu"])
    assert code == 0 and "dsm missing: the model card gives test OA" in capsys.readouterr().out
    # named and positional mixed: one clear line
    code = main(["classify", "--spectral", fixture_scene["hsi"], "--aux", f"dsm={fixture_scene['dsm']}",
                 "--aux", fixture_scene["sar"], "--model", trained, "--out", str(tmp_path / "x.tif")])
    err = capsys.readouterr().err
    assert code == 2 and "--aux: name every auxiliary layer" in err and "Traceback" not in err
    assert not (tmp_path / "x.tif").exists()


@slow
def test_info_lists_the_layers_the_model_can_run_without(trained, without_figure, capsys):
    from engine.__main__ import main

    card = ModelPackage(trained).card
    figures = card["metrics"]["missing_modality"]
    assert main(["info", trained]) == 0
    assert (f"Can run without: sar (test OA {100 * figures['sar']['oa']:.1f} %), dsm (test OA "
            f"{100 * figures['dsm']['oa']:.1f} %); one at a time") in capsys.readouterr().out
    assert main(["info", without_figure]) == 0
    assert "Can run without: no layer" in capsys.readouterr().out


# ---------------------------------------------------------------- refused before any work

def _refused(inputs, model, folder) -> str:
    folder.mkdir(exist_ok=True)
    outputs = ClassifyOutputs(str(folder / "classes.tif"), entropy=str(folder / "entropy.tif"))
    with pytest.raises(InputMismatchError) as caught:
        classify(inputs, model, outputs, ClassifySettings(device="cpu"))
    assert os.listdir(folder) == []  # before any output file exists
    message = str(caught.value)
    del caught
    return message


@slow
def test_a_card_without_the_figure_is_refused_before_any_output(without_figure, fixture_scene, tmp_path):
    message = _refused({"hsi": fixture_scene["hsi"], "dsm": fixture_scene["dsm"]}, without_figure,
                       tmp_path / "out")
    for expected in ("sar (sar): expected 4 bands, found no layer (missing)",
                     "this model cannot run without sar: its card gives no test accuracy without it",
                     "Give the layer", "modality dropout", "--preset cpu",
                     "dsm (lidar): expected 1 band, found 1 band"):
        assert expected in message, expected


@slow
def test_the_spectral_layer_or_two_auxiliary_layers_missing_are_refused(trained, fixture_scene, tmp_path):
    message = _refused({"sar": fixture_scene["sar"], "dsm": fixture_scene["dsm"]}, trained, tmp_path / "a")
    assert "hsi (spectral): expected 24 bands, found no layer (missing): the spectral layer is always " \
           "needed" in message
    message = _refused({"hsi": fixture_scene["hsi"]}, trained, tmp_path / "b")
    assert "only one auxiliary layer may be left out, and dsm is missing too" in message
    assert "only one auxiliary layer may be left out, and sar is missing too" in message


def test_a_random_package_needs_every_layer(engine_model, fixture_scene, tmp_path):
    """A package written without training (no metrics at all) keeps the old rule."""
    message = _refused([fixture_scene["hsi"], fixture_scene["sar"]], engine_model, tmp_path / "out")
    assert "dsm (lidar): expected 1 band, found no layer (missing): this model cannot run without dsm" \
        in message


def test_only_figures_of_auxiliary_modalities_with_an_oa_count():
    from engine.model.card import format_card
    from engine.model.missing_modality import missing_figures, missing_layer_message, runs_without_line

    card = {"modalities": [{"name": "hsi"}, {"name": "sar"}, {"name": "dsm"}, {"name": "thermal"}],
            "metrics": {"oa": 0.96, "missing_modality": {
                "hsi": {"oa": 0.5}, "sar": {"oa": 0.912, "test_pixels": 10}, "dsm": {"oa": "high"},
                "thermal": {"oa": float("nan")}, "other": {"oa": 0.9}}}}
    assert missing_figures(card) == {"sar": {"oa": 0.912, "test_pixels": 10}}
    assert missing_layer_message(card, "sar") == ("sar missing: the model card gives test OA 91.2 % without "
                                                  "it instead of 96.0 % with every layer")
    assert runs_without_line(card) == "Can run without: sar (test OA 91.2 %); one at a time"
    del card["metrics"]["oa"]
    assert missing_layer_message(card, "sar").endswith("test OA 91.2 % without it")
    assert missing_figures({"modalities": card["modalities"], "metrics": {}}) == {}
    assert "Can run without: no layer" in format_card({"modalities": [], "metrics": {"missing_modality": 1}})


def test_the_fill_is_the_contributions_rule():
    from engine.model.missing_modality import fill_missing
    from engine.normalise import fill_modality

    x = np.arange(2 * 7 * 3 * 3, dtype=np.float32).reshape(2, 7, 3, 3) + 1
    filled = fill_missing(x.copy(), [4, 2, 1], [1])
    assert np.array_equal(filled, fill_modality(x, [4, 2, 1], 1))
    assert (filled[:, 4:6] == 0).all() and np.array_equal(filled[:, :4], x[:, :4])
    assert np.array_equal(filled[:, 6:], x[:, 6:])
    assert np.array_equal(fill_missing(x.copy(), [4, 2, 1], []), x)

