"""Training configuration: a TOML file read with tomllib into dataclasses.

Same layout as the configs written by training.datasets / training.synthetic (`write_config`).
Relative paths are resolved against the folder of the TOML file. Unknown keys are errors that
name the key and the allowed keys. Schema (``?`` = optional)::

    [dataset]                          # ? metadata; name defaults to the file stem
    name = "augsburg"                  # ? also: description, source, seed, grids, citation,
                                       #   license, url, notes (copied to the model card)
    [data]
    spectral = "hsi.tif"               # the spectral modality (HSI / MSI); defines the pixel grid
    # or: spectral = {path = "hsi.tif", name = "hsi", bands = [1, 2], band_names = [..],
    #                 wavelengths_nm = [..], units = "reflectance", nodata = 0}   (all but path optional)

    [[data.aux]]                       # one table per auxiliary modality (at least one)
    path = "sar.tif"
    role = "sar"                       # sar | lidar | other
    name = "sar"                       # ? default: the role (made unique)
    bands = [1, 2]                     # ? 1-based band subset; band_names ? wavelengths_nm ? units ?
    nodata = -9999                     # ? replaces the nodata the file declares; "none": it has none
                                       #   (the engine's --nodata / QGIS 'Nodata per layer' at inference)
    scale = 0.0001                     # ? multiplies the values as they are read (e.g. reflectance stored
                                       #   as integers x 10000); recorded in the card, and the engine
                                       #   applies it to the same layer unless told otherwise

    [labels]                           # exactly one of the three forms:
    train = "train.tif"                # (a) train + test label rasters
    test = "test.tif"
    raster = "gt.tif"                  # (b) one label raster + [labels.split]
    vector = "gt.gpkg"                 # (c) polygons / points + field (+ layer ?) + [labels.split]
    field = "class"                    #     (integer values; a real or text field of whole numbers)
    layer = "samples"                  # ? default: first layer
    test = "test.gpkg"                 # ? (c) only: test labels (a vector with the same field, or a
                                       #   label raster) instead of [labels.split]
    unlabelled = 0                     # ? label value meaning "no label" (default 0)

    [labels.split]                     # (b) and (c): training pixels taken from the labels
    per_class = 20                     # either a count per class ...
    ratio = 0.1                        # ... or a fraction per class (exactly one of the two)
    seed = 0                           # ? default 0
    block_size = 0                     # ? > 0: spatially disjoint square blocks of this side (px)
    by = "feature"                     # ? (c) only: whole features (a polygon never on both sides);
                                       #   default "pixel"

    [[labels.extra]]                   # ? more training labels, merged into the training side after the
    vector = "to_label.gpkg"           #   split (e.g. bdgf:suggestsamples points, labelled): vector,
    field = "label"                    #   field, layer ?; features without a value are skipped

    [[classes]]                        # ? default: one per label value found (generated names/colours)
    value = 1
    name = "Forest"                    # ? default "Class 1"
    color = "#1b7837"                  # ? default from a fixed palette

    [network]                          # ? overrides of engine.nn.config.BDGFConfig.to_dict()
    patch_size = 11                    #   nested tables: [network.ddpm], [network.masking],
                                       #   [network.classifier], [network.mutual]
    [training]                         # ? hyper-parameters, see TrainingConfig (override the preset)
    ddpm_steps = 2000
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BDGFError
from engine.nn.config import BDGFConfig
from engine.palette import default_colour
from engine.raster.nodata import Nodata, check_nodata
from training.config_checks import ConfigError, check_keys, list_of, table_path, typed
from training.label_config import LabelsConfig, parse_labels

ROLES = ("sar", "lidar", "other")


@dataclass
class LayerConfig:
    path: Path
    role: str  # spectral | sar | lidar | other
    name: str
    bands: list[int] | None = None  # 1-based subset
    band_names: list[str] | None = None
    wavelengths_nm: list[float] | None = None
    units: str | None = None
    nodata: Nodata = None  # None: the file's own; a number replaces it; engine.raster.nodata.NO_NODATA: none
    scale: float = 1.0  # the values as read are multiplied by it (training units)


@dataclass
class ClassConfig:
    value: int
    name: str
    color: str


@dataclass
class TrainingConfig:
    """Hyper-parameters; presets set them, the [training] table overrides them."""
    pca_components: int = 0  # 0 = no PCA
    tile_size: int = 64  # feature extraction tile (multiple of the DDPM stride)
    halo: int = 0  # 0 = receptive radius of the DDPM, rounded up to the stride
    ddpm_steps: int = 2000
    ddpm_batch: int = 8
    ddpm_tile: int = 32  # side of the random pre-training tiles
    ddpm_lr: float = 2e-3
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2  # of the training pixels, for model selection
    val_block_size: int = 0  # > 0: validation pixels drawn as whole blocks of this side (spatially apart)
    seed: int = 0
    num_workers: int = 0
    tsne_points: int = 1500
    eval_stride: int = 1  # the prediction map (report figure) on every n-th pixel
    eval_test_pixels: int = 0  # > 0: metrics on a seeded random sample of that many test pixels (0 = all)
    # Few labels (issue 17). With 10 labels per class an epoch is 2-3 optimiser steps, so `epochs` alone
    # leaves the classifier under-trained: each epoch repeats the fitting pixels until the run has at
    # least `min_steps` steps.
    min_steps: int = 0
    # Fewer training pixels than this in some class: no validation split (it would take 1-2 of a class's
    # few labels and select on noise); all labels fit and the final epoch is kept.
    val_min_per_class: int = 0
    # Self-training: after the classifier is trained, up to `pseudo_per_class` unlabelled pixels per class
    # on which every branch agrees with the fused class and the fused probability >= `pseudo_threshold`
    # are added as labels and the classifier is trained again from its initialisation (`pseudo_rounds`).
    pseudo_rounds: int = 0
    pseudo_per_class: int = 50
    pseudo_threshold: float = 0.9
    # Modality dropout: the probability that a training patch loses one auxiliary modality (neutral fill 0
    # in the input, and the diffusion features of the input so filled, as the engine computes them when
    # that layer is not given). > 0 also measures the test OA with each auxiliary modality missing and
    # writes it into the model card: the engine accepts a run without a layer only with that figure.
    modality_dropout: float = 0.0
    # Spectral dropout: the probability that a patch loses the spectral modality instead (same fill). The
    # engine never runs without the spectral layer; this makes "spectral at the fill" an input the network
    # has seen, so the contribution map's spectral band measures what the auxiliaries cannot replace.
    spectral_dropout: float = 0.0


@dataclass
class RunConfig:
    name: str
    description: str
    dataset: dict[str, Any]
    source: Path | None
    spectral: LayerConfig
    auxiliary: list[LayerConfig]
    labels: LabelsConfig
    classes: list[ClassConfig] | None
    network: dict[str, Any]
    training: dict[str, Any]

    @property
    def layers(self) -> list[LayerConfig]:
        return [self.spectral, *self.auxiliary]


LAYER_KEYS = {"path", "name", "bands", "band_names", "wavelengths_nm", "units", "nodata", "scale"}


def _nodata(value: Any, where: str) -> Nodata:
    try:
        return check_nodata(value, where)
    except BDGFError as exc:
        raise ConfigError(str(exc)) from None


def _layer(table: dict, role: str | None, base: Path, where: str) -> LayerConfig:
    allowed = LAYER_KEYS | ({"role"} if role is None else set())
    check_keys(table, allowed, where, {"path"} | ({"role"} if role is None else set()))
    if role is None:
        role = typed(table["role"], str, f"{where}.role")
        if role not in ROLES:
            raise ConfigError(f"{where}.role must be one of {', '.join(ROLES)}, found {role!r}")
    bands = list_of(table["bands"], int, f"{where}.bands") if "bands" in table else None
    if bands is not None and (not bands or min(bands) < 1 or len(set(bands)) != len(bands)):
        raise ConfigError(f"{where}.bands must be distinct 1-based band numbers, found {bands}")
    layer = LayerConfig(
        path=table_path(table["path"], base, f"{where}.path"), role=role,
        name=typed(table.get("name", "hsi" if role == "spectral" else role), str, f"{where}.name"),
        bands=bands,
        band_names=(list_of(table["band_names"], str, f"{where}.band_names")
                    if "band_names" in table else None),
        wavelengths_nm=(list_of(table["wavelengths_nm"], float, f"{where}.wavelengths_nm")
                        if "wavelengths_nm" in table else None),
        units=typed(table["units"], str, f"{where}.units") if "units" in table else None,
        nodata=_nodata(table.get("nodata"), f"{where}.nodata"),
        scale=typed(table.get("scale", 1.0), float, f"{where}.scale"),
    )
    if not (layer.scale > 0 and layer.scale < float("inf")):
        raise ConfigError(f"{where}.scale must be a number above 0, found {layer.scale}")
    for key in ("band_names", "wavelengths_nm"):
        values = getattr(layer, key)
        if values is not None and bands is not None and len(values) != len(bands):
            raise ConfigError(f"{where}.{key} has {len(values)} entries but bands selects {len(bands)} bands")
    return layer


def _classes(items: Any) -> list[ClassConfig]:
    if not isinstance(items, list) or not items:
        raise ConfigError("[[classes]] must be a non-empty array of tables")
    out = []
    for i, table in enumerate(items):
        where = f"classes[{i}]"
        check_keys(table, {"value", "name", "color"}, where, {"value"})
        value = typed(table["value"], int, f"{where}.value")
        if not 1 <= value <= 65535:
            raise ConfigError(f"{where}.value must be in 1..65535, found {value}")
        color = typed(table.get("color", default_colour(i)), str, f"{where}.color")
        if len(color) != 7 or not color.startswith("#"):
            raise ConfigError(f"{where}.color must look like '#rrggbb', found {color!r}")
        name = typed(table.get("name", f"Class {value}"), str, f"{where}.name")
        out.append(ClassConfig(value, name, color))
    values = [c.value for c in out]
    if len(set(values)) != len(values):
        raise ConfigError(f"[[classes]] repeats a value: {values}")
    return out


def default_classes(values: list[int]) -> list[ClassConfig]:
    return [ClassConfig(int(v), f"Class {int(v)}", default_colour(i)) for i, v in enumerate(values)]


def training_config(overrides: dict[str, Any], base: TrainingConfig | None = None) -> TrainingConfig:
    """Apply [training] overrides (type-checked) on a preset's TrainingConfig."""
    base = base or TrainingConfig()
    fields = {f.name: f for f in dataclasses.fields(TrainingConfig)}
    check_keys(overrides, set(fields), "[training]")
    values = {}
    for key, value in overrides.items():
        kind = type(getattr(TrainingConfig(), key))
        values[key] = typed(value, kind, f"training.{key}")
    return dataclasses.replace(base, **values)


