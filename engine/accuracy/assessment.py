"""One accuracy assessment of a class map against reference labels and its HTML / CSV / JSON files.

The pixel metrics with the coverage (`engine.accuracy.metrics`) and the area-adjusted estimates with the map
classes as strata (`engine.accuracy.area`), computed once: `bdgf:accuracy` and
`python -m engine accuracy` both go through `assess`.

    assessment = assess(reference, class_map, classes, grid, probability_sample=False)
    assessment.write_json("accuracy.json")
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BDGFError
from ..palette import UNSTYLED
from ..raster.atomic import atomic_file, write_text
from ..raster.grid import Grid, pixel_area
from .area import AreaAccuracy, Estimate, area_accuracy, class_pixel_counts, html_section
from .area import to_markdown as area_markdown
from .metrics import AccuracyMetrics, ConfusionMatrix, html_report


@dataclass
class Assessment:
    classes: list[dict]  # {"value", "name", "color"} in the matrix order
    metrics: AccuracyMetrics  # pixel counting over the reference pixels, with the coverage
    area: AreaAccuracy  # area-adjusted estimates, map classes as strata

    @property
    def names(self) -> list[str]:
        return [str(c["name"]) for c in self.classes]

    @property
    def colours(self) -> list[str]:
        return [c.get("color") or UNSTYLED for c in self.classes]

    def scores(self) -> dict[str, float]:
        """The numbers bdgf:accuracy returns (OA = OA_CLASSIFIED, kept for compatibility)."""
        m = self.metrics
        return {"OA": m.oa, "OA_CLASSIFIED": m.oa_classified, "OA_ALL_REFERENCE": m.oa_all_reference,
                "COVERAGE": m.coverage, "AA": m.aa, "KAPPA": m.kappa,
                "OA_AREA_ADJUSTED": self.area.overall.value}

    def to_dict(self) -> dict:
        return {**self.metrics.to_dict(self.names), "area_adjusted": self.area.to_dict(self.names)}

    def to_markdown(self) -> str:
        return self.metrics.to_markdown(self.names) + "\n" + area_markdown(self.area, self.names)

    def html(self, title: str, notes: Sequence[str] = ()) -> str:
        swatches = [f'<span class="sw" style="background:{c}"></span>' for c in self.colours]
        return html_report(self.metrics, self.names, self.colours, title=title, notes=notes,
                           sections=[html_section(self.area, self.names, swatches)])

    # Each report is written all or nothing (raster.atomic): a full disk or an error keeps an earlier file,
    # and says so in one line (BDGFError), never a traceback.
    def write_html(self, path, title: str, notes: Sequence[str] = ()) -> None:
        _reporting(path, "HTML report", lambda: write_text(path, self.html(title, notes)))

    def write_json(self, path) -> None:
        _reporting(path, "JSON report",
                   lambda: write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False)))

    def write_csv(self, path) -> None:
        """Sections separated by an empty row: per class, confusion matrix, summary, ignored reference
        values, area-adjusted estimates."""
        _reporting(path, "CSV tables", lambda: self._write_csv(path))

    def _write_csv(self, path) -> None:
        m, a, names = self.metrics, self.area, self.names
        with atomic_file(path, "w") as fh:
            out = csv.writer(fh, lineterminator="\r\n")
            out.writerow(["class", "value", "reference_pixels", "producers_accuracy", "users_accuracy", "f1"])
            for i, value in enumerate(m.values):
                out.writerow([names[i], value, int(m.support[i]), _cell(m.producers[i]), _cell(m.users[i]),
                              _cell(m.f1[i])])
            out.writerow([])
            out.writerow(["reference \\ predicted", *names, "total"])
            for i, row in enumerate(m.matrix):
                out.writerow([names[i], *(int(c) for c in row), int(row.sum())])
            out.writerow([])
            for key, value in (("OA", m.oa), ("OA_CLASSIFIED", m.oa_classified),
                               ("OA_ALL_REFERENCE", m.oa_all_reference), ("COVERAGE", m.coverage),
                               ("AA", m.aa), ("KAPPA", m.kappa)):
                out.writerow([key, _cell(value)])
            for key, value in (("REFERENCE_PIXELS", m.n_reference), ("CLASSIFIED_REFERENCE_PIXELS", m.n),
                               ("UNCLASSIFIED_REFERENCE_PIXELS", m.unclassified), ("IGNORED", m.ignored)):
                out.writerow([key, value])
            if m.ignored_values:
                out.writerow([])
                out.writerow(["ignored_reference_value", "pixels"])
                for value, count in sorted(m.ignored_values.items()):
                    out.writerow([value, count])
            out.writerow([])
            out.writerow(["area_adjusted", a.sampling])
            fields = ["users_accuracy", "producers_accuracy", "area_proportion", "area_pixels", "area_ha"]
            out.writerow(["class", "value", "mapped_pixels", "map_weight", "sample_pixels"]
                         + [f"{f}{suffix}" for f in fields for suffix in ("", "_se", "_ci95_half_width")])
            for i, c in enumerate(a.classes):
                estimates = (c.users, c.producers, c.proportion, c.area_pixels, c.area_ha)
                out.writerow([names[i], c.value, c.mapped_pixels, _cell(c.weight), c.sample_pixels]
                             + [x for est in estimates for x in _estimate_cells(est)])
            out.writerow(["OA_AREA_ADJUSTED", *_estimate_cells(a.overall)])


def assess(reference: np.ndarray, class_map: np.ndarray, classes: Sequence[dict], grid: Grid, *,
           probability_sample: bool) -> Assessment:
    """Both assessments of `class_map` (the whole map on `grid`; 0 = unclassified) against `reference`
    (same grid; 0 = unlabelled). The map's pixel counts per class are the strata."""
    values = [int(c["value"]) for c in classes]
    metrics = ConfusionMatrix(values).update(reference, class_map).metrics()
    if metrics.n_reference == 0:  # an OA of nan, exit 0, would read as a result
        found = metrics.ignored_sentence() or "the reference holds no labelled pixel (all 0 or nodata) on " \
            "the map's grid"
        raise BDGFError(f"Nothing could be assessed: {found} The map's classes are "
                        f"{', '.join(str(v) for v in values) or 'none'}. Check that the reference's class "
                        "values (or its class field) are the map's, and that the two layers overlap.")
    _check_comparable(reference, class_map, values, metrics.n_reference, metrics.unclassified)
    area_m2, note = pixel_area(grid.geotransform, grid.crs_wkt)
    area = area_accuracy(metrics.matrix, class_pixel_counts(class_map, values), values,
                         probability_sample=probability_sample, pixel_area_m2=area_m2, area_note=note,
                         unclassified_samples=metrics.unclassified)
    return Assessment(classes=[dict(c) for c in classes], metrics=metrics, area=area)


