"""Model package `.bdgf`: a zip with the model card, two ONNX graphs and safetensors weights.

Never pickle: the card is JSON, the weights are safetensors (numpy API).
`content_hash` = "sha256:" + sha256 over the other members in canonical order, see `_content_hash`.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import ModelPackageError
from ..raster.atomic import atomic_file
from .card import (
    BRANCH_PROBABILITIES,
    branch_names,
    feature_channels,
    has_capability,
    modality_channels,
    validate_card,
)
from .onnx_shapes import GraphFormatError, graph_shapes

CARD_MEMBER = "card.json"
ONNX_MEMBERS = ("features.onnx", "classifier.onnx")
WEIGHTS_MEMBER = "weights.safetensors"
MEMBERS = (CARD_MEMBER, *ONNX_MEMBERS, WEIGHTS_MEMBER)
# The dense classifier (engine/nn/dense.py) as two graphs: both or neither. Optional so that packages
# written before them still open (ONNX Runtime then runs the patchwise classifier.onnx); hashed after
# MEMBERS when present, so those packages keep their hash.
DENSE_MEMBERS = ("classifier_maps.onnx", "classifier_pixels.onnx")
# The classifier graphs' optional second output: each branch's softmax (engine.nn.export). A package has
# the capability when every classifier graph it holds (classifier.onnx, classifier_pixels.onnx) gives it.
BRANCH_OUTPUT = "branch_probs"
BRANCH_GRAPHS = ("classifier.onnx", "classifier_pixels.onnx")
HASH_PREFIX = "sha256:"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same inputs give the same bytes


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
    """sha256 over (name, size, bytes) of each member in MEMBERS order (then the DENSE_MEMBERS present),
    card in canonical form."""
    digest = hashlib.sha256()
    card_bytes = canonical_card_bytes(card)
    for name in (*MEMBERS, *(m for m in DENSE_MEMBERS if m in sizes)):
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
    if member not in ONNX_MEMBERS + DENSE_MEMBERS:
        raise ModelPackageError(
            f"Unknown ONNX graph {name!r}; expected one of: {', '.join(ONNX_MEMBERS + DENSE_MEMBERS)}.")
    return member


# ---------------------------------------------------------------- graphs against the card

def check_graphs(card: Mapping, graphs: Mapping[str, bytes], where: str,
                 capabilities: bool = True) -> list[str]:
    """ModelPackageError listing every way the ONNX graphs' declared shapes disagree with the card; returns
    the capabilities the graphs give (engine.model.card.CAPABILITIES).

    The backends feed the graphs what the card describes, so a disagreement would otherwise surface as
    an ONNX Runtime or numpy error in the middle of a run. Symbolic dimensions (batch, H, W) are free.
    capabilities: also check that the card claims exactly what the graphs give (False when the card's
    claim is about to be written from the graphs).
    """
    channels = modality_channels(card)
    c = sum(channels)
    f, k = feature_channels(card), len(card["diffusion"]["timesteps"])
    p, n = int(card["patch_size"]), len(card["classes"])
    parts = " + ".join(f"{m['name']} {ch}" for m, ch in zip(card["modalities"], channels))
    said = {"C": f"{c} input channels ({parts})", "F": f"{f} diffusion feature channels (network.ddpm)",
            "K": f"{k} diffusion timesteps", "P": f"a patch of {p} px", "N": f"{n} classes"}
    branches = branch_names(card)
    said["B"] = f"{len(branches)} classifier branches ({', '.join(branches)})"
    value = {"C": c, "F": f, "K": k, "P": p, "N": n, "1": 1, "B": len(branches) or None}
    # (member, input or output, name, expected dimensions: a key of `value`, or None for any size)
    value["L"] = p * p
    expected = [
        ("features.onnx", "input", "x", ("1", "C", None, None)),
        ("features.onnx", "input", "noise", ("K", "C", None, None)),
        ("features.onnx", "output", "feats", ("1", "F", None, None)),
        ("classifier.onnx", "input", "x", (None, "C", "P", "P")),
        ("classifier.onnx", "input", "d", (None, "F", "P", "P")),
        ("classifier.onnx", "output", "probs", (None, "N")),
        ("classifier_maps.onnx", "input", "x", ("1", "C", None, None)),
        ("classifier_maps.onnx", "input", "d", ("1", "F", None, None)),
        ("classifier_pixels.onnx", "input", "index", (None, "L")),
        ("classifier_pixels.onnx", "output", "probs", (None, "N")),
    ]
    said["L"] = f"a patch of {p} px ({p * p} pixels)"
    shapes, problems = {}, []
    dense = [m for m in DENSE_MEMBERS if m in graphs]
    if dense and len(dense) != len(DENSE_MEMBERS):
        problems.append(f"{dense[0]} without {(set(DENSE_MEMBERS) - set(dense)).pop()} (both or neither)")
    for member in (*ONNX_MEMBERS, *dense):
        try:
            shapes[member] = graph_shapes(graphs[member])
        except GraphFormatError as exc:
            problems.append(f"{member} is not a readable ONNX model ({exc})")
    if len(dense) == len(DENSE_MEMBERS) and all(m in shapes for m in DENSE_MEMBERS):
        tables = list(shapes["classifier_maps.onnx"].outputs)
        inputs = [n for n in shapes["classifier_pixels.onnx"].inputs if n != "index"]
        if tables != inputs:
            problems.append(f"classifier_maps.onnx outputs {tables}, classifier_pixels.onnx reads {inputs}")
    branch_graphs = [m for m in BRANCH_GRAPHS if m in shapes]
    gives = [m for m in branch_graphs if BRANCH_OUTPUT in shapes[m].outputs]
    expected += [(m, "output", BRANCH_OUTPUT, (None, "B", "N")) for m in gives]
    if gives and len(gives) != len(branch_graphs):
        problems.append(f"{gives[0]} gives '{BRANCH_OUTPUT}' but {(set(branch_graphs) - set(gives)).pop()} "
                        "does not (every classifier graph or none)")
    found_caps = [BRANCH_PROBABILITIES] if gives and len(gives) == len(branch_graphs) else []
    if capabilities and has_capability(card, BRANCH_PROBABILITIES) != bool(found_caps):
        problems.append(f"the card {'claims' if not found_caps else 'does not claim'} "
                        f"'{BRANCH_PROBABILITIES}', the classifier graphs "
                        f"{'give' if found_caps else 'do not give'} '{BRANCH_OUTPUT}'")
    for member, kind, name, dims in expected:
        if member not in shapes:
            continue
        declared = (shapes[member].inputs if kind == "input" else shapes[member].outputs)
        if name not in declared:
            problems.append(f"{member} has no {kind} '{name}' (its {kind}s: {', '.join(declared) or 'none'})")
            continue
        found = declared[name]
        if len(found) != len(dims):
            problems.append(f"{member} {kind} '{name}' has shape {found}, expected {len(dims)} dimensions")
            continue
        for key, dim in zip(dims, found):
            if key is not None and isinstance(dim, int) and value[key] is not None and dim != value[key]:
                problems.append(f"card says {said.get(key, value[key])}, {member} expects {dim} "
                                f"({kind} '{name}' of shape {found})")
                break
    if problems:
        raise ModelPackageError(
            f"{where}: the model card and the ONNX graphs disagree: " + "; ".join(problems)
            + ". The package is inconsistent; export it again from its training run.")
    return found_caps


# ---------------------------------------------------------------- write

def write_package(path: str | os.PathLike, card: dict, onnx: Mapping[str, bytes],
                  tensors: Mapping[str, np.ndarray]) -> str:
    """Write a `.bdgf` package atomically and return its content hash.

    `onnx` maps "features"/"classifier" (or "features.onnx"/"classifier.onnx"), and optionally both
    "classifier_maps"/"classifier_pixels" (the dense classifier), to serialized graphs;
    `tensors` maps "ddpm.*"/"classifier.*" names to arrays. Fills `card["capabilities"]` (from the
    graphs) and `card["content_hash"]` in place.
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
    # what the graphs can give is recorded in the card from the graphs themselves
    card["capabilities"] = check_graphs(card, graphs, f"Cannot write package {os.fspath(path)}",
                                        capabilities=False)
    blobs = {**graphs, WEIGHTS_MEMBER: weights}
    try:
        content_hash = _content_hash(card, {k: [v] for k, v in blobs.items()},
                                     {k: len(v) for k, v in blobs.items()})
    except ValueError as exc:
        raise ModelPackageError(f"Cannot write package: the card is not valid JSON ({exc}).") from exc
    card["content_hash"] = content_hash
    card_text = json.dumps(card, indent=2, ensure_ascii=False, default=_json_default)

    with atomic_file(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(CARD_MEMBER, _ZIP_DATE), card_text.encode("utf-8"),
                    compress_type=zipfile.ZIP_DEFLATED)
        for name in (*ONNX_MEMBERS, WEIGHTS_MEMBER, *(m for m in DENSE_MEMBERS if m in blobs)):
            zf.writestr(zipfile.ZipInfo(name, _ZIP_DATE), blobs[name], compress_type=zipfile.ZIP_DEFLATED)
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
                check_graphs(self.card, {m: zf.read(m) for m in (*ONNX_MEMBERS, *self._dense)}, self.path)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:  # zlib: a damaged deflate stream
            raise ModelPackageError(f"{self.path}: damaged zip archive ({exc}).") from exc

    def _check_members(self, zf: zipfile.ZipFile) -> None:
        present = set(zf.namelist())
        self._dense = tuple(m for m in DENSE_MEMBERS if m in present)
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
        others = [m for m in (*MEMBERS, *self._dense) if m != CARD_MEMBER]
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
        return modality_channels(self.card)

    @property
    def has_branch_probs(self) -> bool:
        """Whether the classifier graphs give each branch's probabilities (output BRANCH_OUTPUT; the card's
        capability BRANCH_PROBABILITIES, checked against the graphs on open)."""
        return has_capability(self.card, BRANCH_PROBABILITIES)

    @property
    def has_dense(self) -> bool:
        """Whether the package holds the dense classifier graphs (DENSE_MEMBERS)."""
        return len(self._dense) == len(DENSE_MEMBERS)

    def onnx(self, name: str) -> bytes:
        """Serialized ONNX graph: "features", "classifier", "classifier_maps" or "classifier_pixels"
        (".onnx" optional; the last two only when `has_dense`)."""
        member = _onnx_member(name)
        if member in DENSE_MEMBERS and member not in self._dense:
            raise ModelPackageError(f"{self.path} has no {member} (written before the dense classifier).")
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
