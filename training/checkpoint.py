"""Checkpoints without pickle: tensors in safetensors, everything else in JSON; atomic writes.

The training loops derive their random streams from (seed, rank, step or epoch), so resuming needs
no RNG state beyond the step; the global torch / python / numpy states are saved as well.

A checkpoint is `<name>.safetensors` + `<name>.json`, both written to temp files and renamed; the
JSON (written last) names the safetensors file's sha256, so a half-written pair is detected.
RNG states (torch CPU / CUDA, numpy Generators) travel as uint8 tensors / JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from engine.raster.atomic import write_bytes


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """`data` to `path` all or nothing, fsynced (engine.raster.atomic, the one rule), its folder made."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, sync=True)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))


def save_checkpoint(path_stem: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    blob = save_tensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    stem = Path(path_stem)
    atomic_write(stem.with_suffix(".safetensors"), blob)
    atomic_write_json(stem.with_suffix(".json"), {**meta, "sha256": hashlib.sha256(blob).hexdigest()})


def load_checkpoint(path_stem: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict] | None:
    """(tensors, meta) or None when absent or incomplete."""
    stem = Path(path_stem)
    meta_path, blob_path = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    if not meta_path.is_file() or not blob_path.is_file():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    blob = blob_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        return None
    return {k: v.clone() for k, v in load_tensors(blob).items()}, meta  # own, aligned memory


# ---------------------------------------------------------------- module / optimizer state

def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def optimizer_state(opt: torch.optim.Optimizer, prefix: str = "opt.") -> tuple[dict, dict]:
    """(tensors, json) of an optimizer state dict (per-parameter tensors and scalars split)."""
    state = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict, meta: dict, prefix: str = "opt.") -> None:
    state: dict[int, dict] = {}
    for name, value in unprefixed(prefix, tensors).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta["scalars"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


# ---------------------------------------------------------------- RNG state

def rng_state(generators: dict[str, np.random.Generator]) -> tuple[dict, dict]:
    """(tensors, json) capturing torch (CPU + CUDA), python `random` and named numpy Generators."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    meta = {"python": _py_state(), "numpy": {k: g.bit_generator.state for k, g in generators.items()}}
    return tensors, meta


def restore_rng(tensors: dict, meta: dict, generators: dict[str, np.random.Generator]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    for key, gen in generators.items():
        gen.bit_generator.state = meta["numpy"][key]


def _py_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over names and bytes (sorted), e.g. of DDPM weights for the feature cache key."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(name.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.hexdigest()


def resume_training(path_stem: str | os.PathLike, model: torch.nn.Module,
                    opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict] | None:
    """Restore model, optimiser and RNG states from a checkpoint; (tensors, meta), or None if absent."""
    state = load_checkpoint(path_stem)
    if state is None:
        return None
    tensors, meta = state
    model.load_state_dict(unprefixed("model.", tensors))
    load_optimizer_state(opt, tensors, meta["optimizer"])
    restore_rng(tensors, meta["rng"], {})
    return tensors, meta