def merge_network(base: dict[str, Any], overrides: dict[str, Any], where: str = "[network]") -> dict:
    """BDGFConfig dict with [network] overrides applied (nested tables merged); unknown keys are errors."""
    check_keys(overrides, set(base), where)
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(base[key], dict) and key != "guidance":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key} must be a table")
            out[key] = merge_network(base[key], value, f"[network.{key}]" if where == "[network]" else
                                     f"{where[:-1]}.{key}]")
        else:
            out[key] = value
    return out


def network_config(base: dict[str, Any], overrides: dict[str, Any]) -> BDGFConfig:
    try:
        return BDGFConfig.from_dict(merge_network(base, overrides))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[network]: {exc}") from exc


DATASET_KEYS = {"name", "description", "source", "seed", "grids", "citation", "license", "url", "notes"}


def parse_config(data: dict[str, Any], base: Path, source: Path | None = None) -> RunConfig:
    check_keys(data, {"dataset", "data", "labels", "classes", "network", "training"}, "the top level",
                {"data", "labels"})
    dataset = data.get("dataset", {})
    check_keys(dataset, DATASET_KEYS, "[dataset]")
    check_keys(data["data"], {"spectral", "aux"}, "[data]", {"spectral", "aux"})
    spec = data["data"]["spectral"]
    spectral = _layer(spec if isinstance(spec, dict) else {"path": spec}, "spectral", base, "data.spectral")
    aux_items = data["data"]["aux"]
    if not isinstance(aux_items, list) or not aux_items:
        raise ConfigError("[[data.aux]] needs at least one auxiliary modality (sar, lidar or other)")
    auxiliary = [_layer(t, None, base, f"data.aux[{i}]") for i, t in enumerate(aux_items)]
    names = [spectral.name]
    for layer in auxiliary:  # unique modality names
        name, k = layer.name, 2
        while name in names:
            name, k = f"{layer.name}{k}", k + 1
        layer.name = name
        names.append(name)
    network = data.get("network", {})
    merge_network(BDGFConfig().to_dict(), network)  # validates keys now
    training = data.get("training", {})
    training_config(training)  # validates keys and types now
    return RunConfig(
        name=typed(dataset.get("name", source.stem if source else "bdgf"), str, "dataset.name"),
        description=typed(dataset.get("description", ""), str, "dataset.description"),
        dataset={k: v for k, v in dataset.items() if k not in ("name", "description")},
        source=source, spectral=spectral, auxiliary=auxiliary, labels=parse_labels(data["labels"], base),
        classes=_classes(data["classes"]) if "classes" in data else None,
        network=network, training=training,
    )


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"configuration file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(data, path.resolve().parent, path.resolve())
