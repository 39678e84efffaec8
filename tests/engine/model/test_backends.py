"""Backends: same interface and results, device policy (auto falls back, explicit cuda fails clearly)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BDGFError
from engine.model.backends import OnnxBackend, make_backend
from engine.model.package import ModelPackage
from tests.conftest import LogProgress


@pytest.fixture(scope="module")
def package(engine_model):
    return ModelPackage(engine_model)


def _inputs(package, h=32, w=40, batch=9):
    rng = np.random.default_rng(0)
    card = package.card
    c = sum(m["bands"] for m in card["modalities"])
    net = card["network"]["ddpm"]
    f = sum(net["base_width"] * m for m in net["channel_mults"])
    k, p = len(card["diffusion"]["timesteps"]), card["patch_size"]
    shapes = ((1, c, h, w), (k, c, h, w), (batch, c, p, p), (batch, f, p, p))
    return tuple(rng.standard_normal(shape, np.float32) for shape in shapes)


def test_onnx_and_torch_give_the_same_features_and_probabilities(package):
    pytest.importorskip("torch")
    x, noise, xp, dp = _inputs(package)
    onnx, torch_ = make_backend(package, "onnx", "cpu"), make_backend(package, "torch", "cpu")
    f1, f2 = onnx.features(x, noise), torch_.features(x, noise)
    assert f1.shape == (1, dp.shape[1], *x.shape[2:]) and f1.dtype == np.float32
    np.testing.assert_allclose(f1, f2, atol=1e-4)
    p1, p2 = onnx.probabilities(xp, dp), torch_.probabilities(xp, dp)
    assert p1.shape == (xp.shape[0], len(package.card["classes"]))
    np.testing.assert_allclose(p1.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(p1, p2, atol=1e-5)


def test_make_backend_logs_the_device_actually_used(package):
    log = LogProgress()
    backend = make_backend(package, "onnx", "auto", log)
    assert backend.device in ("cpu", "cuda")
    expected = "Device actually used: ONNX Runtime on " + backend.device
    assert any(line.startswith(expected) for line in log.lines)


def test_device_cpu_never_tries_cuda(package):
    backend = OnnxBackend(package, "cpu")
    assert backend.device == "cpu"
    sessions = (backend._features, backend._classifier)
    assert all(s.get_providers() == ["CPUExecutionProvider"] for s in sessions)


def test_explicit_cuda_without_cuda_is_a_clear_error_and_auto_falls_back(package, monkeypatch):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu installed: covered on the GPU machine")
    with pytest.raises(BDGFError, match="device=cuda was requested"):
        make_backend(package, "onnx", "cuda")
    # a GPU build that cannot load CUDA: available lists CUDA, the session only gets the CPU
    gpu_build = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: gpu_build)
    real = ort.InferenceSession

    def cpu_only(data, sess_options=None, providers=None):
        assert providers[0] == "CUDAExecutionProvider"
        return real(data, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "InferenceSession", cpu_only)
    log = LogProgress()
    assert make_backend(package, "onnx", "auto", log).device == "cpu"
    assert any("could not use it" in line and "CPU instead" in line for line in log.lines)
    with pytest.raises(BDGFError, match="device=cuda was asked explicitly"):
        make_backend(package, "onnx", "cuda")


def test_torch_explicit_cuda_without_gpu_fails(package):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(BDGFError, match="PyTorch sees no CUDA GPU"):
        make_backend(package, "torch", "cuda")


def test_weights_that_do_not_match_the_network_are_reported(package, tmp_path):
    pytest.importorskip("torch")
    from engine.model.package import write_package

    card = {k: v for k, v in package.card.items() if k != "content_hash"}
    tensors = package.tensors("", strip=False)
    tensors.pop(next(k for k in tensors if k.startswith("classifier.")))
    onnx = {"features": package.onnx("features"), "classifier": package.onnx("classifier")}
    path = tmp_path / "broken.bdgf"
    write_package(path, card, onnx=onnx, tensors=tensors)
    with pytest.raises(BDGFError, match="do not match the card's network"):
        make_backend(ModelPackage(path), "torch", "cpu")


