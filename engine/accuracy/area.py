"""Area-adjusted accuracy and area estimation with the map classes as strata (Olofsson et al. 2014).

Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E., Wulder, M. A. (2014): Good
practices for estimating area and assessing accuracy of land change. Remote Sensing of Environment 148,
42–57. The reference pixels are treated as a stratified random sample whose strata are the map classes:
stratum i holds the N_i map pixels of class i (weight W_i = N_i / N over the map's classified pixels)
and n_i. reference pixels, n_ij of them labelled j. Then

    p̂_ij = W_i n_ij / n_i.                                   area proportions (map i, reference j)
    p̂_.j = Σ_i p̂_ij,  Â_j = N p̂_.j                          estimated area of class j
    SE(p̂_.j)² = Σ_i W_i² (n_ij/n_i.)(1 − n_ij/n_i.) / (n_i. − 1)
    Ô = Σ_j p̂_jj,  SE(Ô)² = Σ_i W_i² U_i (1 − U_i) / (n_i. − 1)                      (eq. 5)
    Û_i = n_ii / n_i.,  SE(Û_i)² = Û_i (1 − Û_i) / (n_i. − 1)                           (eq. 6)
    P̂_j = p̂_jj / p̂_.j,  SE(P̂_j)² per eq. 7 (N̂_.j = Σ_i N_i n_ij / n_i.)

and every 95 % confidence interval is the estimate ± 1.96 × SE. Matrices here follow `accuracy.metrics`:
rows = reference, columns = map (predicted). Estimates cover the map's classified pixels only; reference
pixels on unclassified (nodata) map pixels lie outside every stratum.

A reference that is not a probability sample (training-style polygons, hand-picked areas) still gives
numbers, but they are indicative only: `probability_sample=False` labels them so.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.96
SAMPLING_STRATIFIED = "stratified random sample"
SAMPLING_INDICATIVE = "not a probability sample — indicative only"
ASSUMPTION_STRATIFIED = (
    "The reference is treated as a stratified random sample with the map classes as strata: within each "
    "map class the reference pixels were drawn at random (any sample size per class). Area-adjusted "
    "estimators of Olofsson et al. (2014); 95 % confidence interval = estimate ± 1.96 × standard error.")
ASSUMPTION_INDICATIVE = (
    "The reference is NOT a probability sample (e.g. training-style polygons or hand-picked areas). The "
    "stratified estimators of Olofsson et al. (2014) are applied as if it were a stratified random sample "
    "with the map classes as strata, so these figures are indicative only: they can be biased, and "
    "clustered reference pixels make the intervals too narrow. For defensible figures label a sample "
    "drawn with bdgf:samplingdesign and choose 'stratified random sample'.")
HECTARE_M2 = 10_000.0


@dataclass(frozen=True)
class Estimate:
    """An estimate with its standard error; the 95 % interval is value ± 1.96 × se (NaN: undefined)."""

    value: float
    se: float

    @property
    def half_width(self) -> float:
        return Z95 * self.se

    @property
    def low(self) -> float:
        return self.value - self.half_width

    @property
    def high(self) -> float:
        return self.value + self.half_width

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.value * factor, self.se * factor)

    def to_dict(self) -> dict:
        return {"estimate": _num(self.value), "se": _num(self.se), "ci95_half_width": _num(self.half_width),
                "ci95_low": _num(self.low), "ci95_high": _num(self.high)}


@dataclass(frozen=True)
class AreaClass:
    """One class: its map stratum (mapped pixels, weight, sample) and its estimates as a reference class."""

    value: int
    mapped_pixels: int  # N_i: map pixels of this class (the stratum size)
    weight: float  # W_i = N_i / N
    sample_pixels: int  # n_i.: reference pixels inside this map class
    users: Estimate  # Û_i
    producers: Estimate  # P̂_i
    proportion: Estimate  # p̂_.i: share of the classified map area that truly is this class
    area_pixels: Estimate  # Â_i in pixels
    area_ha: Estimate | None  # Â_i in hectares; None when the CRS gives no pixel area


@dataclass
class AreaAccuracy:
    values: list[int]
    sample_counts: np.ndarray  # (k, k) int: rows = reference, columns = map
    proportions: np.ndarray  # (k, k) p̂: rows = reference, columns = map; sums to 1 when defined
    overall: Estimate  # area-adjusted overall accuracy Ô
    classes: list[AreaClass]
    mapped_pixels_total: int  # N: classified map pixels (the population)
    probability_sample: bool
    pixel_area_m2: float | None = None
    area_note: str = ""  # how hectares were derived, or why there are none
    unclassified_samples: int = 0  # reference pixels on unclassified map pixels (outside the strata)
    notes: list[str] = field(default_factory=list)  # why some estimates are undefined

    @property
    def sampling(self) -> str:
        return SAMPLING_STRATIFIED if self.probability_sample else SAMPLING_INDICATIVE

    @property
    def assumption(self) -> str:
        return ASSUMPTION_STRATIFIED if self.probability_sample else ASSUMPTION_INDICATIVE

    def to_dict(self, class_names: Sequence[str] | None = None) -> dict:
        names = list(class_names) if class_names is not None else [str(v) for v in self.values]
        return {
            "sampling": self.sampling, "probability_sample": self.probability_sample,
            "assumption": self.assumption, "strata": "map classes (classified map pixels)",
            "confidence_level": 0.95, "z": Z95,
            "mapped_pixels_total": self.mapped_pixels_total,
            "pixel_area_m2": self.pixel_area_m2, "area_note": self.area_note,
            "unclassified_reference_pixels": self.unclassified_samples,
            "overall_accuracy": self.overall.to_dict(),
            "classes": [
                {"value": c.value, "name": names[i], "mapped_pixels": c.mapped_pixels,
                 "map_weight": _num(c.weight), "sample_pixels": c.sample_pixels,
                 "users_accuracy": c.users.to_dict(), "producers_accuracy": c.producers.to_dict(),
                 "area_proportion": c.proportion.to_dict(), "area_pixels": c.area_pixels.to_dict(),
                 "area_ha": c.area_ha.to_dict() if c.area_ha is not None else None}
                for i, c in enumerate(self.classes)],
            "error_matrix_area_proportions": [[_num(x) for x in row] for row in self.proportions],
            "notes": list(self.notes),
        }


def area_accuracy(matrix: np.ndarray, mapped_pixels: Sequence[int], values: Sequence[int], *,
                  probability_sample: bool, pixel_area_m2: float | None = None, area_note: str = "",
                  unclassified_samples: int = 0) -> AreaAccuracy:
    """Stratified (map classes as strata) estimates from a sample confusion matrix.

    `matrix`: sample counts, rows = reference, columns = map, in `values` order (`ConfusionMatrix`);
    `mapped_pixels`: the map's pixel count of each class (the strata sizes N_i).
    """
    counts = np.asarray(matrix, dtype=np.int64)
    k = len(values)
    if counts.shape != (k, k):
        raise ValueError(f"matrix shape {counts.shape} does not match {k} classes")
    big_n = np.asarray(mapped_pixels, dtype=np.float64)
    if big_n.shape != (k,) or (big_n < 0).any():
        raise ValueError(f"mapped_pixels must be {k} non-negative counts, got {list(mapped_pixels)}")
    total = float(big_n.sum())
    n = counts.T.astype(np.float64)  # rows = map stratum i, columns = reference j
    n_i = n.sum(axis=1)
    weights = big_n / total if total else np.zeros(k)
    notes = []
    missing = [int(values[i]) for i in range(k) if big_n[i] > 0 and n_i[i] == 0]
    if missing:
        notes.append(f"map class(es) {', '.join(map(str, missing))} have no reference pixel: their share "
                     f"of the map cannot be split into reference classes, so areas and OA are undefined.")
    lone = [int(values[i]) for i in range(k) if n_i[i] == 1]
    if lone:
        notes.append(f"map class(es) {', '.join(map(str, lone))} have one reference pixel only: no standard "
                     f"error (n - 1 = 0).")
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_i[:, None] > 0, n / n_i[:, None], np.nan)  # n_ij / n_i.
        q = np.where(big_n[:, None] == 0, 0.0, q)  # empty strata contribute nothing
        p = weights[:, None] * q
        # per-stratum variance factor 1 / (n_i. - 1); empty strata contribute nothing
        inv = np.where(big_n == 0, 0.0, np.where(n_i > 1, 1.0 / (n_i - 1), np.nan))
        cell_var = weights[:, None] ** 2 * q * (1 - q) * inv[:, None]
        proportion = p.sum(axis=0)
        proportion_se = np.sqrt(cell_var.sum(axis=0))
        users = np.where(n_i > 0, np.diag(n) / n_i, np.nan)
        users_se = np.sqrt(users * (1 - users) * np.where(n_i > 1, 1.0 / (n_i - 1), np.nan))
        overall = float(np.trace(p)) if total else math.nan
        stratum_var = np.where(big_n == 0, 0.0, weights ** 2 * users * (1 - users) * inv)
        overall_se = float(np.sqrt(np.sum(stratum_var))) if total else math.nan
        producers = np.diag(p) / proportion
        n_hat = (big_n[:, None] * q).sum(axis=0)  # N̂_.j, the estimated reference-class totals
        producers_se = np.array([_producers_se(j, big_n, q, inv, users, producers, n_hat) for j in range(k)])
    pixel_factor = (pixel_area_m2 / HECTARE_M2) if pixel_area_m2 else None
    classes = []
    for j, value in enumerate(values):
        share = Estimate(float(proportion[j]), float(proportion_se[j]))
        area_px = share.scaled(total)
        classes.append(AreaClass(
            value=int(value), mapped_pixels=int(big_n[j]), weight=float(weights[j]),
            sample_pixels=int(n_i[j]),
            users=Estimate(float(users[j]), float(users_se[j])),
            producers=Estimate(float(producers[j]), float(producers_se[j])),
            proportion=share, area_pixels=area_px,
            area_ha=area_px.scaled(pixel_factor) if pixel_factor else None))
    return AreaAccuracy(values=[int(v) for v in values], sample_counts=counts, proportions=p.T.copy(),
                        overall=Estimate(overall, overall_se), classes=classes,
                        mapped_pixels_total=int(total), probability_sample=bool(probability_sample),
                        pixel_area_m2=pixel_area_m2, area_note=area_note,
                        unclassified_samples=int(unclassified_samples), notes=notes)


def _producers_se(j, big_n, q, inv, users, producers, n_hat) -> float:
    """Eq. 7 of Olofsson et al. (2014): SE of the producer's accuracy of class j."""
    if not n_hat[j] > 0:
        return math.nan
    own = 0.0
    if big_n[j] > 0:
        own = big_n[j] ** 2 * (1 - producers[j]) ** 2 * users[j] * (1 - users[j]) * inv[j]
    others = sum(big_n[i] ** 2 * q[i, j] * (1 - q[i, j]) * inv[i] for i in range(len(big_n)) if i != j)
    return float(math.sqrt((own + producers[j] ** 2 * others) / n_hat[j] ** 2))


