"""engine.settings: run settings refuse bad values before any file is opened; ONNX Runtime providers per
device; outputs refuse two outputs naming one file; per-modality values parsed from QGIS and CLI text."""
from __future__ import annotations

import os

import pytest

from engine.errors import BDGFError
from engine.settings import (
    CPU_EP,
    CUDA_EP,
    ClassifyOutputs,
    ClassifySettings,
    onnx_providers,
    parse_modality_values,
)


@pytest.mark.parametrize("kwargs, message", [
    ({"device": "tpu"}, "Unknown device 'tpu'; expected one of auto, cuda, cpu"),
    ({"backend": "tf"}, "Unknown backend 'tf'; expected one of onnx, torch"),
    ({"tile_size_px": 0}, "Tile size must be a positive whole number"),
    ({"tile_size_px": 64.0}, "Tile size must be a positive whole number"),
    ({"batch_size": True}, "Batch size must be at least 1"),
    ({"batch_size": -3}, "Batch size must be at least 1"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(BDGFError, match=message):
        ClassifySettings(**kwargs)
    assert ClassifySettings(device="cpu", backend="torch", tile_size_px=64, batch_size=1).tile_size_px == 64


def test_onnx_providers_ask_for_cuda_only_when_the_device_allows_and_onnxruntime_has_it():
    gpu_build, cpu_build = [CUDA_EP, CPU_EP], [CPU_EP]
    assert onnx_providers(gpu_build, "auto") == onnx_providers(gpu_build, "cuda") == [CUDA_EP, CPU_EP]
    assert onnx_providers(gpu_build, "cpu") == [CPU_EP]
    assert onnx_providers(cpu_build, "auto") == onnx_providers(cpu_build, "cuda") == [CPU_EP]


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    classes = tmp_path / "classes.tif"
    with pytest.raises(BDGFError, match="The class raster output and the confidence output are the same"):
        ClassifyOutputs(str(classes), confidence=str(tmp_path / "x" / ".." / "classes.tif"))
    classes.write_bytes(b"")
    os.link(classes, tmp_path / "hard_link.tif")
    with pytest.raises(BDGFError, match="The entropy output and the branch agreement output are the same"):
        ClassifyOutputs(str(tmp_path / "c.tif"), entropy=str(classes),
                        agreement=str(tmp_path / "hard_link.tif"))
    with pytest.raises(BDGFError, match="No output path for the class raster"):
        ClassifyOutputs("")
    outputs = ClassifyOutputs(tmp_path / "c.tif", probabilities="", disagreement=tmp_path / "d.tif")
    assert outputs.paths() == [str(tmp_path / "c.tif"), str(tmp_path / "d.tif")]  # class raster first
    assert list(outputs.named_paths()) == ["class raster", "branch disagreement"]
    assert outputs.needs_branches and not outputs.needs_contribution


def test_modality_values_from_qgis_text_and_cli_options():
    assert parse_modality_values("hsi=0.0001; sar = 1,", "Input scale") == {"hsi": "0.0001", "sar": "1"}
    assert parse_modality_values(["dsm=none", " "], "--nodata") == {"dsm": "none"}
    assert parse_modality_values(None, "--nodata") == {}
    with pytest.raises(BDGFError, match=r"--scale: expected modality=value \(for example hsi=0\), found"):
        parse_modality_values(["hsi"], "--scale")
