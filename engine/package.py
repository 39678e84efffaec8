"""Model package `.bdgf`: a zip with the model card, two ONNX graphs and safetensors weights.

Never pickle: the card is JSON, the weights are safetensors (numpy API).
`content_hash` = "sha256:" + sha256 over the other members in canonical order, see `_content_hash`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import ModelPackageError

SCHEMA = "bdgf-model-card"
SCHEMA_VERSION = 1
CARD_MEMBER = "card.json"
ONNX_MEMBERS = ("features.onnx", "classifier.onnx")
WEIGHTS_MEMBER = "weights.safetensors"
MEMBERS = (CARD_MEMBER, *ONNX_MEMBERS, WEIGHTS_MEMBER)
HASH_PREFIX = "sha256:"

REQUIRED_KEYS = (
    "schema", "schema_version", "name", "classes", "modalities", "normalization",
    "patch_size", "tile_size", "halo", "stride", "diffusion",
)
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same inputs give the same bytes


# ---------------------------------------------------------------- card validation

def validate_card(card: Any) -> None:
    """Raise ModelPackageError with a plain message when the card does not follow schema v1.

    `content_hash` is not required here (ModelPackage checks it against the members).
    """
    if not isinstance(card, Mapping):
        raise ModelPackageError(f"Model card: expected a JSON object, found {type(card).__name__}.")
    if card.get("schema") != SCHEMA:
        raise ModelPackageError(
            f"Model card: unknown schema {card.get('schema')!r}, expected {SCHEMA!r}.")
    version = card.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ModelPackageError(
            f"Model card: unsupported schema_version {version!r}; this version of BDGF reads "
            f"schema_version {SCHEMA_VERSION}. Update the plugin or re-export the model.")
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise ModelPackageError(f"Model card: missing required key(s): {', '.join(missing)}.")
    if not isinstance(card["name"], str) or not card["name"].strip():
        raise ModelPackageError(f"Model card: 'name' must be a non-empty text, found {card['name']!r}.")
    _validate_classes(card["classes"])
    _validate_modalities(card["modalities"])
    _validate_normalization(card["normalization"], card["modalities"], card.get("pca"))
    _validate_geometry(card)


def _validate_classes(classes: Any) -> None:
    if not isinstance(classes, list) or not classes:
        raise ModelPackageError(f"Model card: 'classes' must be a non-empty list, found {classes!r}.")
    seen_values: set[int] = set()
    for i, cls in enumerate(classes):
        where = f"Model card: classes[{i}]"
        if not isinstance(cls, Mapping):
            raise ModelPackageError(f"{where}: expected an object with value, name and color, found {cls!r}.")
        missing = [k for k in ("value", "name", "color") if k not in cls]
        if missing:
            raise ModelPackageError(f"{where}: missing {', '.join(missing)} (found keys: {sorted(cls)}).")
        value = cls["value"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
            raise ModelPackageError(
                f"{where}: 'value' must be an integer from 1 to 65535 (0 is nodata), found {value!r}.")
        if value in seen_values:
            raise ModelPackageError(
                f"{where}: duplicate class value {value}; each class needs its own value.")
        seen_values.add(value)
        if not isinstance(cls["name"], str) or not cls["name"].strip():
            raise ModelPackageError(f"{where}: 'name' must be a non-empty text, found {cls['name']!r}.")
        color = cls["color"]
        if not isinstance(color, str) or not _COLOR_RE.match(color):
            raise ModelPackageError(
                f"{where} ({cls['name']}): 'color' must look like #rrggbb, found {color!r}.")


def _validate_modalities(modalities: Any) -> None:
    if not isinstance(modalities, list) or not modalities:
        raise ModelPackageError(f"Model card: 'modalities' must be a non-empty list, found {modalities!r}.")
    names: set[str] = set()
    for i, mod in enumerate(modalities):
        where = f"Model card: modalities[{i}]"
        if not isinstance(mod, Mapping):
            raise ModelPackageError(f"{where}: expected an object with name, role and bands, found {mod!r}.")
        missing = [k for k in ("name", "role", "bands") if k not in mod]
        if missing:
            raise ModelPackageError(f"{where}: missing {', '.join(missing)} (found keys: {sorted(mod)}).")
        name = mod["name"]
        if not isinstance(name, str) or not name:
            raise ModelPackageError(f"{where}: 'name' must be a non-empty text, found {name!r}.")
        if name in names:
            raise ModelPackageError(f"{where}: duplicate modality name {name!r}.")
        names.add(name)
        bands = mod["bands"]
        if not isinstance(bands, int) or isinstance(bands, bool) or bands < 1:
            raise ModelPackageError(f"{where} ({name}): 'bands' must be a positive integer, found {bands!r}.")
        for key in ("band_names", "wavelengths_nm"):
            listed = mod.get(key)
            if listed is not None and (not isinstance(listed, list) or len(listed) != bands):
                found = len(listed) if isinstance(listed, list) else repr(listed)
                raise ModelPackageError(
                    f"{where} ({name}): '{key}' must list {bands} entries (one per band), found {found}.")
    roles = [m["role"] for m in modalities]
    if roles.count("spectral") != 1 or roles[0] != "spectral":
        raise ModelPackageError(
            "Model card: expected exactly one modality with role 'spectral', listed first; "
            f"found roles {roles}.")


def _validate_normalization(norm: Any, modalities: list, pca: Any) -> None:
    if not isinstance(norm, Mapping) or "low" not in norm or "high" not in norm:
        raise ModelPackageError(
            f"Model card: 'normalization' must be an object with 'low' and 'high', found {norm!r}.")
    for key in ("low", "high"):
        per_mod = norm[key]
        if not isinstance(per_mod, list) or len(per_mod) != len(modalities):
            found = len(per_mod) if isinstance(per_mod, list) else repr(per_mod)
            raise ModelPackageError(
                f"Model card: normalization['{key}'] must hold one list per modality "
                f"({len(modalities)}), found {found}.")
        for i, (values, mod) in enumerate(zip(per_mod, modalities)):
            if not isinstance(values, list) or not all(_is_finite_number(v) for v in values):
                raise ModelPackageError(
                    f"Model card: normalization['{key}'][{i}] ({mod['name']}) "
                    "must be a list of finite numbers.")
            if pca is None and len(values) != mod["bands"]:
                raise ModelPackageError(
                    f"Model card: normalization['{key}'][{i}] ({mod['name']}) has {len(values)} values, "
                    f"expected {mod['bands']} (one per band).")
    for i, (low, high) in enumerate(zip(norm["low"], norm["high"])):
        if len(low) != len(high):
            raise ModelPackageError(
                f"Model card: normalization low/high for modality {i} differ in length "
                f"({len(low)} vs {len(high)}).")


def _validate_geometry(card: Mapping) -> None:
    for key in ("patch_size", "tile_size", "stride"):
        value = card[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelPackageError(f"Model card: '{key}' must be a positive integer, found {value!r}.")
    halo = card["halo"]
    if not isinstance(halo, int) or isinstance(halo, bool) or halo < 0:
        raise ModelPackageError(f"Model card: 'halo' must be an integer >= 0, found {halo!r}.")
    if card["patch_size"] % 2 != 1:
        raise ModelPackageError(f"Model card: 'patch_size' must be odd, found {card['patch_size']}.")
    if card["tile_size"] % card["stride"]:
        raise ModelPackageError(
            f"Model card: 'tile_size' ({card['tile_size']}) must be a multiple of "
            f"'stride' ({card['stride']}).")


def _is_finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---------------------------------------------------------------- hashing / serialisation

def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_card_bytes(card: Mapping) -> bytes:
    """The card without `content_hash`, as hashed: sorted keys, compact, UTF-8."""
    body = {k: v for k, v in card.items() if k != "content_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=_json_default).encode("utf-8")


def _content_hash(card: Mapping, chunks_by_member: Mapping[str, Iterable[bytes]],
                  sizes: Mapping[str, int]) -> str:
    """sha256 over (name, size, bytes) of each member in MEMBERS order, card in canonical form."""
    digest = hashlib.sha256()
    card_bytes = canonical_card_bytes(card)
    for name in MEMBERS:
        if name == CARD_MEMBER:
            size, chunks = len(card_bytes), [card_bytes]
        else:
            size, chunks = sizes[name], chunks_by_member[name]
        digest.update(name.encode("ascii") + b"\0" + size.to_bytes(8, "little"))
        for chunk in chunks:
            digest.update(chunk)
    return HASH_PREFIX + digest.hexdigest()


def _onnx_member(name: str) -> str:
    member = name if name.endswith(".onnx") else name + ".onnx"
    if member not in ONNX_MEMBERS:
        raise ModelPackageError(
            f"Unknown ONNX graph {name!r}; expected one of: {', '.join(ONNX_MEMBERS)}.")
    return member


# ---------------------------------------------------------------- write

def write_package(path: str | os.PathLike, card: dict, onnx: Mapping[str, bytes],
                  tensors: Mapping[str, np.ndarray]) -> str:
    """Write a `.bdgf` package atomically and return its content hash.

    `onnx` maps "features"/"classifier" (or "features.onnx"/"classifier.onnx") to serialized graphs;
    `tensors` maps "ddpm.*"/"classifier.*" names to arrays. Fills `card["content_hash"]` in place.
    """
    from safetensors.numpy import save as save_safetensors

    validate_card(card)
    graphs = {_onnx_member(k): bytes(v) for k, v in onnx.items()}
    missing = [m for m in ONNX_MEMBERS if m not in graphs]
    if missing:
        raise ModelPackageError(f"Cannot write package: missing ONNX graph(s) {', '.join(missing)}.")
    arrays = {str(k): np.ascontiguousarray(v) for k, v in tensors.items()}
    try:
        weights = save_safetensors(arrays)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelPackageError(f"Cannot write package: weights could not be serialised ({exc}).") from exc
    blobs = {**graphs, WEIGHTS_MEMBER: weights}
    try:
        content_hash = _content_hash(card, {k: [v] for k, v in blobs.items()},
                                     {k: len(v) for k, v in blobs.items()})
    except ValueError as exc:
        raise ModelPackageError(f"Cannot write package: the card is not valid JSON ({exc}).") from exc
    card["content_hash"] = content_hash
    card_text = json.dumps(card, indent=2, ensure_ascii=False, default=_json_default)

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".bdgf.part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zipfile.ZipInfo(CARD_MEMBER, _ZIP_DATE), card_text.encode("utf-8"),
                        compress_type=zipfile.ZIP_DEFLATED)
            for name in (*ONNX_MEMBERS, WEIGHTS_MEMBER):
                zf.writestr(zipfile.ZipInfo(name, _ZIP_DATE), blobs[name], compress_type=zipfile.ZIP_DEFLATED)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return content_hash


# ---------------------------------------------------------------- read

class ModelPackage:
    """A validated `.bdgf` package. Members are read on demand; the hash is checked on open."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise ModelPackageError(f"Model package not found: {self.path}")
        if not zipfile.is_zipfile(self.path):
            raise ModelPackageError(
                f"{self.path} is not a BDGF model package: expected a zip archive (.bdgf).")
        try:
            with zipfile.ZipFile(self.path) as zf:
                self._check_members(zf)
                self.card = self._read_card(zf)
                self._check_hash(zf)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ModelPackageError(f"{self.path}: damaged zip archive ({exc}).") from exc

    def _check_members(self, zf: zipfile.ZipFile) -> None:
        present = set(zf.namelist())
        missing = [m for m in MEMBERS if m not in present]
        if missing:
            raise ModelPackageError(
                f"{self.path}: missing member(s) {', '.join(missing)}; a package holds "
                f"{', '.join(MEMBERS)} (found: {', '.join(sorted(present)) or 'nothing'}).")

    def _read_card(self, zf: zipfile.ZipFile) -> dict:
        try:
            card = json.loads(zf.read(CARD_MEMBER).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelPackageError(f"{self.path}: card.json is not valid JSON ({exc}).") from exc
        validate_card(card)
        return card

    def _check_hash(self, zf: zipfile.ZipFile) -> None:
        stored = self.card.get("content_hash")
        if not isinstance(stored, str) or not stored.startswith(HASH_PREFIX):
            raise ModelPackageError(
                f"{self.path}: model card has no valid content_hash (expected 'sha256:…', found {stored!r}).")
        others = [m for m in MEMBERS if m != CARD_MEMBER]
        chunks = {m: _iter_member(zf, m) for m in others}
        sizes = {m: zf.getinfo(m).file_size for m in others}
        actual = _content_hash(self.card, chunks, sizes)
        if actual != stored:
            raise ModelPackageError(
                f"{self.path}: content hash mismatch, the package was modified or damaged "
                f"(card says {stored}, contents give {actual}).")

    # --- accessors
    @property
    def content_hash(self) -> str:
        return self.card["content_hash"]

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def classes(self) -> list[dict]:
        return self.card["classes"]

    @property
    def modalities(self) -> list[dict]:
        return self.card["modalities"]

    def class_values(self) -> list[int]:
        return [c["value"] for c in self.classes]

    def class_names(self) -> list[str]:
        return [c["name"] for c in self.classes]

    def expected_bands(self) -> dict[str, int]:
        """Input band count per modality name, in card order (before PCA)."""
        return {m["name"]: m["bands"] for m in self.modalities}

    def modality_channels(self) -> list[int]:
        """Channels per modality after PCA, as the network splits its input."""
        pca = self.card.get("pca")
        channels = [m["bands"] for m in self.modalities]
        if isinstance(pca, int) and not isinstance(pca, bool):
            channels[0] = pca
        elif isinstance(pca, Mapping):
            for key in ("components", "pca_components", "n_components"):
                if key in pca:
                    channels[0] = int(pca[key])
                    break
        return channels

    def onnx(self, name: str) -> bytes:
        """Serialized ONNX graph: "features" or "classifier" (".onnx" optional)."""
        member = _onnx_member(name)
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(member)

    def tensors(self, prefix: str = "", strip: bool = True) -> dict[str, np.ndarray]:
        """Weights whose name starts with `prefix`; the prefix is removed from keys when `strip`."""
        from safetensors.numpy import load as load_safetensors

        with zipfile.ZipFile(self.path) as zf:
            data = zf.read(WEIGHTS_MEMBER)
        try:
            arrays = load_safetensors(data)
        except Exception as exc:
            raise ModelPackageError(f"{self.path}: weights.safetensors cannot be read ({exc}).") from exc
        cut = len(prefix) if strip else 0
        return {k[cut:]: v for k, v in arrays.items() if k.startswith(prefix)}

    def __repr__(self) -> str:
        return f"ModelPackage({self.path!r}, name={self.name!r}, {self.content_hash[:19]}…)"


def _iter_member(zf: zipfile.ZipFile, name: str, chunk: int = 1 << 20) -> Iterable[bytes]:
    with zf.open(name) as fh:
        while block := fh.read(chunk):
            yield block


# ---------------------------------------------------------------- human-readable card

def format_card(card: Mapping) -> str:
    """Multi-line description of a card, for `python -m engine info` and the QGIS log."""
    lines = [f"Model: {card.get('name', '?')}"]
    for key, label in (("description", "Description"), ("created", "Created")):
        if card.get(key):
            lines.append(f"{label}: {card[key]}")
    lines.append(f"Schema: {card.get('schema')} v{card.get('schema_version')}")
    classes = card.get("classes") or []
    lines.append(f"Classes ({len(classes)}):")
    for c in classes:
        lines.append(f"  {c.get('value'):>5}  {c.get('color')}  {c.get('name')}")
    modalities = card.get("modalities") or []
    lines.append(f"Modalities ({len(modalities)}):")
    for m in modalities:
        lines.append(f"  {m.get('name')} [{m.get('role')}]: {m.get('bands')} band(s)" + _band_summary(m))
    if card.get("pca"):
        lines.append(f"PCA: {card['pca']}")
    lines.append(f"Patch {card.get('patch_size')} px, tile {card.get('tile_size')} px, "
                 f"halo {card.get('halo')} px, stride {card.get('stride')}")
    diffusion = card.get("diffusion") or {}
    if diffusion:
        lines.append(f"Diffusion: timesteps {diffusion.get('timesteps')}, "
                     f"noise seed {diffusion.get('noise_seed')}")
    metrics = card.get("metrics") or {}
    if metrics:
        shown = ", ".join(f"{k.upper()} {_fmt_number(v)}" for k, v in metrics.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool))
        lines.append(f"Metrics: {shown or '-'}")
    software = card.get("software") or {}
    if software:
        lines.append("Software: " + ", ".join(f"{k} {v}" for k, v in software.items()))
    lines.append(f"Content hash: {card.get('content_hash', '(none)')}")
    return "\n".join(lines)


def _band_summary(mod: Mapping) -> str:
    parts = []
    names = mod.get("band_names")
    if names:
        shown = ", ".join(map(str, names[:6])) + (", …" if len(names) > 6 else "")
        parts.append(f"names {shown}")
    wl = mod.get("wavelengths_nm")
    if wl:
        parts.append(f"{min(wl):g}–{max(wl):g} nm")
    if mod.get("units"):
        parts.append(str(mod["units"]))
    return f" ({'; '.join(parts)})" if parts else ""


def _fmt_number(v: float) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)
