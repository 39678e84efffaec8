"""The rasters of one classification run, written tile by tile through the writers of engine/raster/write.py.

`RunWriters` opens every output the run asks for (`ClassifyOutputs`), writes a `TileResult` into each and,
when the run ends, closes them all (each checked) before renaming any: all or nothing, as
engine/raster/write.py describes. Besides the class raster, probabilities and confidence it writes the trust
outputs (trust/uncertainty.py, trust/contribution.py): single-band Float32 rasters on 0..1 (nodata -1)
with a `.qml` sidecar that QGIS loads as their style (a pseudocolour ramp from 0 to 1), the modality
contribution (one band per modality) and the dominant modality (a paletted raster like the class map).
"""
from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BDGFError
from ..model.card import branch_names
from ..raster.atomic import PARTIAL, remove_quietly
from ..raster.style import pseudocolor_qml, qml_path_for
from ..raster.write import ClassRasterWriter, ConfidenceRasterWriter, ProbabilityRasterWriter
from ..settings import OUTPUT_LABELS, ClassifyOutputs
from ..trust.contribution import category_indices, dominant_modality, modality_classes
from ..trust.uncertainty import branch_agreement, branch_disagreement, disagreement_scale, normalised_entropy

# Colour stops (value, colour) on 0..1. Uncertainty: blue (sure) to red (unsure); agreement reversed, so red
# always marks the pixels to distrust; contribution: white (nothing) to purple (the modality holds the class).
UNCERTAIN_RAMP = ((0.0, "#2c7bb6"), (0.25, "#abd9e9"), (0.5, "#ffffbf"), (0.75, "#fdae61"), (1.0, "#d7191c"))
AGREEMENT_RAMP = tuple((1.0 - v, c) for v, c in reversed(UNCERTAIN_RAMP))
CONTRIBUTION_RAMP = ((0.0, "#f7f7f7"), (0.25, "#cbc9e2"), (0.5, "#9e9ac8"), (0.75, "#756bb1"),
                     (1.0, "#54278f"))
RAMPS = {"entropy": UNCERTAIN_RAMP, "disagreement": UNCERTAIN_RAMP, "agreement": AGREEMENT_RAMP,
         "contribution": CONTRIBUTION_RAMP}


def product_layout(product: str, card: Mapping) -> tuple[list[str], list | None, str | None]:
    """(band names, classes of a paletted raster or None, `.qml` of a 0..1 ramp or None) of the raster
    `product` (a ClassifyOutputs field): what the writers below give it, and what a batch job's mosaic of
    its blocks gets (engine/batch/run.py)."""
    classes, modalities = card["classes"], card["modalities"]
    if product == "classes":
        return ["class"], list(classes), None
    if product == "probabilities":
        return [c["name"] for c in classes], None, None
    if product == "confidence":
        return ["confidence"], None, None
    if product == "dominant_modality":
        return [OUTPUT_LABELS[product]], modality_classes(modalities), None
    bands = [m["name"] for m in modalities] if product == "contribution" else [OUTPUT_LABELS[product]]
    return bands, None, pseudocolor_qml(RAMPS[product])


@dataclass
class TileResult:
    """What the classifier gave for a tile's core (h x w pixels)."""

    probs: np.ndarray  # (n_classes, h, w) fused probabilities
    valid: np.ndarray  # (h, w) bool: classified pixels
    branch_probs: np.ndarray | None = None  # (n_branches, n_classes, h, w), when an output needs them
    contribution: np.ndarray | None = None  # (n_modalities, h, w), when an output needs it


class ScalarRasterWriter(ProbabilityRasterWriter):
    """Float32 values on 0..1 (nodata -1), one band per name, with a pseudocolour `.qml` of band 1."""

    def __init__(self, path, grid, band_names: Sequence[str], ramp, metadata: Mapping[str, str] | None = None,
                 write_qml: bool = True):
        self.ramp, self.write_qml = ramp, write_qml
        super().__init__(path, grid, list(band_names), metadata=metadata)

    def _sidecars(self) -> dict[str, str]:
        return {qml_path_for(self.path): pseudocolor_qml(self.ramp)} if self.write_qml else {}


