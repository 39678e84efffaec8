"""Accuracy assessment: confusion matrix (rows = reference, columns = predicted), OA, AA, Kappa,
per-class producer's accuracy (recall), user's accuracy (precision) and F1.

Reference value 0 means "no label" and is ignored. Pixels whose prediction is not one of the class
values (0 = nodata, or an unknown value) are counted as `unclassified` and left out of the matrix;
reference values that are not class values are counted as `ignored` (which values, how many pixels:
`ignored_values`). Undefined ratios are NaN (None in `to_dict`), e.g. the producer's accuracy of a
class with no reference pixels.

Coverage and the two overall accuracies (the names used everywhere accuracy is shown):

- `coverage`: share of the reference pixels (of a known class) that the map classified;
- `oa_classified`: OA over the classified reference pixels (the matrix). `oa` keeps this meaning for
  compatibility (model cards, scripts) and is always shown next to the two names below;
- `oa_all_reference`: OA over all reference pixels, unclassified ones counted as wrong
  (= `oa_classified` × `coverage`).

AA, Kappa and the per-class figures are over the classified reference pixels (the matrix).
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


class ConfusionMatrix:
    """Accumulates a confusion matrix over any number of (reference, predicted) windows."""

    def __init__(self, values: Sequence[int]):
        self.values = [int(v) for v in values]
        if len(set(self.values)) != len(self.values) or 0 in self.values:
            raise ValueError(f"class values must be distinct and non-zero, got {self.values}")
        self._sorted = np.array(sorted(self.values), dtype=np.int64)
        self._order = np.array([self.values.index(v) for v in self._sorted], dtype=np.int64)
        n = len(self.values)
        self.matrix = np.zeros((n, n), dtype=np.int64)
        self.unclassified = 0
        self.ignored = 0
        self.ignored_values: dict[int, int] = {}  # reference value not in the class table -> pixels

    def _index(self, x: np.ndarray) -> np.ndarray:
        """Class index of each value, -1 for values that are not classes."""
        pos = np.clip(np.searchsorted(self._sorted, x), 0, len(self._sorted) - 1)
        return np.where(self._sorted[pos] == x, self._order[pos], -1)

    def update(self, reference: np.ndarray, predicted: np.ndarray) -> ConfusionMatrix:
        reference = np.asarray(reference).ravel().astype(np.int64)
        predicted = np.asarray(predicted).ravel().astype(np.int64)
        if reference.shape != predicted.shape:
            raise ValueError(f"reference and predicted differ in size: {reference.size} vs {predicted.size}")
        labelled = reference != 0
        ref_idx = self._index(reference[labelled])
        pred_idx = self._index(predicted[labelled])
        known = ref_idx >= 0
        self.ignored += int((~known).sum())
        unknown, counts = np.unique(reference[labelled][~known], return_counts=True)
        for value, count in zip(unknown.tolist(), counts.tolist()):
            self.ignored_values[value] = self.ignored_values.get(value, 0) + count
        self.unclassified += int((known & (pred_idx < 0)).sum())
        keep = known & (pred_idx >= 0)
        n = len(self.values)
        flat = ref_idx[keep] * n + pred_idx[keep]
        self.matrix += np.bincount(flat, minlength=n * n).reshape(n, n)
        return self

    def metrics(self) -> AccuracyMetrics:
        return compute_metrics(self.matrix, self.values, self.unclassified, self.ignored, self.ignored_values)


def confusion_matrix(reference: np.ndarray, predicted: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """(n, n) int64 counts, rows = reference, columns = predicted, in `values` order."""
    return ConfusionMatrix(values).update(reference, predicted).matrix


@dataclass
class AccuracyMetrics:
    values: list[int]
    matrix: np.ndarray
    oa: float
    aa: float
    kappa: float
    producers: np.ndarray  # per class: recall
    users: np.ndarray  # per class: precision
    f1: np.ndarray
    support: np.ndarray  # reference pixels per class
    n: int
    unclassified: int = 0  # reference pixels of a known class that the map left unclassified
    ignored: int = 0  # reference pixels whose value is not a class
    ignored_values: dict[int, int] = field(default_factory=dict)  # those values -> pixels

    @property
    def n_reference(self) -> int:
        """Reference pixels of a known class: classified (`n`) + unclassified."""
        return self.n + self.unclassified

    @property
    def coverage(self) -> float:
        """Share of the reference pixels that the map classified."""
        return self.n / self.n_reference if self.n_reference else math.nan

    @property
    def oa_classified(self) -> float:
        """OA over the classified reference pixels (= `oa`)."""
        return self.oa

    @property
    def oa_all_reference(self) -> float:
        """OA over all reference pixels, unclassified ones counted as wrong."""
        return float(np.trace(self.matrix)) / self.n_reference if self.n_reference else math.nan

    def coverage_sentence(self) -> str:
        """One line: coverage and both OAs, named so that neither can be mistaken for the other."""
        return (f"Coverage {_pct(self.coverage)} ({self.n} of {self.n_reference} reference pixels "
                f"classified, {self.unclassified} unclassified); "
                f"OA over classified reference pixels {_pct(self.oa)}; "
                f"OA over all reference pixels (unclassified = wrong) {_pct(self.oa_all_reference)}.")

    def ignored_sentence(self) -> str:
        """Which reference values are not classes and how many pixels each ('' when none)."""
        if not self.ignored:
            return ""
        listed = ", ".join(f"value {v} ({c} px)" for v, c in sorted(self.ignored_values.items()))
        return (f"{self.ignored} reference pixels ignored, their value is not in the class table"
                + (f": {listed}." if listed else "."))

    def to_dict(self, class_names: Sequence[str] | None = None) -> dict:
        """JSON-ready: plain floats and ints, NaN as None."""
        names = list(class_names) if class_names is not None else [str(v) for v in self.values]
        return {
            "oa": _num(self.oa), "oa_classified": _num(self.oa_classified),
            "oa_all_reference": _num(self.oa_all_reference), "coverage": _num(self.coverage),
            "aa": _num(self.aa), "kappa": _num(self.kappa),
            "n": self.n, "n_reference": self.n_reference, "unclassified": self.unclassified,
            "ignored": self.ignored,
            "ignored_values": [{"value": v, "pixels": c} for v, c in sorted(self.ignored_values.items())],
            "classes": [
                {"value": v, "name": names[i], "support": int(self.support[i]),
                 "producers_accuracy": _num(self.producers[i]), "users_accuracy": _num(self.users[i]),
                 "f1": _num(self.f1[i])}
                for i, v in enumerate(self.values)],
            "confusion_matrix": self.matrix.tolist(),
        }

    def to_markdown(self, class_names: Sequence[str] | None = None) -> str:
        names = list(class_names) if class_names is not None else [str(v) for v in self.values]
        lines = [f"OA {_pct(self.oa)}, AA {_pct(self.aa)}, Kappa {_fmt(self.kappa)} "
                 f"(over {self.n} classified reference pixels)", "", self.coverage_sentence(), ""]
        if self.ignored:
            lines += [self.ignored_sentence(), ""]
        lines += ["| class | value | pixels | PA (recall) | UA (precision) | F1 |",
                  "|---|---:|---:|---:|---:|---:|"]
        for i, v in enumerate(self.values):
            lines.append(f"| {_md(names[i])} | {v} | {int(self.support[i])} | {_pct(self.producers[i])} | "
                         f"{_pct(self.users[i])} | {_fmt(self.f1[i])} |")
        lines += ["", "Confusion matrix (rows = reference, columns = predicted):", "",
                  "| reference \\ predicted | " + " | ".join(_md(n) for n in names) + " | total |",
                  "|---|" + "---:|" * (len(names) + 1)]
        for i, row in enumerate(self.matrix):
            counts = " | ".join(str(int(c)) for c in row)
            lines.append(f"| {_md(names[i])} | {counts} | {int(row.sum())} |")
        lines.append("| total | " + " | ".join(str(int(c)) for c in self.matrix.sum(axis=0))
                     + f" | {int(self.matrix.sum())} |")
        return "\n".join(lines) + "\n"


def compute_metrics(matrix: np.ndarray, values: Sequence[int], unclassified: int = 0,
                    ignored: int = 0, ignored_values: dict[int, int] | None = None) -> AccuracyMetrics:
    """Metrics of a confusion matrix (rows = reference, columns = predicted)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(values):
        raise ValueError(f"matrix shape {m.shape} does not match {len(values)} classes")
    n = float(m.sum())
    diag = np.diag(m)
    rows, cols = m.sum(axis=1), m.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        producers = np.where(rows > 0, diag / rows, np.nan)
        users = np.where(cols > 0, diag / cols, np.nan)
        denom = rows + cols
        f1 = np.where(denom > 0, 2 * diag / denom, np.nan)
    oa = diag.sum() / n if n else math.nan
    aa = float(np.nanmean(producers)) if (rows > 0).any() else math.nan
    if n:
        expected = float((rows * cols).sum()) / n**2
        kappa = (oa - expected) / (1 - expected) if expected < 1 else (1.0 if oa == 1 else 0.0)
    else:
        kappa = math.nan
    return AccuracyMetrics(values=[int(v) for v in values], matrix=np.asarray(matrix, dtype=np.int64),
                           oa=float(oa), aa=aa, kappa=float(kappa), producers=producers, users=users,
                           f1=f1, support=rows.astype(np.int64), n=int(n),
                           unclassified=int(unclassified), ignored=int(ignored),
                           ignored_values=dict(ignored_values or {}))


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.2f} %"


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.4f}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


