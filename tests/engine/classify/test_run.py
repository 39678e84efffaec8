"""engine.classify.run end to end on the small fixture scene: outputs, tiling invariance, backends, errors,
cancelling; the windows of batch blocks. (Layers against the card: test_inputs.py.)"""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest
from osgeo import gdal

from engine.classify.run import classify
from engine.errors import BDGFError, Cancelled, InputMismatchError, ModelPackageError
from engine.model.package import ModelPackage
from engine.settings import ClassifyOutputs, ClassifySettings
from tests.engine.batch.test_run import DEMO, DEMO_MODEL

_RUNS: dict = {}


def _inputs(scene) -> dict:
    return {"hsi": scene["hsi"], "sar": scene["sar"], "dsm": scene["dsm"]}


def _classify(inputs, model, out, *, probabilities=None, confidence=None, bands=None, progress=None,
              device="cpu", **settings):
    return classify(inputs, model, ClassifyOutputs(out, probabilities, confidence),
                    ClassifySettings(device=device, **settings), bands=bands, progress=progress)


def _run(engine_model, scene, out_dir, tile=None, backend="onnx", tag="", **kw):
    """Classify once per (variant, tile, backend, tag); returns (class array, ClassifyResult)."""
    key = (scene["variant"], tile, backend, tag)
    if key not in _RUNS:
        out = os.path.join(out_dir, f"classes_{scene['variant']}_{tile}_{backend}{tag}.tif")
        summary = _classify(_inputs(scene), engine_model, out, tile_size_px=tile, backend=backend, **kw)
        _RUNS[key] = (gdal.Open(out).ReadAsArray(), summary)
    return _RUNS[key]


