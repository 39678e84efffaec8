"""Batch job files (JOB.json): what `python -m engine batch` classifies, written by QGIS (bdgf:exportjob)
or by hand. The one home of the job schema; standard library only, so the plugin can write jobs
without numpy, onnxruntime or Ray.

    {"format": "bdgf-batch-job", "version": 1,
     "model": "models/demo.bdgf", "out_dir": "out",
     "settings": {"device": "auto", "backend": "onnx", "tile_size_px": null, "batch_size": null},
     "block_size_px": 1024,
     "outputs": {"probabilities": false, "confidence": false, "entropy": false, "cog": true},
     "scenes": [{"name": "demo", "spectral": "hsi.tif", "aux": ["sar.tif", "dsm.tif"],
                 "nodata": {"hsi": "-9999"}, "scale": {"hsi": "0.0001"}, "bands": {}}]}

Relative paths are relative to the job file's folder; GDAL virtual paths and URLs (`/vsis3/...`,
`/vsicurl/...`, `https://...`) are kept as they are. Each scene writes into `<out_dir>/<name>/`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import BDGFError
from ..raster.atomic import write_text
from ..settings import BACKEND_PACKAGES, OUTPUT_LABELS, ClassifyOutputs, ClassifySettings

JOB_FORMAT = "bdgf-batch-job"
JOB_VERSION = 1
DEFAULT_BLOCK_PX = 1024
# The batch command's one extra package (requirements-dev.txt pins the same; tests/engine/batch checks).
RAY_REQUIREMENT = "ray==2.60.0"
SCENE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# every raster a run can write (ClassifyOutputs' fields): the class raster and the optional ones, which a
# job turns on in "outputs" (the trust outputs too: README, "Trust outputs")
PRODUCTS = tuple(OUTPUT_LABELS)
OPTIONAL = PRODUCTS[1:]


def is_virtual_path(path: str) -> bool:
    """GDAL virtual file systems and URLs: not resolved against the job's folder, not checked as files."""
    return path.startswith("/vsi") or "://" in path


def layer_source_problem(source: str) -> str | None:
    """Why a layer's GDAL source cannot go into a job (run later, maybe on another machine), or None."""
    if not source or not source.strip():
        return "it has no source (a layer that exists only inside QGIS)"
    if source.startswith("/vsimem/"):
        return f"{source} is an in-memory GDAL file, which exists only inside this QGIS"
    if not is_virtual_path(source) and not os.path.isfile(source):
        return f"{source} is not a file"
    return None


def scene_name_for(path: str) -> str:
    """A scene name from a layer's file name ('S2A_T32 (1).tif' -> 'S2A_T32_1')."""
    stem = os.path.splitext(os.path.basename(path.rstrip("/")))[0]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:100]
    return name or "scene"


@dataclass(frozen=True)
class SceneJob:
    """One scene: the spectral layer (its grid is the output grid), the auxiliary layers in the model
    card's order, and per-modality band subsets, nodata and input scale (as for `engine classify`)."""

    name: str
    spectral: str
    aux: tuple[str, ...] = ()
    bands: dict[str, list[int]] = field(default_factory=dict)
    nodata: dict[str, str | float] = field(default_factory=dict)
    scale: dict[str, str | float] = field(default_factory=dict)

    def inputs(self) -> list[str]:
        """The layers in card order, spectral first (engine.classify.run's list form)."""
        return [self.spectral, *self.aux]


