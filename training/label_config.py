"""The [labels] table of a training config: train + test label rasters, one label raster or a vector with a
split rule, a vector with its own test labels, and [[labels.extra]] (schema in training/config.py)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config_checks import ConfigError, check_keys, table_path, typed

SPLIT_BY = ("pixel", "feature")


@dataclass
class SplitConfig:
    per_class: int | None = None
    ratio: float | None = None
    seed: int = 0
    block_size: int = 0
    by: str = "pixel"  # "feature": whole labelled features (vector labels only)


@dataclass
class VectorLabels:
    path: Path
    field: str
    layer: str | None = None


@dataclass
class LabelsConfig:
    kind: str  # "rasters" | "raster" | "vector"
    train: Path | None = None
    test: Path | None = None
    raster: Path | None = None
    vector: Path | None = None
    field: str | None = None
    layer: str | None = None
    unlabelled: int = 0
    split: SplitConfig | None = None
    # training labels added after the split ([[labels.extra]])
    extra: list[VectorLabels] = dataclasses.field(default_factory=list)


def _split(table: dict, where: str) -> SplitConfig:
    check_keys(table, {"per_class", "ratio", "seed", "block_size", "by"}, where)
    if ("per_class" in table) == ("ratio" in table):
        raise ConfigError(f"{where} needs exactly one of 'per_class' (count) or 'ratio' (fraction)")
    split = SplitConfig(seed=typed(table.get("seed", 0), int, f"{where}.seed"),
                        block_size=typed(table.get("block_size", 0), int, f"{where}.block_size"))
    if "per_class" in table:
        split.per_class = typed(table["per_class"], int, f"{where}.per_class")
        if split.per_class < 1:
            raise ConfigError(f"{where}.per_class must be >= 1, found {split.per_class}")
    else:
        split.ratio = typed(table["ratio"], float, f"{where}.ratio")
        if not 0.0 < split.ratio < 1.0:
            raise ConfigError(f"{where}.ratio must lie in (0, 1), found {split.ratio}")
    if split.block_size < 0:
        raise ConfigError(f"{where}.block_size must be >= 0, found {split.block_size}")
    split.by = typed(table.get("by", "pixel"), str, f"{where}.by")
    if split.by not in SPLIT_BY:
        raise ConfigError(f"{where}.by must be one of {', '.join(SPLIT_BY)}, found {split.by!r}")
    if split.by == "feature" and split.block_size:
        raise ConfigError(f"{where}: by = \"feature\" keeps whole features together; it takes no block_size")
    return split


def _extra(items: Any, base: Path) -> list[VectorLabels]:
    if not isinstance(items, list):
        raise ConfigError("[[labels.extra]] must be an array of tables")
    out = []
    for i, table in enumerate(items):
        where = f"labels.extra[{i}]"
        check_keys(table, {"vector", "field", "layer"}, where, {"vector", "field"})
        out.append(VectorLabels(table_path(table["vector"], base, f"{where}.vector"),
                                typed(table["field"], str, f"{where}.field"),
                                typed(table["layer"], str, f"{where}.layer") if "layer" in table else None))
    return out


def parse_labels(table: dict, base: Path) -> LabelsConfig:
    allowed = {"train", "test", "raster", "vector", "field", "layer", "unlabelled", "split", "extra"}
    check_keys(table, allowed, "[labels]")
    unlabelled = typed(table.get("unlabelled", 0), int, "labels.unlabelled")
    extra = _extra(table.get("extra", []), base)
    present = {"train/test": "train" in table, "raster": "raster" in table, "vector": "vector" in table}
    forms = [name for name, found in present.items() if found]
    if len(forms) != 1:
        raise ConfigError("[labels] needs exactly one of: 'train' + 'test' (label rasters), 'raster' + "
                          f"[labels.split], or 'vector' + 'field' + [labels.split]; found {forms or 'none'}")
    if forms[0] == "train/test":
        check_keys(table, {"train", "test", "unlabelled", "extra"}, "[labels] (train + test form)",
                    {"train", "test"})
        return LabelsConfig("rasters", train=table_path(table["train"], base, "labels.train"),
                            test=table_path(table["test"], base, "labels.test"), unlabelled=unlabelled,
                            extra=extra)
    if forms[0] == "vector" and "test" in table:  # given test labels: nothing to split
        check_keys(table, {"vector", "field", "layer", "test", "unlabelled", "extra"},
                    "[labels] (vector + test form)", {"field"})
        return LabelsConfig("vector", vector=table_path(table["vector"], base, "labels.vector"),
                            field=typed(table["field"], str, "labels.field"),
                            layer=typed(table["layer"], str, "labels.layer") if "layer" in table else None,
                            test=table_path(table["test"], base, "labels.test"), unlabelled=unlabelled,
                            extra=extra)
    if "split" not in table:
        raise ConfigError(f"[labels] with '{forms[0]}' needs a [labels.split] table (per_class or ratio)"
                          + (" or test labels ('test')" if forms[0] == "vector" else ""))
    split = _split(table["split"], "[labels.split]")
    if forms[0] == "raster":
        check_keys(table, {"raster", "unlabelled", "split", "extra"}, "[labels] (raster form)")
        if split.by != "pixel":
            raise ConfigError("[labels.split] by = \"feature\" needs vector labels; a label raster has no "
                              "features (use block_size for spatially apart training and test pixels)")
        return LabelsConfig("raster", raster=table_path(table["raster"], base, "labels.raster"),
                            unlabelled=unlabelled, split=split, extra=extra)
    check_keys(table, {"vector", "field", "layer", "unlabelled", "split", "extra"}, "[labels] (vector form)",
                {"field"})
    return LabelsConfig("vector", vector=table_path(table["vector"], base, "labels.vector"),
                        field=typed(table["field"], str, "labels.field"),
                        layer=typed(table["layer"], str, "labels.layer") if "layer" in table else None,
                        unlabelled=unlabelled, split=split, extra=extra)
