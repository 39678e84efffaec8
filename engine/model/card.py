"""The model card: schema v1, its validation, the one builder and its text form.

A card is the JSON document inside every `.bdgf` package that says what the model expects (modalities,
band counts, normalisation), what it produces (classes, colours) and how it tiles (patch, halo, stride).
Training, the demo and the benchmarks all build cards with `build_card`, so there is one schema in code.

    card = build_card(name="demo", classes=[...], modalities=[...], normalization={...}, network=cfg,
                      tile_size=64, halo=32, stride=4)
    validate_card(card); print(format_card(card))
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ModelPackageError
from ..settings import ClassifyOutputs
from .missing_modality import runs_without_line

SCHEMA = "bdgf-model-card"
SCHEMA_VERSION = 1
REQUIRED_KEYS = (
    "schema", "schema_version", "name", "classes", "modalities", "normalization",
    "patch_size", "tile_size", "halo", "stride", "diffusion",
)
NORMALIZATION_METHOD = ("per band: 2nd-98th percentile of the valid pixels (a seeded sample of up to "
                        "100,000) -> [-1, 1], clipped to [-3, 3]; nodata -> 0")
NOISE_RECIPE = "engine.noise.position_noise(noise_seed, row0, col0, H, W, C, K)"
# What a package's graphs can give beyond the fused probabilities. Written by `package.write_package`
# from the graphs themselves (never claimed by hand), checked against them when a package is opened.
BRANCH_PROBABILITIES = "branch_probabilities"  # classifier graphs' output branch_probs (B, branches, N)
CAPABILITIES = (BRANCH_PROBABILITIES,)
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


# ---------------------------------------------------------------- the one builder

def build_card(*, name: str, classes: list[dict], modalities: list[dict], normalization: Mapping,
               network: Any, tile_size: int, halo: int, stride: int, pca: Mapping | None = None,
               description: str = "", training: Mapping | None = None, metrics: Mapping | None = None,
               software: Mapping | None = None, created: str | None = None) -> dict:
    """A schema-v1 card (validated; `content_hash` is added by `package.write_package`).

    `network` is an `engine.nn.config.BDGFConfig` (duck-typed here so this module never imports torch):
    the patch size, the diffusion timesteps and the noise seed are read from it, so the card cannot
    disagree with the network it describes.
    """
    ddpm = network.ddpm
    card = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "name": name,
        "created": created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (dt.UTC: Python 3.11+)
        "description": description or f"BDGF model trained on {name}",
        "classes": [dict(c) for c in classes],
        "modalities": [dict(m) for m in modalities],
        "normalization": {**normalization, "method": NORMALIZATION_METHOD},
        "pca": dict(pca) if pca else None,
        "patch_size": int(network.patch_size), "tile_size": int(tile_size), "halo": int(halo),
        "stride": int(stride),
        "diffusion": {"timesteps": [int(t) for t in ddpm.feature_timesteps],
                      "noise_seed": int(ddpm.noise_seed), "T": int(ddpm.T),
                      "beta_schedule": ddpm.beta_schedule, "noise": NOISE_RECIPE},
        "network": network.to_dict(),
        "training": dict(training or {}),
        "metrics": dict(metrics or {}),
        "software": dict(software or {}),
    }
    validate_card(card)
    return card


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
    caps = card.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise ModelPackageError(f"Model card: 'capabilities' must be a list of names, found {caps!r}.")


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
    lines.append(network_line(card))
    diffusion = card.get("diffusion") or {}
    if diffusion:
        lines.append(f"Diffusion: timesteps {diffusion.get('timesteps')}, "
                     f"noise seed {diffusion.get('noise_seed')}")
    metrics = card.get("metrics") or {}
    if metrics:
        shown = ", ".join(f"{k.upper()} {_fmt_number(v)}" for k, v in metrics.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool))
        lines.append(f"Metrics: {shown or '-'}")
    lines.append(runs_without_line(card))
    software = card.get("software") or {}
    if software:
        lines.append("Software: " + ", ".join(f"{k} {v}" for k, v in software.items()))
    lines.append("Outputs:")
    lines.extend(f"  {'yes' if ok else 'no '}  {name}" + (f" ({why})" if why else "")
                 for name, ok, why in supported_outputs(card))
    lines.append(f"Content hash: {card.get('content_hash', '(none)')}")
    return "\n".join(lines)


# ---------------------------------------------------------------- what a package can output

# What each classifier network version is, in a user's words (engine/nn/config.py NETWORK_VERSIONS).
NETWORK_VERSION_NAMES = {1: "patch-token branches (models made before December 2026: slower dense inference)",
                         2: "window-shared branches (models made in early December 2026)",
                         3: "block-token branches"}


def network_version(card: Mapping) -> int:
    """The classifier network's version the card records; cards written before versions hold version 1."""
    classifier = (card.get("network") or {}).get("classifier") or {}
    return int(classifier.get("version", 1))


