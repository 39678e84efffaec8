"""`python -m engine classify` (engine/classify/cli.py) in a subprocess: the outputs and exit code 0."""
from __future__ import annotations

from osgeo import gdal

from tests.engine.test_main import _classify_args, _engine


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
