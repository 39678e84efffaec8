"""Checks made before a classification does any work: where it writes, and what its inputs hold.

`check_outputs` refuses output paths that would overwrite a file an input reads or the model, folders
that cannot take the files and outputs that cannot fit the free space (engine/raster/guard.py);
`inspect_inputs` reads a small sample of every layer over the common area and refuses values the model
was not trained on (a scale or unit mismatch), refuses a scene with nothing to classify, and returns
warnings (layers mostly nodata, an area smaller than the model's patch). Every message says what was
expected, what was found and how to fix it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import BDGFError
from ..raster.grid import Grid
from ..raster.guard import check_outputs as check_outputs_guard
from ..raster.guard import raster_sidecars
from ..raster.nodata import NO_NODATA
from ..raster.read import describe_raster, sample_window
from ..raster.write import class_dtype
from ..settings import ClassifyOutputs
from .inputs import Layer

# ---------------------------------------------------------------- outputs

def check_outputs(outputs: ClassifyOutputs, layers: Sequence[Layer], model_path: str | None, grid: Grid,
                  classes: Sequence[Mapping]) -> None:
    """BDGFError when an output (or its .aux.xml / .qml) would replace a file an input layer reads or the
    model, two outputs would write one file, a folder is missing or read-only, or the outputs could outgrow
    the free space of their disk (raster.guard, the one guard of every writer)."""
    check_outputs_guard(outputs.named_paths(),
                        inputs={f"{layer.name} input layer": layer.path for layer in layers
                                if not layer.missing},
                        protected={"model package": model_path} if model_path else None,
                        sidecars=raster_sidecars, sizes=output_bytes(outputs, grid, classes, len(layers)),
                        size_note=f"uncompressed, for {grid.width} x {grid.height} px",
                        space_advice=_space_advice)


def _space_advice(labels: list[str]) -> str:
    optional = [label for label in labels if label != "class raster"]
    return (f", leave out the {' and '.join(optional)}" if optional else "") + " or clip the layers to a " \
        "smaller area"


def output_bytes(outputs: ClassifyOutputs, grid: Grid, classes: Sequence[Mapping],
                 modalities: int = 1) -> dict[str, int]:
    """Uncompressed size of each output (the most it can take on disk: DEFLATE usually makes it smaller)."""
    pixels = grid.width * grid.height
    per_pixel = {"class raster": class_dtype(classes).itemsize, "probabilities": 4 * len(classes),
                 "confidence": 4, "entropy": 4, "branch disagreement": 4, "branch agreement": 4,
                 "modality contribution": 4 * modalities, "dominant modality": 1}
    return {label: pixels * per_pixel[label] for label in outputs.named_paths()}


# ---------------------------------------------------------------- inputs

# Pixels of the sample whose values are compared with the training statistics (evenly strided over the
# sample's valid pixels): 2nd/98th percentiles of 180 bands over all 65,536 sample pixels took 0.5 s of an
# 11 s classification; from 16,384 a percentile moves by well under a percentile rank.
VALUE_PIXELS = 16384


def inspect_inputs(card: Mapping, layers: Sequence[Layer], sources: Sequence, area: tuple[int, int, int, int],
                   max_pixels: int = 256 * 256) -> list[str]:
    """Warnings about the inputs; BDGFError when their values do not look like the training data or when
    no pixel can be classified. `layers` are the layers given (none left out), `sources` those layers
    aligned on the reference grid (nodata applied), `area` the window they all cover; a sample of at most
    `max_pixels` of it is read."""
    r0, c0, h, w = area
    names = [m["name"] for m in card["modalities"]]
    samples = [sample_window(ds, r0, c0, h, w, max_pixels) for ds in sources]
    exact = all(s[2] for s in samples)
    warnings, mismatches = [], []
    for layer, (data, valid, _) in zip(layers, samples):
        share = 1.0 - float(valid.mean())
        if share > 0.5:
            warnings.append(_nodata_warning(layer, share, h, w))
        i = names.index(layer.name)
        if valid.any():
            values = data[:, valid]
            values = values[:, ::max(1, values.shape[1] // VALUE_PIXELS)]
            problem = _value_problem(layer, values.astype(np.float64) * layer.scale,
                                     card["normalization"]["low"][i], card["normalization"]["high"][i])
            if problem:
                mismatches.append(problem)
    if mismatches:
        raise BDGFError("The input values do not look like the data the model was trained on, so the map "
                        "would be wrong:\n" + "\n".join(mismatches))
    common = np.logical_and.reduce([valid for _, valid, _ in samples])
    if not common.any():
        shares = ", ".join(f"{layer.name} {100 * (1 - float(valid.mean())):.0f} %"
                           for layer, (_, valid, _) in zip(layers, samples))
        message = (f"No pixel can be classified: every pixel of the area the layers share ({w} x {h} px) is "
                   f"nodata in at least one layer (nodata share: {shares}). Check each layer's nodata value "
                   "(--nodata / 'Nodata per layer') and that the layers cover the same place.")
        if exact:
            raise BDGFError(message)
        warnings.append(message.replace("No pixel can be classified", "No valid pixel in a sample"))
    patch = int(card["patch_size"])
    if h < patch or w < patch:
        warnings.append(f"The area the layers share ({w} x {h} px) is smaller than the model's patch "
                        f"({patch} x {patch} px): every patch reaches past the data, which the network "
                        "sees as nodata, so expect unreliable classes. Use a larger scene.")
    return warnings


def _nodata_warning(layer: Layer, share: float, h: int, w: int) -> str:
    declared = describe_raster(layer.path).nodata
    value = layer.nodata if layer.nodata is not None else next((v for v in declared if v is not None), None)
    if value is None or value == NO_NODATA:
        cause, fix = "NaN or masked pixels", "Check the layer's extent and mask."
    else:
        how = "set for this run" if layer.nodata is not None else "declared by the file"
        cause = f"nodata value {value:g} ({how})"
        fix = (f"If {value:g} is a real value in this layer, set its nodata to none (command line: "
               f"--nodata {layer.name}=none; QGIS: 'Nodata per layer' {layer.name}=none) or to the "
               "layer's true nodata value.")
    return (f"{layer.name}: {100 * share:.0f} % of the area the layers share ({w} x {h} px) is "
            f"nodata in {layer.path} ({cause}); those pixels stay unclassified. {fix}")


def _value_problem(layer: Layer, x: np.ndarray, low: Sequence[float], high: Sequence[float]) -> str | None:
    """A line saying how `x` (bands, n; in training units) differs from the training statistics (the card's
    per-band 2nd / 98th percentiles), or None when most bands look like the training data."""
    if len(low) != x.shape[0]:
        return None  # statistics not per input band: nothing to compare with
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    span = np.maximum(high - low, 1e-12)
    as_run = x.astype(np.float32)  # the engine computes in float32 (and divides by the scale)
    underflow = x.any() and not as_run.any()  # a layer of real zeros (a flat nDSM) is fine
    if not np.isfinite(as_run).all() or underflow or not np.isfinite(np.float32(1) / np.float32(layer.scale)):
        what = "infinite" if not np.isfinite(as_run).all() else "all 0"
        return (f"  {layer.name} ({layer.path}): multiplied by the input scale {layer.scale:g}, the values "
                f"become {what}. Check the scale (reflectance stored as integers x 10000 needs 0.0001).")
    p2, p98 = np.percentile(x, [2, 98], axis=1)
    far = ((x < (low - span)[:, None]) | (x > (high + span)[:, None])).mean(axis=1) > 0.5
    # values 100 times (or more) too small: their spread shrinks to a sliver of the training range and
    # most of them fall just outside it (the check above sees only values too large). A small flat area (an
    # nDSM of bare ground) has a sliver of a spread too, but inside the training range.
    outside = ((x < low[:, None]) | (x > high[:, None])).mean(axis=1) > 0.5
    far |= ((p98 - p2) < span / 100) & outside
    to_linear = (low >= 0) & (p98 < 0)  # negative values where training had none: decibels
    to_db = (high <= 0) & (p2 >= 0) & (p98 > high)  # non-negative values where training had none
    flagged = far | to_linear | to_db
    if flagged.sum() * 2 <= len(flagged):
        return None
    b = int(np.flatnonzero(flagged)[0])
    seen = (f"band {b + 1}: 2-98 % of the values {p2[b]:.4g}..{p98[b]:.4g}, training {low[b]:.4g}.."
            f"{high[b]:.4g}; {int(flagged.sum())} of {len(flagged)} bands differ like this")
    head = f"  {layer.name} ({layer.path}): {seen}."
    scaled = f" (already multiplied by the input scale {layer.scale:g})" if layer.scale != 1 else ""
    if to_linear.sum() * 2 > len(flagged):
        return (f"{head} The values are negative where the training data had none{scaled}: they look like "
                "decibels, but the model was trained on linear power. Convert the layer to linear power, "
                "10 ^ (dB / 10) (QGIS Raster calculator).")
    if to_db.sum() * 2 > len(flagged):
        return (f"{head} The values are positive where the training data were all negative{scaled}: they "
                "look like linear power, but the model was trained on decibels. Convert the layer to dB, "
                "10 * log10(value) (QGIS Raster calculator).")
    ratio = np.median((p98 - p2)[flagged] / span[flagged])
    power = math.log10(ratio) if ratio > 0 else 0.0
    k = round(power)
    if k != 0 and abs(power - k) < 0.35:
        fix = f"{layer.scale * 10.0 ** -k:g}"
        return (f"{head} The values are about {10.0 ** k:g} times those of the training data{scaled} "
                f"(for example reflectance stored as integers x 10000). Set an input scale of {fix} for "
                f"{layer.name} (command line: --scale {layer.name}={fix}; QGIS: 'Input scale per layer' "
                f"{layer.name}={fix}), or rescale the layer.")
    return (f"{head} Check the layer's units, scaling and band order against the model card (the card's "
            "normalization lists the training range of every band); rescale the layer, or set its input "
            "scale (--scale / 'Input scale per layer').")
