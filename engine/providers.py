"""ONNX Runtime execution providers a session asks for: the one rule for runs (engine/backends.py) and
for the diagnostics' test session (engine/diagnostics.py). Standard library only."""
from __future__ import annotations

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


def onnx_providers(available: list[str], device: str) -> list[str]:
    """CUDA first when the device allows it and this ONNX Runtime has it, else the CPU only. Which
    provider really ran is read back from the session afterwards (session.get_providers())."""
    want_cuda = device in ("auto", "cuda")
    return [CUDA_EP, CPU_EP] if want_cuda and CUDA_EP in available else [CPU_EP]
