"""A batch job's blocks on disk: what a block is (window, files, fingerprint), its manifest written last,
and the check that lets a rerun reuse a finished block (same fingerprint, files of the recorded size and
sha256) instead of computing it again.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from ..raster.atomic import PARTIAL, atomic_file, remove_quietly
from ..settings import ClassifyOutputs
from .job import BatchJob, SceneJob

MANIFEST_FORMAT = "bdgf-block"


@dataclass(frozen=True)
class BlockTask:
    """One block of one scene: its window on the reference grid and where its files go."""

    scene: int  # index in job.scenes
    window: tuple[int, int, int, int]
    prefix: str  # <scene dir>/blocks/r000000_c000000: files <prefix>.<product>.tif, manifest <prefix>.json
    products: tuple[str, ...]
    fingerprint: str

    def outputs(self) -> ClassifyOutputs:
        paths = {p: f"{self.prefix}.{p}.tif" for p in self.products}
        return ClassifyOutputs(**paths)

    @property
    def manifest(self) -> str:
        return self.prefix + ".json"

    @property
    def pixels(self) -> int:
        return self.window[2] * self.window[3]


@dataclass(frozen=True)
class BlockDone:
    task: BlockTask
    pixels_classified: int
    seconds: float
    worker: str
    warnings: tuple[str, ...] = ()


def scene_fingerprint(job: BatchJob, scene: SceneJob, content_hash: str, tile: int) -> str:
    """What a block's pixels depend on: model, layers and their per-layer settings, tile size, backend,
    products. A manifest with another fingerprint is stale."""
    key = {"model": content_hash, "inputs": scene.inputs(), "bands": scene.bands, "nodata": scene.nodata,
           "scale": scene.scale, "tile": tile, "backend": job.settings.backend, "products": job.products()}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(task: BlockTask, pixels_classified: int, seconds: float, worker: str) -> None:
    """The block's manifest, written last (temporary file + rename): its presence means the block is done."""
    files = {}
    for product, path in zip(task.products, task.outputs().paths()):
        files[product] = {"name": os.path.basename(path), "bytes": os.path.getsize(path),
                          "sha256": _sha256(path)}
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "fingerprint": task.fingerprint,
                "window": list(task.window), "files": files, "pixels_classified": pixels_classified,
                "seconds": seconds, "worker": worker}
    with atomic_file(task.manifest, "w") as fh:
        json.dump(manifest, fh, indent=1)


def check_block(task: BlockTask) -> tuple[dict | None, str]:
    """(manifest, '') when the block's files are complete and match its manifest, else (None, why not)."""
    try:
        with open(task.manifest, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except FileNotFoundError:
        return None, "not done"
    except (OSError, ValueError) as exc:
        return None, f"unreadable manifest ({exc})"
    if manifest.get("fingerprint") != task.fingerprint:
        return None, "made with another model, layers or settings"
    if manifest.get("window") != list(task.window):
        return None, "another window"
    files = manifest.get("files", {})
    for product, path in zip(task.products, task.outputs().paths()):
        entry = files.get(product)
        if not entry or not os.path.isfile(path):
            return None, f"{product} file missing"
        if os.path.getsize(path) != entry.get("bytes") or _sha256(path) != entry.get("sha256"):
            return None, f"{os.path.basename(path)} differs from its manifest (size or checksum)"
    return manifest, ""


def remove_partials(folder: str) -> None:
    """Temporary files a killed worker left (its writers could not clean up after SIGKILL)."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if PARTIAL in name:
            remove_quietly(os.path.join(folder, name))
