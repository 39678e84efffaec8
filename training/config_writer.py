"""Writing training config TOML files: the writer behind every config.toml that training code produces.

    write_config("out/config.toml", name="demo", spectral="hsi.tif", labels=labels, classes=classes)

Owns `write_config` and the small TOML serialiser it needs (tomllib only reads). The dataset importers
(training.datasets) and the synthetic scenes (training.synthetic) call it; training/config.py reads
the result and documents the full schema. The subset written here (paths relative to the config file):

    [dataset]                      # name, description, source, seed, grids, citation, license, notes
    name = "augsburg"
    description = "Augsburg (S2FL)"

    [data]
    spectral = "hsi.tif"           # or an inline table: {path = "hsi.tif", name = "hsi",
                                   #   wavelengths_nm = [...], units = "reflectance"}
    [[data.aux]]                   # auxiliary modalities, in model order (at least one)
    path = "sar.tif"
    role = "sar"                   # "sar" | "lidar"
    name = "sar"
    band_names = ["SAR1", "SAR2", "SAR3", "SAR4"]

    [labels]                       # either train + test label rasters ...
    train = "train.tif"
    test = "test.tif"
    # ... or one label raster and a split rule (MUUFL):
    # raster = "labels.tif"
    # [labels.split]
    # per_class = 100              # random training pixels per class; the rest is test
    # seed = 0

    [[classes]]                    # one per class, in model order; value = pixel value in the rasters
    value = 1
    name = "Forest"
    color = "#1b7837"
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence


def _toml_value(v) -> str:
    if isinstance(v, bool):  # before int: bool is an int subclass
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):  # numpy's integers too
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def write_config(path: str, **config) -> str:
    """Write the training config TOML (config_text's keywords) all or nothing: a crash never leaves a
    half-written config that loads without error. Returns the path."""
    # imported here: QGIS imports this module (config_text), and there `engine` is not a top-level package
    from engine.raster.atomic import write_text

    return write_text(path, config_text(**config))


def config_text(*, name: str, spectral: str | dict, aux: Sequence[dict] = (), labels: dict,
                classes: Sequence[dict], dataset: dict | None = None, training: dict | None = None) -> str:
    """The training config TOML (schema in the module docstring; paths relative to the file). `labels`
    may hold a "split" dict ([labels.split]) and an "extra" list ([[labels.extra]]); `training`: a
    [training] table (seed, step counts, ...).
    Standard library only: the QGIS side writes configs with it."""
    lines = ["# BDGF training config; paths are relative to this file.", "", "[dataset]",
             f"name = {_toml_value(name)}"]
    for k, v in (dataset or {}).items():
        if v is not None:
            lines.append(f"{k} = {_toml_value(v)}")
    lines += ["", "[data]", f"spectral = {_toml_value(spectral)}"]
    for a in aux:
        lines += ["", "[[data.aux]]"] + [f"{k} = {_toml_value(v)}" for k, v in a.items() if v is not None]
    lines += ["", "[labels]"] + [f"{k} = {_toml_value(v)}" for k, v in labels.items()
                                 if v is not None and k not in ("split", "extra")]
    if labels.get("split"):
        lines += ["", "[labels.split]"] + [f"{k} = {_toml_value(v)}" for k, v in labels["split"].items()]
    for more in labels.get("extra") or []:
        lines += ["", "[[labels.extra]]"] + [f"{k} = {_toml_value(v)}" for k, v in more.items()
                                             if v is not None]
    for c in classes:
        lines += ["", "[[classes]]", f"value = {int(c['value'])}", f"name = {_toml_value(c['name'])}",
                  f"color = {_toml_value(c['color'])}"]
    if training:
        lines += ["", "[training]"] + [f"{k} = {_toml_value(v)}" for k, v in training.items()
                                      if v is not None]
    return "\n".join(lines) + "\n"