@pytest.fixture(autouse=True)
def _collect_gdal_objects():
    """Free datasets kept alive by exception tracebacks before pytest-qgis tears GDAL down."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("classify_out"))


# ---------------------------------------------------------------- outputs

def test_classify_writes_classes_probabilities_confidence(engine_model, fixture_scene, out_dir):
    prob, conf = os.path.join(out_dir, "probs.tif"), os.path.join(out_dir, "conf.tif")
    classes, summary = _run(engine_model, fixture_scene, out_dir, tile=32, probabilities=prob,
                            confidence=conf)
    card = ModelPackage(engine_model).card
    assert summary.tile_size_px == 32 and summary.batch_size >= 1 and summary.seconds > 0
    written = {k: v for k, v in summary.to_dict()["outputs"].items() if v is not None}
    assert written == {"classes": summary.outputs.classes, "probabilities": prob, "confidence": conf}
    assert summary.device == "cpu" and summary.backend == "onnx"
    hsi = gdal.Open(fixture_scene["hsi"])
    out = gdal.Open(summary.outputs.classes)
    assert (out.RasterXSize, out.RasterYSize) == (hsi.RasterXSize, hsi.RasterYSize)
    assert out.GetGeoTransform() == hsi.GetGeoTransform()
    band = out.GetRasterBand(1)
    assert band.GetNoDataValue() == 0
    values = {c["value"] for c in card["classes"]}
    assert set(np.unique(classes)) <= values | {0}
    assert summary.pixels_classified == int((classes > 0).sum())
    assert summary.pixels_nodata == classes.size - summary.pixels_classified
    # colour table + category names
    table = band.GetColorTable()
    names = band.GetCategoryNames()
    for c in card["classes"]:
        rgb = tuple(int(c["color"][i:i + 2], 16) for i in (1, 3, 5))
        assert table.GetColorEntry(c["value"])[:3] == rgb
        assert names[c["value"]] == c["name"]
    assert os.path.exists(os.path.splitext(summary.outputs.classes)[0] + ".qml")
    # probabilities / confidence agree with the class map
    p = gdal.Open(prob).ReadAsArray()
    cf = gdal.Open(conf).ReadAsArray()
    valid = classes > 0
    assert p.shape == (len(card["classes"]), *classes.shape)
    np.testing.assert_allclose(p[:, valid].sum(0), 1.0, atol=1e-5)
    lut = np.array([c["value"] for c in card["classes"]])
    assert (lut[p[:, valid].argmax(0)] == classes[valid]).all()
    np.testing.assert_allclose(cf[valid], p[:, valid].max(0), atol=1e-6)
    assert (cf[~valid] == -1).all() and (p[:, ~valid] == -1).all()


def test_nodata_pixels_are_written_as_nodata(engine_model, fixture_scene, out_dir):
    classes, _ = _run(engine_model, fixture_scene, out_dir, tile=32)
    invalid = np.zeros(classes.shape, bool)
    for name in ("hsi", "sar", "dsm"):
        ds = gdal.Open(fixture_scene[name])
        data = ds.ReadAsArray().reshape(ds.RasterCount, *classes.shape)
        nodata = ds.GetRasterBand(1).GetNoDataValue()
        bad = ~np.isfinite(data).all(0)
        if nodata is not None and np.isfinite(nodata):
            bad |= (data == nodata).any(0)
        invalid |= bad
    assert invalid.any() and (~invalid).any()
    assert (classes[invalid] == 0).all()
    assert (classes[~invalid] > 0).all()


# ---------------------------------------------------------------- invariance

def test_class_map_identical_for_any_tile_size(engine_model, fixture_scene, out_dir):
    a, sa = _run(engine_model, fixture_scene, out_dir, tile=16)
    b, _ = _run(engine_model, fixture_scene, out_dir, tile=32)
    c, sc = _run(engine_model, fixture_scene, out_dir, tile=256)  # one tile covers the scene
    assert sa.tiles > 1 and sc.tiles == 1
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_default_batch_follows_the_network_version_and_path(engine_model, fixture_scene, out_dir, tmp_path):
    """Version 2's dense per-pixel step takes batches of up to 256 pixels on a CPU, the per-token paths
    (version 1 dense, patchwise) up to 64 (model.tiling.default_batch); a user's batch size is kept."""
    import dataclasses

    from engine.nn.config import BDGFConfig
    from tests.conftest import _fixture_normalization
    from training.export_model import build_random_package

    _, v2 = _run(engine_model, fixture_scene, out_dir, tile=32)
    assert 64 < v2.batch_size <= 256
    _, chosen = _run(engine_model, fixture_scene, out_dir, tile=32, tag="-again", batch_size=37)
    assert chosen.batch_size == 37
    net = BDGFConfig.quick([24, 4, 1], len(fixture_scene["classes"]))
    net.classifier = dataclasses.replace(net.classifier, version=1)
    mods = [{"name": "hsi", "role": "spectral", "bands": 24}, {"name": "sar", "role": "sar", "bands": 4},
            {"name": "dsm", "role": "lidar", "bands": 1}]
    v1_model = build_random_package(str(tmp_path / "v1.bdgf"), mods, fixture_scene["classes"],
                                    _fixture_normalization(fixture_scene), network=net, tile_size=32, seed=0)
    assert ModelPackage(v1_model).card["network"]["classifier"]["version"] == 1
    v1 = _classify(_inputs(fixture_scene), v1_model, str(tmp_path / "v1.tif"), tile_size_px=32)
    assert v1.batch_size <= 64


def test_two_runs_are_identical(engine_model, fixture_scene, out_dir):
    a, _ = _run(engine_model, fixture_scene, out_dir, tile=32)
    b, _ = _run(engine_model, fixture_scene, out_dir, tile=32, tag="-again", batch_size=37)
    assert np.array_equal(a, b)


def test_onnx_and_torch_backends_agree(engine_model, fixture_scene, out_dir):
    pytest.importorskip("torch")
    a, _ = _run(engine_model, fixture_scene, out_dir, tile=32)
    b, summary = _run(engine_model, fixture_scene, out_dir, tile=32, backend="torch")
    assert summary.backend == "torch" and summary.device == "cpu"
    assert np.array_equal(a > 0, b > 0)
    valid = a > 0
    assert (a[valid] == b[valid]).mean() >= 0.999


# ---------------------------------------------------------------- misaligned layers

def test_misaligned_layers_are_classified_on_the_spectral_grid(engine_model, fixture_scene_mixed, out_dir):
    classes, summary = _run(engine_model, fixture_scene_mixed, out_dir, tile=32)
    hsi = gdal.Open(fixture_scene_mixed["hsi"])
    out = gdal.Open(summary.outputs.classes)
    assert out.GetGeoTransform() == hsi.GetGeoTransform()
    assert classes.shape == (hsi.RasterYSize, hsi.RasterXSize)
    assert 0 < summary.pixels_classified < classes.size  # the DSM is cropped: its outside is nodata
    whole, _ = _run(engine_model, fixture_scene_mixed, out_dir, tile=256)
    assert np.array_equal(classes, whole)


# ---------------------------------------------------------------- bad inputs