# ---------------------------------------------------------------- HTML report

def html_report(metrics: AccuracyMetrics, class_names: Sequence[str], colours: Sequence[str],
                title: str = "Accuracy assessment", notes: Sequence[str] = (),
                sections: Sequence[str] = ()) -> str:
    """A standalone HTML page (inline CSS, no external assets): summary with the coverage, per-class table
    and the confusion matrix as a table coloured by row share (green diagonal, red confusions), then
    `sections` (ready HTML, e.g. `engine.accuracy.area.html_section`)."""
    e = html.escape
    names = list(class_names)
    swatch = [f'<span class="sw" style="background:{e(c)}"></span>' for c in colours]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
        "margin:1em 0}th,td{border:1px solid #bbb;padding:4px 8px;text-align:right}"
        "th{background:#f0f0f0}td.l,th.l{text-align:left}.sw{display:inline-block;width:.9em;"
        "height:.9em;margin-right:.4em;border:1px solid #555;vertical-align:middle}"
        ".kpi{font-size:1.2em}.kpi b{margin-right:1.5em}.warn{background:#fff8e0;"
        "border-left:4px solid #e0b000;padding:.4em .8em}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="kpi"><b>Coverage {_pct(metrics.coverage)}</b>'
        f"<b>OA over classified reference pixels {_pct(metrics.oa)}</b>"
        f"<b>OA over all reference pixels {_pct(metrics.oa_all_reference)}</b>"
        f"<b>AA {_pct(metrics.aa)}</b><b>Kappa {_fmt(metrics.kappa)}</b></p>",
        f"<p>{e(metrics.coverage_sentence())} OA, AA, Kappa and the tables below are over the "
        f"{metrics.n} classified reference pixels; the OA over all reference pixels counts the "
        f"{metrics.unclassified} reference pixels the map left unclassified (nodata) as wrong.</p>",
    ]
    if metrics.ignored:
        parts.append(f'<p class="warn">{e(metrics.ignored_sentence())}</p>')
    parts += [f"<p>{e(str(note))}</p>" for note in notes]
    parts.append('<h2>Per class</h2><table><tr><th class="l">Class</th><th>Value</th>'
                 "<th>Reference pixels</th><th>Producer's accuracy (recall)</th>"
                 "<th>User's accuracy (precision)</th><th>F1</th></tr>")
    for i, v in enumerate(metrics.values):
        parts.append(f'<tr><td class="l">{swatch[i]}{e(names[i])}</td><td>{v}</td>'
                     f"<td>{int(metrics.support[i])}</td><td>{_pct(metrics.producers[i])}</td>"
                     f"<td>{_pct(metrics.users[i])}</td><td>{_fmt(metrics.f1[i])}</td></tr>")
    parts.append("</table>")
    parts.append("<h2>Confusion matrix</h2><p>Rows: reference; columns: predicted. Cell shade: share "
                 "of the reference row.</p><table>")
    header = "".join(f"<th>{swatch[i]}{e(n)}</th>" for i, n in enumerate(names))
    parts.append(f'<tr><th class="l">reference \\ predicted</th>{header}<th>total</th></tr>')
    for i, row in enumerate(metrics.matrix):
        total = int(row.sum())
        cells = "".join(_matrix_cell(int(c), total, i == j) for j, c in enumerate(row))
        parts.append(f'<tr><th class="l">{swatch[i]}{e(names[i])}</th>{cells}<th>{total}</th></tr>')
    col_totals = "".join(f"<th>{int(c)}</th>" for c in metrics.matrix.sum(axis=0))
    parts.append(f'<tr><th class="l">total</th>{col_totals}<th>{int(metrics.matrix.sum())}</th></tr>')
    parts.append("</table>")
    parts += list(sections)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _matrix_cell(count: int, row_total: int, diagonal: bool) -> str:
    share = count / row_total if row_total else 0.0
    if count == 0:
        colour = "#ffffff"
    elif diagonal:  # white -> green
        colour = _mix((255, 255, 255), (26, 152, 80), share)
    else:  # white -> red, saturating at 50 % of the row
        colour = _mix((255, 255, 255), (215, 48, 39), min(1.0, 2 * share))
    text = "#ffffff" if diagonal and share > 0.6 else "#222222"
    return (f'<td style="background:{colour};color:{text}" title="{100 * share:.1f} % of the row">'
            f"{count}</td>")


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    r, g, b_ = (round(x + (y - x) * t) for x, y in zip(a, b))
    return f"#{r:02x}{g:02x}{b_:02x}"