def network_line(card: Mapping) -> str:
    version = network_version(card)
    return f"Network version {version}: {NETWORK_VERSION_NAMES.get(version, 'unknown to this plugin')}"


def has_capability(card: Mapping, name: str) -> bool:
    return name in (card.get("capabilities") or [])


def branch_names(card: Mapping) -> list[str]:
    """The classifier branches whose softmaxes are fused (card network); [] when the card does not say."""
    branches = ((card.get("network") or {}).get("classifier") or {}).get("branches")
    return [str(b) for b in branches] if isinstance(branches, list) else []


def _branch_support(card: Mapping) -> str:
    """Whether the package can give branch disagreement / agreement: "ok", "no-graph-output" (exported
    without each branch's probabilities) or "one-branch". The one rule of supported_outputs and
    check_request."""
    if not has_capability(card, BRANCH_PROBABILITIES):
        return "no-graph-output"
    return "ok" if len(branch_names(card)) >= 2 else "one-branch"


def supported_outputs(card: Mapping) -> list[tuple[str, bool, str]]:
    """(output, supported, why not / what it needs) for every output of a classification, in the order the
    CLI and QGIS list them: what `engine info`, bdgf:modelinfo and the dock show."""
    names = ", ".join(branch_names(card))
    branch = {"no-graph-output": (False, "the classifier graphs do not give each branch's probabilities: add "
                                         "them with python -m training.export_model --add-branch-outputs "
                                         "MODEL.bdgf"),
              "one-branch": (False, f"one classifier branch ({names or '?'}): nothing to compare"),
              "ok": (True, f"{len(branch_names(card))} branches: {names}")}[_branch_support(card)]
    m = len(card.get("modalities") or [])
    return [("class map, probabilities, confidence", True, ""),
            ("entropy (uncertainty of the fused probabilities)", True, ""),
            ("branch disagreement (Jensen-Shannon) and branch agreement", *branch),
            ("modality contribution and dominant modality", True,
             f"{m} extra feature + classifier passes per tile, one per modality")]


def check_request(outputs: ClassifyOutputs, card: Mapping, model_path: str) -> None:
    """ModelPackageError, before any work, when the outputs ask for branch disagreement / agreement and
    the package cannot give them (supported_outputs' rule), with the fix."""
    wanted = [label for label, path in (("branch disagreement", outputs.disagreement),
                                        ("branch agreement", outputs.agreement)) if path]
    support = _branch_support(card)
    if not wanted or support == "ok":
        return
    what = " and ".join(wanted) + (" outputs need" if len(wanted) > 1 else " output needs")
    branches = branch_names(card)
    if support == "no-graph-output":
        shape = f"(batch, {len(branches) or 'branches'}, {len(card['classes'])})"
        raise ModelPackageError(
            f"The {what} each classifier branch's probabilities, but the model package {model_path} was "
            f"exported without them: its classifier graphs have no output 'branch_probs' {shape} and its "
            f"card no capability '{BRANCH_PROBABILITIES}' (found: only the fused 'probs'). Add them from the "
            "package's own weights, nothing retrained: python -m training.export_model --add-branch-outputs "
            f"{model_path} (or retrain with this version). The class map, probabilities, confidence, "
            "entropy and modality contribution work with this package as it is. Nothing was written.")
    raise ModelPackageError(
        f"The {what} two or more classifier branches to compare, but the model in {model_path} has "
        f"one ({', '.join(branches) or 'unknown'}): its disagreement would be 0 everywhere. Use the "
        "entropy output instead. Nothing was written.")


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


def modality_channels(card: Mapping) -> list[int]:
    """Network input channels per modality, in card order: the band counts, the spectral one replaced by
    the number of PCA components when the card has PCA."""
    channels = [int(m["bands"]) for m in card["modalities"]]
    pca = card.get("pca")
    if isinstance(pca, int) and not isinstance(pca, bool):
        channels[0] = pca
    elif isinstance(pca, Mapping):
        for key in ("components", "pca_components", "n_components"):
            if key in pca:
                channels[0] = int(pca[key])
                break
    return channels


def feature_channels(card: Mapping) -> int:
    """Diffusion feature channels the classifier reads (sum over the UNet's decoder levels)."""
    ddpm = card.get("network", {}).get("ddpm", {})
    base, mults = ddpm.get("base_width", 32), ddpm.get("channel_mults", [1, 2, 2])
    return int(sum(base * m for m in mults))