@dataclass(frozen=True)
class BatchJob:
    """A checked job: every path resolved, settings validated (ClassifySettings)."""

    model: str
    out_dir: str
    scenes: tuple[SceneJob, ...]
    settings: ClassifySettings = ClassifySettings()
    block_size_px: int = DEFAULT_BLOCK_PX
    probabilities: bool = False
    confidence: bool = False
    entropy: bool = False
    disagreement: bool = False
    agreement: bool = False
    contribution: bool = False
    dominant_modality: bool = False
    cog: bool = True

    def products(self) -> tuple[str, ...]:
        """'classes' and the optional rasters this job writes."""
        return tuple(p for p in PRODUCTS if p == "classes" or getattr(self, p))

    def scene_dir(self, scene: SceneJob) -> str:
        return os.path.join(self.out_dir, scene.name)

    def mosaic_outputs(self, scene: SceneJob) -> ClassifyOutputs:
        """The scene's VRTs over its blocks."""
        return self._outputs(scene, ".vrt")

    def cog_outputs(self, scene: SceneJob) -> ClassifyOutputs | None:
        """The scene's Cloud-Optimized GeoTIFFs, when the job asks for them."""
        return self._outputs(scene, ".tif") if self.cog else None

    def _outputs(self, scene: SceneJob, ext: str) -> ClassifyOutputs:
        paths = {p: os.path.join(self.scene_dir(scene), p + ext) for p in self.products()}
        return ClassifyOutputs(**paths)

    def to_dict(self) -> dict:
        return {
            "format": JOB_FORMAT, "version": JOB_VERSION, "model": self.model, "out_dir": self.out_dir,
            "settings": dataclasses.asdict(self.settings), "block_size_px": self.block_size_px,
            "outputs": {**{p: getattr(self, p) for p in OPTIONAL}, "cog": self.cog},
            "scenes": [{"name": s.name, "spectral": s.spectral, "aux": list(s.aux), "bands": s.bands,
                        "nodata": s.nodata, "scale": s.scale} for s in self.scenes],
        }

    @classmethod
    def from_dict(cls, data, base_dir: str = ".", where: str = "job") -> BatchJob:
        """A job from its JSON form; BDGFError listing every problem at once."""
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise BDGFError(f"{where}: a job is a JSON object, found {type(data).__name__}.")
        _unknown(data, {"format", "version", "model", "out_dir", "settings", "block_size_px", "outputs",
                        "scenes"}, "", problems)
        if data.get("format") != JOB_FORMAT:
            problems.append(f"format: expected {JOB_FORMAT!r}, found {data.get('format')!r}")
        if data.get("version") != JOB_VERSION:
            problems.append(f"version: this engine reads version {JOB_VERSION}, "
                            f"found {data.get('version')!r}")
        model = _path(data, "model", base_dir, "", problems)
        if model and is_virtual_path(model):
            problems.append(f"model: must be a local file (the driver ships it to the workers), "
                            f"found {model}")
        out_dir = _path(data, "out_dir", base_dir, "", problems)
        if out_dir and is_virtual_path(out_dir):
            problems.append(f"out_dir: must be a folder every worker can write, found {out_dir}")
        settings = _settings(data.get("settings", {}), problems)
        block = data.get("block_size_px", DEFAULT_BLOCK_PX)
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            problems.append(f"block_size_px: a positive whole number of pixels, found {block!r}")
        outputs = data.get("outputs", {})
        if not isinstance(outputs, Mapping):
            problems.append(f"outputs: an object, found {outputs!r}")
            outputs = {}
        _unknown(outputs, {*OPTIONAL, "cog"}, "outputs.", problems)
        flags = {k: outputs.get(k, k == "cog") for k in (*OPTIONAL, "cog")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                problems.append(f"outputs.{key}: true or false, found {value!r}")
        scenes = _scenes(data.get("scenes"), base_dir, problems)
        if problems:
            raise BDGFError(f"{where} is not a valid batch job:\n" + "\n".join(f"  {p}" for p in problems))
        return cls(model, out_dir, tuple(scenes), settings, block, **flags)


def _unknown(data: Mapping, known: set[str], prefix: str, problems: list[str]) -> None:
    for key in data:
        if key not in known:
            problems.append(f"{prefix}{key}: unknown key (expected one of {', '.join(sorted(known))})")


def _path(data: Mapping, key: str, base_dir: str, prefix: str, problems: list[str]) -> str | None:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{prefix}{key}: a path, found {value!r}" if key in data
                        else f"{prefix}{key}: missing")
        return None
    return value if is_virtual_path(value) else os.path.normpath(os.path.join(base_dir, value))