def _listed(values: np.ndarray, first: int = 8) -> str:
    return ", ".join(str(v) for v in values[:first].tolist()) + (", ..." if values.size > first else "")


def _check_comparable(reference: np.ndarray, class_map: np.ndarray, values: Sequence[int], n_reference: int,
                      unclassified: int) -> None:
    """BDGFError when the map classifies none of the labelled reference pixels, or where it does, shares no
    class value with the reference: a wrong layer or another class coding, which would read as a result
    (coverage 0 %, or OA 0 % with a confusion matrix that is a relabelling)."""
    labelled = np.asarray(reference) != 0
    held = np.unique(np.asarray(class_map)[labelled])
    if unclassified == n_reference:
        raise BDGFError(f"Nothing could be assessed: the map classifies none of the {n_reference:,} labelled "
                        f"reference pixels (it holds {_listed(held)} there; its classes are "
                        f"{', '.join(str(v) for v in values)}; 0 = unclassified). Check that the map is the "
                        "classification of the reference's area and that its class values are the "
                        "reference's.")
    mapped = held[held != 0]
    labels = np.unique(np.asarray(reference)[labelled])
    if not np.isin(mapped, labels).any():
        raise BDGFError(f"Nothing could be assessed: where the reference is labelled, the map holds classes "
                        f"{_listed(mapped)} and the reference {_listed(labels)}, not one value in common. "
                        "The two are coded differently: recode one of them to the other's class values "
                        "(QGIS: Reclassify by table).")


# Bytes per pixel of an assessment held in memory: the map and the reference as int32, their comparison.
ASSESSMENT_BYTES_PER_PIXEL = 24


def check_memory(grid: Grid, what: str) -> None:
    """BDGFError before any work when the map and reference of an assessment on `grid` cannot fit in the
    memory available (a 10^6 x 10^6 px map once ended in MemoryError after minutes), with the fix."""
    from ..model.tiling import available_memory
    from ..raster.write import format_bytes

    need, have = grid.width * grid.height * ASSESSMENT_BYTES_PER_PIXEL, available_memory()
    if need > have:
        raise BDGFError(f"The {what} is {grid.width:,} x {grid.height:,} px: assessing it needs about "
                        f"{format_bytes(need)} of memory, {format_bytes(have)} are available. Clip the map "
                        "to the reference's extent first (QGIS: Raster > Extraction > Clip Raster by "
                        "Extent).")


def class_values(*arrays: np.ndarray) -> list[int]:
    """The non-zero values found in any of the arrays, sorted."""
    found: set[int] = set()
    for array in arrays:
        found |= set(np.unique(array).tolist())
    return sorted(int(v) for v in found - {0})


def _reporting(path, what: str, write) -> None:
    try:
        write()
    except OSError as exc:
        raise BDGFError(f"Cannot write the {what} {path}: {exc.strerror or exc}. Nothing was written under "
                        "that name (an earlier file there is kept).") from None


def _cell(x: float) -> str:
    return "" if x is None or math.isnan(x) else f"{float(x):.6f}"


def _estimate_cells(est: Estimate | None) -> list[str]:
    if est is None:
        return ["", "", ""]
    return [_cell(est.value), _cell(est.se), _cell(est.half_width)]
