"""engine/model/environment.py: the environment report (no QGIS; the QGIS side: tests/ui/test_foundation.py).
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from engine.model import environment as diagnostics


@pytest.fixture()
def no_subprocess(monkeypatch):
    """Diagnostics never shell out (no pip, ldconfig, nvidia-smi): any attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"diagnostics started a process: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_the_tiny_onnx_graph_is_valid_onnx_and_runs():
    import onnx
    import onnxruntime as ort

    model = onnx.load_from_string(diagnostics.tiny_onnx_model())
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Add"]
    session = ort.InferenceSession(diagnostics.tiny_onnx_model(), providers=["CPUExecutionProvider"])
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    assert session.run(["y"], {"x": x})[0].tolist() == [[2, 4, 6, 8]]


def test_the_report_reads_back_the_provider_the_session_used(no_subprocess):
    report = diagnostics.environment_report()
    json.dumps(report)  # JSON-safe: the Processing output REPORT
    session = report["onnxruntime_session"]
    assert session["ok"] and session["used"][-1] == "CPUExecutionProvider"
    assert session["requested"] == ["CPUExecutionProvider"]  # this CPU-only onnxruntime has no CUDA EP
    assert report["locations"]["onnxruntime"].endswith("onnxruntime")
    assert report["missing"] == [] and report["import_errors"] == {}
    assert set(report["cuda_libraries"]) == set(diagnostics.CUDA_LIBRARIES)
    text = diagnostics.format_report(report, [("QGIS", "3.99")])
    assert text.splitlines()[2].split() == ["QGIS", "3.99"]
    assert "test session used:      CPUExecutionProvider  (ran, result correct)" in text
    assert "a classification (device auto) runs on: CPU" in text
    assert f"numpy        {np.__version__}" in text


def test_a_missing_package_gets_the_exact_install_command(monkeypatch, no_subprocess):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    report = diagnostics.environment_report(check_cuda=False)
    assert report["packages"]["onnxruntime"] is None and report["missing"] == ["onnxruntime"]
    hint = f"{sys.executable} -m pip install onnxruntime"  # the venv's python, as is
    assert any(hint in action for action in report["actions"])
    text = diagnostics.format_report(report)
    assert "onnxruntime  not installed" in text and "runs on: nowhere yet: onnxruntime is missing" in text


def test_a_broken_install_is_reported_with_its_error(monkeypatch, tmp_path, no_subprocess):
    fake = tmp_path / "mamba_ssm"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise RuntimeError('compiled against another torch')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mamba_ssm", raising=False)
    report = diagnostics.environment_report(check_cuda=False)
    assert report["import_errors"] == {"mamba_ssm": "RuntimeError: compiled against another torch"}
    assert "BROKEN: RuntimeError" in diagnostics.format_report(report)
    assert any("--force-reinstall mamba_ssm" in action for action in report["actions"])


def test_inside_qgis_the_pip_command_uses_the_embedded_python(monkeypatch, tmp_path):
    """Inside QGIS sys.executable is QGIS itself (or a PATH python3): pip must run this Python."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / "bin").mkdir()
    python = tmp_path / "bin" / f"python{version}"
    python.write_text("")
    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    monkeypatch.setattr(sys, "executable", "/usr/bin/qgis")
    for name in ("prefix", "exec_prefix", "base_prefix"):
        monkeypatch.setattr(sys, name, str(tmp_path))
    monkeypatch.setattr(diagnostics.sysconfig, "get_paths", lambda: {"stdlib": str(stdlib)})
    assert diagnostics.install_hint(["onnxruntime"]) == f"{python} -m pip install onnxruntime"
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\n")  # Debian 12's system Python
    assert diagnostics.install_hint(["onnxruntime", "numpy"]) == \
        f"{python} -m pip install --user --break-system-packages numpy onnxruntime"


class FakeCuda:
    """The CUDA driver API as ctypes sees it: one GPU, driver 12.4."""

    def __init__(self, name):
        if name != "libcuda.so.1":
            raise OSError(name)

    def cuDriverGetVersion(self, version):  # noqa: N802 (CUDA names)
        version._obj.value = 12040
        return 0

    def cuInit(self, flags):  # noqa: N802
        return 0

    def cuDeviceGetCount(self, count):  # noqa: N802
        count._obj.value = 1
        return 0

    def cuDeviceGet(self, device, index):  # noqa: N802
        return 0

    def cuDeviceGetName(self, buffer, size, device):  # noqa: N802
        buffer.value = b"NVIDIA H200"
        return 0


def test_the_cuda_driver_is_read_through_ctypes(monkeypatch):
    import ctypes

    monkeypatch.setattr(ctypes, "CDLL", FakeCuda)
    assert diagnostics.cuda_driver() == {"driver": "CUDA 12.4", "gpus": ["NVIDIA H200"], "error": None}
    monkeypatch.setattr(ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError(name)))
    assert diagnostics.cuda_driver()["gpus"] == [] and diagnostics.cuda_libraries()["cuDNN"] is None


def test_gpu_advice_follows_what_the_session_really_used():
    base = diagnostics.environment_report(check_cuda=False)
    gpu = {"driver": "CUDA 12.4", "gpus": ["NVIDIA H200"], "error": None}
    cpu_only = {**base, "cuda_driver": gpu, "onnxruntime_providers": ["CPUExecutionProvider"]}
    assert any("pip uninstall -y onnxruntime" in a and "onnxruntime-gpu" in a
               for a in diagnostics._actions(cpu_only))
    fallback = {**base, "cuda_driver": gpu, "cuda_libraries": {"cuDNN": None, "cuBLAS": "/x/libcublas.so.12"},
                "onnxruntime_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
                "onnxruntime_session": {"requested": ["CUDAExecutionProvider", "CPUExecutionProvider"],
                                        "used": ["CPUExecutionProvider"], "ok": True, "error": None}}
    advice = [a for a in diagnostics._actions(fallback) if "could not use it" in a]
    assert len(advice) == 1 and "not found: cuDNN" in advice[0]
    assert diagnostics.run_device(fallback) == "CPU"
    both = {**base, "onnxruntime_distributions": ["onnxruntime 1.20.0", "onnxruntime-gpu 1.20.0"]}
    assert any("uninstall -y onnxruntime`" in a for a in diagnostics._actions(both))
