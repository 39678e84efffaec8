"""`python -m engine classify|info` in a subprocess: exit codes, one-line user errors, outputs."""
from __future__ import annotations

import os
import subprocess
import sys

from osgeo import gdal

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _engine(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _classify_args(scene, model, out) -> list:
    return ["classify", "--spectral", scene["hsi"], "--aux", scene["sar"], "--aux", scene["dsm"],
            "--model", model, "--out", out]


def test_cli_classify_writes_output_and_exits_0(engine_model, fixture_scene, tmp_path):
    out, conf = tmp_path / "classes.tif", tmp_path / "conf.tif"
    proc = _engine(*_classify_args(fixture_scene, engine_model, out), "--confidence", conf,
                   "--device", "cpu", "--tile", 32, "--batch", 128)
    assert proc.returncode == 0, proc.stderr
    assert "Device actually used: ONNX Runtime on cpu" in proc.stderr
    assert "pixels classified" in proc.stdout
    ds = gdal.Open(str(out))
    assert ds.RasterXSize == 64 and ds.RasterYSize == 48
    assert (ds.ReadAsArray() > 0).any()
    assert conf.exists()


def test_cli_user_errors_are_one_line_exit_2(engine_model, fixture_scene, tmp_path):
    out = tmp_path / "classes.tif"
    cases = {
        "missing model": _classify_args(fixture_scene, tmp_path / "nope.bdgf", out),
        "wrong band count": ["classify", "--spectral", fixture_scene["hsi"], "--aux", fixture_scene["dsm"],
                             "--aux", fixture_scene["sar"], "--model", engine_model, "--out", out],
        "missing modality": ["classify", "--spectral", fixture_scene["hsi"], "--aux", fixture_scene["sar"],
                             "--model", engine_model, "--out", out],
        "cuda unavailable": [*_classify_args(fixture_scene, engine_model, out), "--device", "cuda"],
    }
    expected = {"missing model": "Model package not found", "wrong band count": "expected 4 bands, found 1",
                "missing modality": "found no layer (missing)", "cuda unavailable": "cuda"}
    for name, args in cases.items():
        proc = _engine(*args)
        assert proc.returncode == 2, (name, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected[name] in errors[0], (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_info_prints_the_card(engine_model):
    proc = _engine("info", engine_model)
    assert proc.returncode == 0, proc.stderr
    for text in ("Model: ", "Modalities (3)", "Content hash: sha256:"):
        assert text in proc.stdout
    bad = _engine("info", REPO + "/README-does-not-exist.bdgf")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