def class_pixel_counts(class_map: np.ndarray, values: Sequence[int]) -> list[int]:
    """How many pixels of `class_map` hold each of `values` (the strata sizes)."""
    found, counts = np.unique(np.asarray(class_map).ravel(), return_counts=True)
    lookup = dict(zip(found.tolist(), counts.tolist()))
    return [int(lookup.get(int(v), 0)) for v in values]


# ---------------------------------------------------------------- text and HTML

def to_markdown(area: AreaAccuracy, class_names: Sequence[str]) -> str:
    ha = area.pixel_area_m2 is not None
    lines = [f"Area-adjusted estimates ({area.sampling}): OA {_est(area.overall, pct=True)}", "",
             "| class | mapped px | sample px | area px ± 95 % CI | " + ("area ha ± 95 % CI | " if ha else "")
             + "UA ± 95 % CI | PA ± 95 % CI |",
             "|---|---:|---:|---:|" + ("---:|" if ha else "") + "---:|---:|"]
    for c, name in zip(area.classes, class_names):
        cells = [str(name).replace("|", "\\|"), str(c.mapped_pixels), str(c.sample_pixels),
                 _est(c.area_pixels, digits=0)]
        if ha:
            cells.append(_est(c.area_ha))
        cells += [_est(c.users, pct=True), _est(c.producers, pct=True)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", area.assumption] + ([area.area_note] if area.area_note else []) + list(area.notes)
    return "\n".join(lines) + "\n"


def html_section(area: AreaAccuracy, class_names: Sequence[str], swatches: Sequence[str] = ()) -> str:
    """The area-adjusted part of the HTML report (uses the report's CSS)."""
    e = html.escape
    names = list(class_names)
    swatches = list(swatches) or [""] * len(names)
    ha = area.pixel_area_m2 is not None
    style = "" if area.probability_sample else ' class="warn"'
    parts = [f"<h2>Area-adjusted accuracy and area estimates ({e(area.sampling)})</h2>",
             f"<p{style}>{e(area.assumption)}</p>",
             f"<p>Strata: the map classes over {area.mapped_pixels_total} classified map pixels. "
             f"{area.unclassified_samples} reference pixels lie on unclassified map pixels, outside the "
             f"strata. {e(area.area_note)}</p>"]
    parts += [f'<p class="warn">{e(note)}</p>' for note in area.notes]
    parts.append(f'<p class="kpi"><b>Area-adjusted OA {_est(area.overall, pct=True)}</b> (95 % CI)</p>')
    head = ('<tr><th class="l">Class</th><th>Mapped pixels</th><th>Map weight W<sub>i</sub></th>'
            "<th>Sample pixels</th><th>Estimated area (pixels) ± 95 % CI</th>"
            + ("<th>Estimated area (ha) ± 95 % CI</th>" if ha else "")
            + "<th>User's accuracy ± 95 % CI</th><th>Producer's accuracy ± 95 % CI</th></tr>")
    parts.append(f"<table>{head}")
    for i, c in enumerate(area.classes):
        parts.append(f'<tr><td class="l">{swatches[i]}{e(names[i])}</td><td>{c.mapped_pixels}</td>'
                     f"<td>{_fmt(c.weight, 4)}</td><td>{c.sample_pixels}</td>"
                     f"<td>{_est(c.area_pixels, digits=0)}</td>"
                     + (f"<td>{_est(c.area_ha)}</td>" if ha else "")
                     + f"<td>{_est(c.users, pct=True)}</td><td>{_est(c.producers, pct=True)}</td></tr>")
    parts.append("</table>")
    parts.append("<h3>Error matrix in area proportions</h3><p>p&#770;<sub>ij</sub> = W<sub>i</sub> "
                 "n<sub>ij</sub> / n<sub>i.</sub>: share of the classified map area. Rows: reference; "
                 "columns: map.</p><table>")
    header = "".join(f"<th>{swatches[i]}{e(n)}</th>" for i, n in enumerate(names))
    parts.append(f'<tr><th class="l">reference \\ map</th>{header}<th>total (area share)</th></tr>')
    for i, row in enumerate(area.proportions):
        cells = "".join(f"<td>{_fmt(x, 4)}</td>" for x in row)
        parts.append(f'<tr><th class="l">{swatches[i]}{e(names[i])}</th>{cells}'
                     f"<th>{_fmt(float(np.sum(row)), 4)}</th></tr>")
    totals = "".join(f"<th>{_fmt(float(x), 4)}</th>" for x in area.proportions.sum(axis=0))
    parts.append(f'<tr><th class="l">total (map weight)</th>{totals}'
                 f"<th>{_fmt(float(area.proportions.sum()), 4)}</th></tr></table>")
    return "\n".join(parts)


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _fmt(x: float, digits: int) -> str:
    return "–" if math.isnan(x) else f"{x:,.{digits}f}"


def _est(est: Estimate, pct: bool = False, digits: int = 2) -> str:
    if math.isnan(est.value):
        return "–"
    if pct:
        text = f"{100 * est.value:.2f} %"
        return text + ("" if math.isnan(est.se) else f" ± {100 * est.half_width:.2f} pp")
    text = f"{est.value:,.{digits}f}"
    return text + ("" if math.isnan(est.se) else f" ± {est.half_width:,.{digits}f}")