class RunWriters:
    """Every output of a run (ClassifyOutputs), written tile by tile; all or nothing."""

    def __init__(self, outputs: ClassifyOutputs, grid, card: Mapping, qml: bool = True):
        meta = {"bdgf_model": card.get("name", ""), "bdgf_content_hash": card.get("content_hash", "")}
        classes = card["classes"]
        self._all: list = []
        self._paths = outputs.paths()
        try:
            self.classes = self._add(ClassRasterWriter(outputs.classes, grid, classes, metadata=meta,
                                                       write_qml=qml))
            self.probs = outputs.probabilities and self._add(ProbabilityRasterWriter.for_classes(
                outputs.probabilities, grid, classes, metadata=meta))
            self.confidence = outputs.confidence and self._add(
                ConfidenceRasterWriter(outputs.confidence, grid, metadata=meta))
            n, k = len(branch_names(card)), len(classes)
            measures = {
                "entropy": f"Shannon entropy of the fused probabilities / ln({k})",
                "disagreement": f"Jensen-Shannon divergence of the {n} branch softmaxes / ln(min({n}, {k}))"
                                f" = {disagreement_scale(max(n, 2), max(k, 2)):.4f}",
                "agreement": f"share of the {n} branches whose most likely class is the fused class",
                "contribution": "drop of the predicted class's probability when the band's modality is "
                                "replaced by its neutral fill (0), clipped at 0"}
            for key, measure in measures.items():
                path = getattr(outputs, key)
                setattr(self, key, path and self._add(ScalarRasterWriter(
                    path, grid, product_layout(key, card)[0], RAMPS[key], {**meta, "bdgf_measure": measure},
                    qml)))
            self.dominant = outputs.dominant_modality and self._add(ClassRasterWriter(
                outputs.dominant_modality, grid, product_layout("dominant_modality", card)[1], metadata=meta,
                write_qml=qml))
        except BaseException:
            self.abort()
            raise

    def _add(self, writer):
        self._all.append(writer)
        return writer

    def write(self, row0: int, col0: int, tile: TileResult) -> None:
        probs, valid = tile.probs, tile.valid
        fused = probs.argmax(0)
        self.classes.write_indices(row0, col0, fused, valid)
        if self.probs:
            self.probs.write_probabilities(row0, col0, probs, valid)
        if self.confidence:
            self.confidence.write_from_probabilities(row0, col0, probs, valid)
        if self.entropy:
            self.entropy.write_probabilities(row0, col0, normalised_entropy(probs), valid)
        if self.disagreement or self.agreement:
            if tile.branch_probs is None:
                raise BDGFError("internal error: the branch probabilities of a tile were not computed")
            if self.disagreement:
                self.disagreement.write_probabilities(row0, col0, branch_disagreement(tile.branch_probs),
                                                      valid)
            if self.agreement:
                self.agreement.write_probabilities(row0, col0, branch_agreement(tile.branch_probs, fused),
                                                   valid)
        if self.contribution:
            self.contribution.write_probabilities(row0, col0, tile.contribution, valid)
        if self.dominant:
            index = category_indices(dominant_modality(tile.contribution), tile.contribution.shape[0])
            self.dominant.write_indices(row0, col0, index, valid)

    def abort(self) -> None:
        for writer in self._all:
            writer.abort()
        # a writer interrupted (SIGTERM) after it created its file but before it was added above: its
        # temporary file follows the one naming rule, so none is left behind under any name
        for path in self._paths:
            stem = os.path.splitext(os.path.abspath(path))[0]
            remove_quietly(*glob.glob(glob.escape(stem) + PARTIAL + "*"))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            for writer in self._all:  # every file closed and checked before any is renamed
                writer.close()
            for writer in reversed(self._all):  # the class raster last: it appears only when all did
                writer.commit()
        except BaseException:
            self.abort()
            raise