def _settings(value, problems: list[str]) -> ClassifySettings:
    if not isinstance(value, Mapping):
        problems.append(f"settings: an object, found {value!r}")
        return ClassifySettings()
    known = {f.name for f in dataclasses.fields(ClassifySettings)}
    _unknown(value, known, "settings.", problems)
    try:
        return ClassifySettings(**{k: v for k, v in value.items() if k in known})
    except BDGFError as exc:
        problems.append(f"settings: {exc}")
        return ClassifySettings()


def _scenes(value, base_dir: str, problems: list[str]) -> list[SceneJob]:
    if not isinstance(value, list) or not value:
        problems.append(f"scenes: a non-empty list of scenes, found {value!r}")
        return []
    scenes, names = [], set()
    for i, item in enumerate(value):
        where = f"scenes[{i}]."
        if not isinstance(item, Mapping):
            problems.append(f"scenes[{i}]: an object, found {item!r}")
            continue
        _unknown(item, {"name", "spectral", "aux", "bands", "nodata", "scale"}, where, problems)
        spectral = _path(item, "spectral", base_dir, where, problems)
        aux = item.get("aux", [])
        if not isinstance(aux, list):
            problems.append(f"{where}aux: a list of paths, found {aux!r}")
            aux = []
        aux_paths = [_path({"aux": a}, "aux", base_dir, where, problems) for a in aux]
        name = item.get("name") or (scene_name_for(spectral) if spectral else None)
        if name is not None and (not isinstance(name, str) or not SCENE_NAME.match(name)):
            problems.append(f"{where}name: letters, digits, '.', '_' or '-' (it names the scene's output "
                            f"folder), found {name!r}")
        elif name in names:
            problems.append(f"{where}name: {name!r} is used by another scene; give each scene its own name")
        names.add(name)
        per_layer = {}
        for key in ("bands", "nodata", "scale"):
            entry = item.get(key, {})
            if not isinstance(entry, Mapping):
                problems.append(f"{where}{key}: an object {{modality: value}}, found {entry!r}")
                entry = {}
            per_layer[key] = {str(k): v for k, v in entry.items()}
        if spectral and None not in aux_paths and isinstance(name, str):
            scenes.append(SceneJob(name, spectral, tuple(aux_paths), **per_layer))
    return scenes


def load_job(path: str | os.PathLike) -> BatchJob:
    """Read and check a job file; BDGFError saying what is wrong (nothing has run yet)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise BDGFError(f"Job file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise BDGFError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BDGFError(f"Cannot read the job file {path}: {exc}") from None
    return BatchJob.from_dict(data, os.path.dirname(os.path.abspath(path)), path)


def write_job(job: BatchJob, path: str | os.PathLike) -> str:
    """Write a job file all or nothing (a temporary file beside it, then renamed)."""
    path = os.path.abspath(os.fspath(path))
    BatchJob.from_dict(job.to_dict(), os.path.dirname(path), path)  # what is written reads back
    try:
        write_text(path, json.dumps(job.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise BDGFError(f"Cannot write the job file {path}: {exc.strerror or exc}") from None
    return path


def batch_requirements(backend: str = "onnx") -> list[str]:
    """What `pip install` needs on a machine that runs jobs (besides GDAL's Python bindings)."""
    return ["numpy<2" if p == "numpy" else p for p in BACKEND_PACKAGES[backend]] + [RAY_REQUIREMENT]


def batch_command(job_path: str, engine_parent: str | None = None, python: str = "python3") -> str:
    """The shell command that runs a job: from the folder holding `engine/` (a checkout, or the
    installed plugin's folder)."""
    run = f"{python} -m engine batch {shlex.quote(job_path)}"
    return f"cd {shlex.quote(engine_parent)} && {run}" if engine_parent else run
