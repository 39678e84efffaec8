"""`python -m engine accuracy --map M --reference R [--field F] [--json]`: the same assessment as
bdgf:accuracy (coverage, both OAs, confusion matrix, area-adjusted estimates) without QGIS."""
from __future__ import annotations

import argparse
import json

SAMPLING = {"not-probability": False, "stratified": True}


def add_parser(sub) -> None:
    run = sub.add_parser("accuracy", help="assess a class map against reference labels (coverage, OA, areas)")
    run.add_argument("--map", required=True, help="class raster (0 = unclassified)")
    run.add_argument("--reference", required=True,
                     help="reference labels: a raster (0 = unlabelled) or a vector layer (give --field)")
    run.add_argument("--field", help="integer class field of a vector reference")
    run.add_argument("--layer", help="layer of a multi-layer vector reference (default: the first)")
    run.add_argument("--model", help="model package (.bdgf), for the class names and colours")
    run.add_argument("--sampling", choices=tuple(SAMPLING), default="not-probability",
                     help="'stratified': the reference is a stratified random sample with the map classes as "
                          "strata (e.g. labelled bdgf:samplingdesign points); otherwise the area figures are "
                          "labelled indicative only (default)")
    run.add_argument("--html", help="write the HTML report here")
    run.add_argument("--csv", help="write the CSV tables here")
    run.add_argument("--json", action="store_true", help="print the assessment as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from ..raster.guard import check_outputs
    from ..raster.labels import read_labels, read_reference
    from ..raster.read import grid_of
    from ..raster.write import read_classes
    from .assessment import assess, check_memory, class_values

    check_outputs({"HTML report": args.html, "CSV tables": args.csv},
                  inputs={"class map": args.map, "reference": args.reference},
                  protected={"model package": args.model} if args.model else None)
    grid = grid_of(args.map)
    check_memory(grid, "class map")
    class_map = read_labels(args.map, grid, what="class map")
    reference = read_reference(args.reference, grid, args.field, args.layer)
    if args.model:
        from ..model.package import ModelPackage

        classes = ModelPackage(args.model).classes
    else:
        classes = read_classes(args.map, class_values(class_map, reference))
    assessment = assess(reference, class_map, classes, grid, probability_sample=SAMPLING[args.sampling])
    if args.html:
        assessment.write_html(args.html, title=f"Accuracy of {args.map}",
                              notes=[f"Classification: {args.map}", f"Reference: {args.reference}"])
    if args.csv:
        assessment.write_csv(args.csv)
    if args.json:
        print(json.dumps(assessment.to_dict(), indent=2, allow_nan=False))
    else:
        print(assessment.to_markdown(), end="")
    return 0


