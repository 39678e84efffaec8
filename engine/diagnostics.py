"""What this Python can run: versions of the ML packages and the devices they see."""
from __future__ import annotations

import importlib
import platform
import sys

REQUIRED = ("numpy", "onnxruntime")
OPTIONAL = ("torch", "safetensors", "mamba_ssm")


def _version(name: str) -> str | None:
    try:
        module = importlib.import_module(name)
    except Exception:  # ImportError, or a broken install raising anything
        return None
    return str(getattr(module, "__version__", "installed"))


def environment_report() -> dict:
    """A JSON-safe report users can paste into an issue."""
    report = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in REQUIRED + OPTIONAL},
    }
    try:
        from osgeo import gdal

        report["gdal"] = gdal.__version__
    except ImportError:
        report["gdal"] = None
    if report["packages"]["onnxruntime"]:
        import onnxruntime

        report["onnxruntime_providers"] = list(onnxruntime.get_available_providers())
    if report["packages"]["torch"]:
        import torch

        report["torch_cuda"] = bool(torch.cuda.is_available())
    report["missing"] = [name for name in REQUIRED if report["packages"][name] is None]
    return report


def install_hint(missing: list[str]) -> str:
    """The exact command that installs the missing packages into this Python."""
    if not missing:
        return ""
    return f"{sys.executable} -m pip install " + " ".join(sorted(missing))