def _mismatch(engine_model, inputs, tmp_path, **kw) -> str:
    out = tmp_path / "never.tif"
    with pytest.raises(InputMismatchError) as info:
        _classify(inputs, engine_model, out, **kw)
    assert not out.exists()
    message = str(info.value)
    del info  # the traceback holds GDAL datasets; they must not outlive QGIS's GDAL at exit
    return message


def test_layers_without_overlap_are_rejected(engine_model, fixture_scene, tmp_path):
    far = str(tmp_path / "dsm_far.tif")
    gdal.Translate(far, fixture_scene["dsm"])
    ds = gdal.Open(far, gdal.GA_Update)
    gt = list(ds.GetGeoTransform())
    gt[0] += 1e6
    ds.SetGeoTransform(gt)
    ds = None
    msg = _mismatch(engine_model, {**_inputs(fixture_scene), "dsm": far}, tmp_path)
    assert "does not overlap" in msg


def test_corrupt_package_is_rejected(engine_model, fixture_scene, tmp_path):
    bad = tmp_path / "bad.bdgf"
    data = bytearray(open(engine_model, "rb").read())
    data[len(data) // 2:len(data) // 2 + 64] = b"\0" * 64
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelPackageError):
        _classify(_inputs(fixture_scene), bad, tmp_path / "never.tif")
    (tmp_path / "text.bdgf").write_text("not a zip")
    with pytest.raises(ModelPackageError, match="not a BDGF model package"):
        _classify(_inputs(fixture_scene), tmp_path / "text.bdgf", tmp_path / "never.tif")
    assert not (tmp_path / "never.tif").exists()


# ---------------------------------------------------------------- cancel

class _CancelAfter:
    def __init__(self, calls: int):
        self.calls = calls
        self.logs: list[str] = []

    def set_progress(self, percent: float) -> None:
        self.calls -= 1

    def log(self, message: str) -> None:
        self.logs.append(message)

    def is_cancelled(self) -> bool:
        return self.calls <= 0


def test_cancel_mid_run_leaves_no_output(engine_model, fixture_scene, tmp_path):
    out_dir = tmp_path / "cancelled"
    out_dir.mkdir()
    progress = _CancelAfter(3)
    with pytest.raises(Cancelled):
        _classify(_inputs(fixture_scene), engine_model, out_dir / "classes.tif", tile_size_px=16,
                  batch_size=64, probabilities=out_dir / "p.tif", progress=progress)
    assert progress.calls <= 0
    assert os.listdir(out_dir) == []
    assert any("Device actually used" in line for line in progress.logs)


def test_unknown_backend_or_device_is_a_user_error(engine_model, fixture_scene, tmp_path):
    from engine.errors import BDGFError

    with pytest.raises(BDGFError, match="Unknown backend"):
        _classify(_inputs(fixture_scene), engine_model, tmp_path / "x.tif", backend="tf")
    with pytest.raises(BDGFError, match="Unknown device"):
        _classify(_inputs(fixture_scene), engine_model, tmp_path / "x.tif", device="tpu")
    with pytest.raises(BDGFError, match="Tile size"):
        _classify(_inputs(fixture_scene), engine_model, tmp_path / "x.tif", tile_size_px=0)
    assert not (tmp_path / "x.tif").exists()


# ---------------------------------------------------------------- windows of batch blocks

def test_a_window_must_lie_on_the_tile_grid_and_inside_the_grid():
    from engine.classify.run import plan_scene
    from engine.model.package import ModelPackage
    from engine.model.tiling import plan_blocks
    from engine.settings import ClassifySettings

    plan = plan_scene(ModelPackage(DEMO_MODEL), list(DEMO.values()), None, ClassifySettings())
    assert plan.check_window((96, 128, 32, 32)) == (96, 128, 32, 32)
    with pytest.raises(BDGFError, match="not on the tile grid: it must be a multiple of the tile core"):
        plan.check_window((16, 0, 32, 32))
    with pytest.raises(BDGFError, match="is not inside the reference grid"):
        plan.check_window((96, 128, 64, 64))
    # blocks: a side rounded up to the tile (32 px), clipped at the edges, covering the grid once
    blocks = plan_blocks(128, 160, 32, 50)
    assert blocks[:3] == [(0, 0, 64, 64), (0, 64, 64, 64), (0, 128, 64, 32)] and len(blocks) == 6
    assert sum(h * w for _, _, h, w in blocks) == 128 * 160
