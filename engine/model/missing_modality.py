"""Classifying without an auxiliary layer (README, "Trust outputs": running without a layer).

A model trained with modality dropout (`training.modality_dropout`, on in every preset) has seen inputs
with one auxiliary modality at the neutral fill, and its card gives the test metrics with each auxiliary
modality missing:

    card["metrics"]["missing_modality"] = {"sar": {"oa": 0.91, "aa": ..., "kappa": ..., "test_pixels": N}}

Only for a modality with such a figure may its layer be left out, one auxiliary modality at a time (the
figures are for one missing modality; training never measured two). The engine then fills that
modality's normalised channels with `engine.normalise.NEUTRAL_FILL` at every pixel (the one rule,
`engine.normalise.fill_modality`, also the modality contribution's and what training fed the network),
computes the diffusion features of the input so filled, and takes the valid mask from the layers given.
The spectral modality is never optional: it defines the output grid.

Standard library only (the card view imports it in QGIS before numpy is known to exist).

    figures = missing_figures(card)          # {"sar": {...}, "dsm": {...}} or {}
    print(runs_without_line(card))           # "Can run without: sar (test OA 72.0 %), dsm (...)"
    print(missing_layer_message(card, "sar"))  # "sar missing: the model card gives test OA 72.0 % ..."
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# What a user runs to get a model that can run without a layer (messages say it).
DROPOUT_FIX = ("use a model trained with modality dropout, whose card gives the test accuracy without the "
               "layer (every training preset does it, e.g. python -m training.run --preset cpu)")


def _fraction(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def missing_figures(card: Mapping) -> dict[str, dict]:
    """{auxiliary modality name: its metrics without it} for the modalities the model can run without,
    in card order; {} for a card without figures (trained before modality dropout, or without it). An
    entry counts only when it names an auxiliary modality of the card and has an OA in 0..1."""
    table = (card.get("metrics") or {}).get("missing_modality")
    if not isinstance(table, Mapping):
        return {}
    out = {}
    for modality in list(card.get("modalities") or [])[1:]:
        entry = table.get(modality.get("name"))
        if isinstance(entry, Mapping) and _fraction(entry.get("oa")) is not None:
            out[str(modality["name"])] = dict(entry)
    return out


def full_oa(card: Mapping) -> float | None:
    """The card's test OA with every layer, when it has one."""
    return _fraction((card.get("metrics") or {}).get("oa"))


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def without_phrase(card: Mapping, name: str) -> str:
    """'test OA 72.0 % without it instead of 81.1 % with every layer' (the card's figures)."""
    oa = _fraction(missing_figures(card)[name]["oa"])
    full = full_oa(card)
    instead = f" instead of {_percent(full)} with every layer" if full is not None else ""
    return f"test OA {_percent(oa)} without it{instead}"


def missing_layer_message(card: Mapping, name: str) -> str:
    """'sar missing: the model card gives test OA 72.0 % without it instead of 81.1 % with every layer'."""
    return f"{name} missing: the model card gives {without_phrase(card, name)}"


def runs_without_line(card: Mapping) -> str:
    """The card's answer to "which layer may I leave out?", for `engine info`, bdgf:modelinfo and the dock."""
    figures = missing_figures(card)
    if figures:
        shown = ", ".join(f"{name} (test OA {_percent(_fraction(f['oa']))})" for name, f in figures.items())
        return f"Can run without: {shown}; one at a time"
    return ("Can run without: no layer (the card gives no test accuracy without a layer: every layer is "
            "needed)")


def refusal(card: Mapping, index: int, others_missing: Sequence[str] = ()) -> str | None:
    """Why modality `index` (card order) may not be left out, or None when it may (the line of
    `engine.classify.inputs.check_inputs` after "found no layer (missing)")."""
    modalities = card["modalities"]
    name = modalities[index]["name"]
    if index == 0:
        return ("the spectral layer is always needed (it defines the output grid); give it")
    if name not in missing_figures(card):
        return (f"this model cannot run without {name}: its card gives no test accuracy without it. Give "
                f"the layer, or {DROPOUT_FIX}")
    if others_missing:
        return (f"only one auxiliary layer may be left out, and {', '.join(others_missing)} is missing too "
                "(the card's figures are for one missing modality at a time). Give all but one of them")
    return None


def left_out(card: Mapping, missing: Sequence[bool]) -> tuple[list[int], list[str]]:
    """(card indices of the layers left out of a run, one line saying each: the run's warnings)."""
    indices = [i for i, gone in enumerate(missing) if gone]
    return indices, [missing_layer_message(card, card["modalities"][i]["name"]) for i in indices]


def left_out_figures(card: Mapping, indices: Sequence[int]) -> dict[str, dict]:
    """{modality: the card's metrics without it} of the layers left out (ClassifyResult's
    missing_modalities)."""
    figures = missing_figures(card)
    return {card["modalities"][i]["name"]: figures[card["modalities"][i]["name"]] for i in indices}


def fill_missing(x, channels: Sequence[int], missing: Sequence[int]):
    """The normalised input x (1, C, H, W) with the channels of the `missing` modalities (card indices) at
    the neutral fill, in place: the one rule (`engine.normalise.fill_modality`)."""
    from ..normalise import (
        fill_modality,  # numpy: this module stays standard library only (the card imports it)
    )

    for m in missing:
        fill_modality(x, channels, m, out=x)
    return x
