"""Run settings of a classification: the one home of the device and backend names (and the ONNX Runtime
providers a device asks for).

This module imports nothing but the standard library and `errors`, so the QGIS plugin can import it
(to fill its menus and say what to install) before it knows whether numpy or onnxruntime exist.

    settings = ClassifySettings(device="cpu", backend="onnx", tile_size_px=128)
    outputs = ClassifyOutputs("classes.tif", confidence="confidence.tif")
    classify(inputs, package, outputs, settings)
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import BDGFError

# In the order menus show them: "auto" first because it is the right choice for most users.
DEVICES = ("auto", "cuda", "cpu")
DEVICE_LABELS = {"auto": "Automatic (GPU when available)", "cuda": "GPU (CUDA)", "cpu": "CPU"}
BACKENDS = ("onnx", "torch")
# Python packages each backend imports at run time (the names pip installs).
BACKEND_PACKAGES = {"onnx": ("numpy", "onnxruntime"), "torch": ("numpy", "torch", "safetensors")}

# ONNX Runtime execution providers a session asks for: the one rule for runs (engine/model/backends.py)
# and for the environment report's test session (engine/model/environment.py).
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


def onnx_providers(available: list[str], device: str) -> list[str]:
    """CUDA first when the device allows it and this ONNX Runtime has it, else the CPU only. Which
    provider really ran is read back from the session afterwards (session.get_providers())."""
    want_cuda = device in ("auto", "cuda")
    return [CUDA_EP, CPU_EP] if want_cuda and CUDA_EP in available else [CPU_EP]


def _positive_or_none(value, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BDGFError(f"{what} must be a positive whole number of pixels (or automatic), got {value!r}.")
    return value


@dataclass(frozen=True)
class ClassifySettings:
    """How to run: checked when built, so a bad value fails before any file is opened."""

    device: str = "auto"
    backend: str = "onnx"
    tile_size_px: int | None = None  # tile core; None = the model card's
    batch_size: int | None = None  # patches per classifier call; None = from the free memory

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise BDGFError(f"Unknown device {self.device!r}; expected one of {', '.join(DEVICES)}.")
        if self.backend not in BACKENDS:
            raise BDGFError(f"Unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}.")
        _positive_or_none(self.tile_size_px, "Tile size")
        if self.batch_size is not None and (isinstance(self.batch_size, bool)
                                            or not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise BDGFError(f"Batch size must be at least 1 (or automatic), got {self.batch_size!r}.")


def same_file(a, b) -> bool:
    """Whether two paths name one file: equal once absolute, links resolved and case folded where the
    system ignores case, or the same existing file under two names (a hard link)."""
    norm_a, norm_b = (os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(p)))) for p in (a, b))
    if norm_a == norm_b:
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def parse_modality_values(items, what: str) -> dict[str, str]:
    """'hsi=0.0001, sar=1' (QGIS) or ['hsi=0.0001', 'sar=1'] (CLI, repeated option) -> {name: text}.
    The values are converted where they are used (engine.classify.inputs.check_inputs)."""
    if isinstance(items, str):
        items = items.replace(";", ",").split(",")
    out = {}
    for item in items or []:
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise BDGFError(f"{what}: expected modality=value (for example hsi=0), found {item.strip()!r}.")
        out[name.strip()] = value.strip()
    return out


# Output field -> the name messages use, in the order outputs are listed (class raster first).
OUTPUT_LABELS = {
    "classes": "class raster", "probabilities": "probabilities", "confidence": "confidence",
    "entropy": "entropy", "disagreement": "branch disagreement", "agreement": "branch agreement",
    "contribution": "modality contribution", "dominant_modality": "dominant modality",
}


@dataclass(frozen=True)
class ClassifyOutputs:
    """Where the run writes: the class raster, and optionally probabilities, confidence and the trust
    outputs (README, "Trust outputs"): entropy of the fused probabilities, disagreement and agreement of
    the classifier branches, each modality's contribution to the predicted class and the dominant one."""

    classes: str
    probabilities: str | None = None
    confidence: str | None = None
    entropy: str | None = None
    disagreement: str | None = None
    agreement: str | None = None
    contribution: str | None = None
    dominant_modality: str | None = None

    def __post_init__(self) -> None:
        for name in OUTPUT_LABELS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, os.fspath(value) or None)
        if not self.classes:
            raise BDGFError("No output path for the class raster was given.")
        named = list(self.named_paths().items())
        for i, (name_a, path_a) in enumerate(named):
            for name_b, path_b in named[i + 1:]:
                if same_file(path_a, path_b):
                    raise BDGFError(f"The {name_a} output and the {name_b} output are the same file "
                                    f"({path_a} and {path_b}); give each output its own path.")

    @property
    def needs_branches(self) -> bool:
        """Whether an output needs each classifier branch's probabilities."""
        return bool(self.disagreement or self.agreement)

    @property
    def needs_contribution(self) -> bool:
        """Whether an output needs the modality contribution (one more pass per modality)."""
        return bool(self.contribution or self.dominant_modality)

    def named_paths(self) -> dict[str, str]:
        """{'class raster' | 'probabilities' | ... (OUTPUT_LABELS): path} of the outputs that will be
        written."""
        return {label: getattr(self, key) for key, label in OUTPUT_LABELS.items() if getattr(self, key)}

    def paths(self) -> list[str]:
        """The paths that will be written, class raster first."""
        return [getattr(self, key) for key in OUTPUT_LABELS if getattr(self, key)]
