"""Before a training child starts: the layers overlap, the labels lie in the area they share, every class
has labelled pixels there (refused by name when one has none, a warning below 3), the run folder is
writable and holds the feature cache; and what the run should cost (time, disk, memory), for the log.
No QGIS import: the layers arrive as file paths, the labels as WKB shapes or a label raster.
"""
import os
import shutil
from dataclasses import dataclass, field

import numpy as np

from ..engine.errors import BDGFError
from ..engine.raster.grid import intersection_window
from ..engine.raster.labels import burn_shapes, read_labels
from ..engine.raster.read import describe_raster
from ..training.progress_stream import estimate_run, probe_seconds

FEW_PIXELS = 3  # fewer labelled pixels than this in a class: a warning (training runs, but learns little)


@dataclass
class Preflight:
    pixels: int  # of the area every layer covers
    channels: int
    train_pixels: dict = field(default_factory=dict)  # class name -> labelled pixels in that area
    test_pixels: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    lines: list = field(default_factory=list)  # what the log shows


def _counts(labels, classes):
    counts = np.bincount(labels[labels > 0].ravel(), minlength=max(c["value"] for c in classes) + 1)
    return {c["name"]: int(counts[c["value"]]) for c in classes}


def check(layers, classes, train_shapes=None, train_raster=None, test_shapes=None, test_raster=None,
          run_folder=None, preset="quick", seeds=1, device="auto"):
    """`layers`: [(name, path)] spectral first; `classes`: [{"value", "name", "color"}]; the labels as
    WKB shapes [(wkb, code)] in the spectral layer's CRS or a label raster path. BDGFError, with every
    problem found, when training cannot start."""
    infos = [describe_raster(path) for _name, path in layers]
    ref = infos[0].grid
    window = intersection_window(ref, [info.grid for info in infos[1:]], [name for name, _ in layers[1:]])
    grid = ref.window(*window)
    channels = sum(info.band_count for info in infos)
    result = Preflight(pixels=grid.width * grid.height, channels=channels)
    train = (burn_shapes(train_shapes, grid) if train_shapes is not None
             else read_labels(train_raster, grid, what="training labels"))
    result.train_pixels = _counts(train, classes)
    problems = []
    if not any(result.train_pixels.values()):
        problems.append(f"No labelled pixel lies in the area every layer covers ({grid.describe()}): the "
                        "labels are elsewhere, or in another CRS than they say. Check that the label layer "
                        "overlaps the spectral, SAR and LiDAR layers.")
    else:
        empty = [name for name, n in result.train_pixels.items() if n == 0]
        if empty:
            problems.append(f"The class(es) {', '.join(repr(n) for n in empty)} have no labelled pixel in "
                            "the area every layer covers: add labels of them there, or leave them out (a "
                            "filter on the label layer, or 'Selected features only').")
        few = [f"{name!r} ({n})" for name, n in result.train_pixels.items() if 0 < n < FEW_PIXELS]
        if few:
            result.warnings.append(f"Very few labelled pixels for {', '.join(few)}: the model will barely "
                                   "learn these classes.")
    if test_shapes is not None or test_raster is not None:
        test = (burn_shapes(test_shapes, grid) if test_shapes is not None
                else read_labels(test_raster, grid, what="test labels"))
        result.test_pixels = _counts(test, classes)
        untested = [name for name, n in result.test_pixels.items() if n == 0]
        if untested:
            result.warnings.append(f"No test pixels for {', '.join(repr(n) for n in untested)}: their "
                                   "accuracy is not measured.")
    estimate = estimate_run(preset, result.pixels, channels, seeds, probe_seconds())
    if run_folder is not None:
        problems += _folder_problems(run_folder, estimate.cache_bytes * seeds + (64 << 20))
    if problems:
        raise BDGFError("\n".join(problems))
    result.lines = [f"Area every layer covers: {grid.width} x {grid.height} px, {channels} bands in all.",
                    "Labelled pixels per class there: " + ", ".join(f"{k} {v}" for k, v in
                                                                    result.train_pixels.items()),
                    *estimate.lines(preset, device)]
    if result.test_pixels:
        result.lines.insert(2, "Test pixels per class: " + ", ".join(f"{k} {v}" for k, v in
                                                                     result.test_pixels.items()))
    return result


def _folder_problems(folder, needed_bytes):
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, ".bdgf-write-check")
        with open(probe, "w", encoding="utf-8") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        return [f"The run folder {folder} cannot be written ({exc.strerror or exc}): choose another one."]
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        return [f"The run folder {folder} has {free / 2 ** 20:,.0f} MB free; the run needs about "
                f"{needed_bytes / 2 ** 20:,.0f} MB (feature cache and checkpoints): free some space or "
                "choose another folder."]
    return []
