"""Input layers against the model card: which raster feeds which modality, with which bands.

Every problem is collected before raising, so the user sees expected vs found for all layers at once.
An auxiliary layer may be left out only when the card gives the model's accuracy without it
(engine/model/missing_modality.py); its Layer then has no path.

    layers = check_inputs(card, {"hsi": "hsi.tif", "sar": "sar.tif", "dsm": "dsm.tif"})
    layers = check_inputs(card, ["hsi.tif", "sar.tif", "dsm.tif"], bands={"sar": [1, 2]},
                          nodata={"hsi": "none"}, scale={"hsi": 0.0001})
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..errors import BDGFError, InputMismatchError
from ..model.missing_modality import missing_layer_message, refusal
from ..raster.nodata import Nodata, check_nodata
from ..raster.read import describe_raster

PathLike = Union[str, os.PathLike]  # typing.Union: a module-level `|` needs Python 3.10 (QGIS 3.22 ships 3.9)


@dataclass
class Layer:
    """One input modality: card entry, source path, 1-based band subset (None = all bands), the nodata
    the user set (None: the file's own; nodata.NO_NODATA: none) and the factor its values are multiplied
    by to match the training data (default: the card's `input_scale`, what training multiplied the layer by;
    else 1.0). `path` None: a layer left out (missing_modality)."""

    name: str
    role: str
    path: str | None
    bands: list[int] | None
    nodata: Nodata = None
    scale: float = 1.0

    @property
    def missing(self) -> bool:
        return self.path is None


def _input_mapping(inputs, names: list[str]) -> dict[str, PathLike]:
    if isinstance(inputs, Mapping):
        return {str(k): v for k, v in inputs.items()}
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    seq = list(inputs)
    mapped = dict(zip(names, seq))
    for i, extra in enumerate(seq[len(names):]):
        mapped[f"input #{len(names) + i + 1}"] = extra
    return mapped


def _resolve_keys(given: Mapping, modalities: list[dict], what: str) -> tuple[dict, list[str]]:
    """Map keys given as modality names (or unique roles) to modality names; list unknown keys."""
    roles = [m["role"] for m in modalities]
    by_role = {m["role"]: m["name"] for m in modalities if roles.count(m["role"]) == 1}
    names = {m["name"] for m in modalities}
    resolved, unknown = {}, []
    for key, value in given.items():
        name = key if key in names else by_role.get(key)
        if name is None:
            unknown.append(f"  {key}: not a modality of this model ({what} {value})")
        else:
            resolved[name] = value
    return resolved, unknown


def _scale(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise BDGFError(f"{name}: the input scale must be a number above 0 (the factor the layer's values "
                        f"are multiplied by), found {value!r}.")
    return number


def check_inputs(card: Mapping, inputs, bands: Mapping | None = None, nodata: Mapping | None = None,
                 scale: Mapping | None = None) -> list[Layer]:
    """Match input rasters to the card's modalities; InputMismatchError lists expected vs found for all.

    bands / nodata / scale: {modality name or unique role: value} for some modalities (see Layer). A
    modality without a layer is an error, unless the card gives the model's accuracy without it
    (engine.model.missing_modality): its Layer has path None."""
    modalities = card["modalities"]
    names = [m["name"] for m in modalities]
    given, unknown = _resolve_keys(_input_mapping(inputs, names), modalities, "input")
    absent = [m["name"] for m in modalities if given.get(m["name"]) in (None, "")]
    subsets, unknown_bands = _resolve_keys(dict(bands or {}), modalities, "bands")
    nodatas, unknown_nodata = _resolve_keys(dict(nodata or {}), modalities, "nodata")
    scales, unknown_scale = _resolve_keys(dict(scale or {}), modalities, "scale")
    unknown_bands += unknown_nodata + unknown_scale
    nodatas = {k: check_nodata(v, k) for k, v in nodatas.items()}
    scales = {k: _scale(v, k) for k, v in scales.items()}
    lines, layers, bad = [], [], bool(unknown or unknown_bands)
    for index, mod in enumerate(modalities):
        name, expected = mod["name"], mod["bands"]
        head = f"  {name} ({mod['role']}): expected {expected} band{'s' * (expected != 1)}"
        subset = subsets.get(name)
        if name in absent:
            why = refusal(card, index, [a for a in absent if a != name and a != names[0]])
            if why:
                lines.append(f"{head}, found no layer (missing): {why}")
                bad = True
            else:
                lines.append(f"{head}, found no layer: {missing_layer_message(card, name)}")
                layers.append(Layer(name, mod["role"], None, None))
            continue
        path = os.fspath(given[name])
        try:
            count = describe_raster(path).band_count
        except BDGFError as exc:
            lines.append(f"{head}, found an unreadable layer: {exc}")
            bad = True
            continue
        problem = _band_problem(subset, count, expected)
        if problem:
            lines.append(f"{head}, found {problem} in {path}")
            bad = True
        else:
            found = f"bands {subset}" if subset else f"{count} band{'s' * (count != 1)}"
            lines.append(f"{head}, found {found} in {path}: ok")
        layers.append(Layer(name, mod["role"], path, [int(b) for b in subset] if subset else None,
                            nodatas.get(name), scales.get(name, float(mod.get("input_scale", 1.0)))))
    if bad:
        raise InputMismatchError(
            f"The input layers do not match model '{card.get('name', '?')}':\n"
            + "\n".join(lines + unknown + unknown_bands))
    return layers


def _band_problem(subset, count: int, expected: int) -> str | None:
    if subset is None:
        return None if count == expected else f"{count} band{'s' * (count != 1)}"
    subset = list(subset)
    out_of_range = [b for b in subset if not isinstance(b, (int, np.integer)) or not 1 <= b <= count]
    if out_of_range:
        return f"band subset {subset} with band(s) {out_of_range} outside 1..{count}"
    if len(set(subset)) != len(subset):
        return f"band subset {subset} with repeated bands"
    if len(subset) != expected:
        return f"a band subset of {len(subset)} band{'s' * (len(subset) != 1)} {subset} (layer has {count})"
    return None
