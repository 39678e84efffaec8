"""Accuracy outputs: engine.metrics computes, this writes the HTML / CSV / JSON files."""
import csv
import json

import numpy as np
from osgeo import gdal

from ..engine.metrics import ConfusionMatrix, html_report

GREY = "#808080"


def classes_from_raster(class_path, predicted, reference):
    """Classes when no model card is given: values seen in either raster, names and colours from the
    classification raster's category names and colour table when it has them."""
    ds = gdal.Open(class_path)  # keep the dataset alive while its band is used
    band = ds.GetRasterBand(1)
    names = band.GetCategoryNames() or []
    table = band.GetColorTable()
    values = sorted((set(np.unique(predicted).tolist()) | set(np.unique(reference).tolist())) - {0})
    classes = []
    for value in values:
        name = names[value] if value < len(names) and names[value] else str(value)
        colour = GREY
        if table is not None and value < table.GetCount():
            colour = "#{:02x}{:02x}{:02x}".format(*table.GetColorEntry(value)[:3])
        classes.append({"value": int(value), "name": name, "color": colour})
    return classes


def write_csv(path, metrics, names):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["class", "value", "reference_pixels", "producers_accuracy", "users_accuracy", "f1"])
        for i, value in enumerate(metrics.values):
            out.writerow([names[i], value, int(metrics.support[i]), _cell(metrics.producers[i]),
                          _cell(metrics.users[i]), _cell(metrics.f1[i])])
        out.writerow([])
        out.writerow(["reference \\ predicted", *names, "total"])
        for i, row in enumerate(metrics.matrix):
            out.writerow([names[i], *(int(c) for c in row), int(row.sum())])
        out.writerow([])
        for key in ("oa", "aa", "kappa"):
            out.writerow([key.upper(), _cell(getattr(metrics, key))])


def _cell(x):
    return "" if np.isnan(x) else f"{float(x):.6f}"


def write_reports(reference, predicted, classes, paths, title, notes=()):
    """Compute the metrics over the labelled pixels and write the requested files; OA / AA / KAPPA."""
    metrics = ConfusionMatrix([c["value"] for c in classes]).update(reference, predicted).metrics()
    names = [c["name"] for c in classes]
    if paths.get("OUTPUT_HTML"):
        with open(paths["OUTPUT_HTML"], "w", encoding="utf-8") as fh:
            fh.write(html_report(metrics, names, [c.get("color", GREY) for c in classes], title=title,
                                 notes=notes))
    if paths.get("OUTPUT_CSV"):
        write_csv(paths["OUTPUT_CSV"], metrics, names)
    if paths.get("OUTPUT_JSON"):
        with open(paths["OUTPUT_JSON"], "w", encoding="utf-8") as fh:
            json.dump(metrics.to_dict(names), fh, indent=2)
    return {"OA": metrics.oa, "AA": metrics.aa, "KAPPA": metrics.kappa}, metrics
