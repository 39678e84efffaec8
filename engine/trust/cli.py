"""`python -m engine suggest --map M --uncertainty U --out points.gpkg [--count N] [--min-distance D]
[--seed S]`: where to label next, as bdgf:suggestsamples (engine/trust/suggest.py), without QGIS."""
from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    from .suggest import SuggestSettings

    defaults = SuggestSettings()
    run = sub.add_parser("suggest", help="the most uncertain pixels, spread out and balanced across the "
                                         "classes, as points to label (GeoPackage)")
    run.add_argument("--map", required=True, help="class raster of `engine classify` (0 = unclassified)")
    run.add_argument("--uncertainty", required=True,
                     help="its entropy or branch disagreement raster (engine classify --entropy / "
                          "--disagreement)")
    run.add_argument("--out", required=True, help="the point layer to write (.gpkg)")
    run.add_argument("--count", type=int, default=defaults.count, help=f"points (default {defaults.count})")
    run.add_argument("--min-distance", type=float, default=defaults.min_distance_px,
                     help=f"minimum distance between points, pixels (default {defaults.min_distance_px:g})")
    run.add_argument("--seed", type=int, default=defaults.seed, help="order of equal values and of the "
                                                                     "classes' turns (default 0)")
    run.add_argument("--band", type=int, default=defaults.band, help="band of the uncertainty raster")
    run.add_argument("--json", action="store_true", help="print the points as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from .suggest import SuggestSettings, suggest_and_write

    settings = SuggestSettings(count=args.count, min_distance_px=args.min_distance, seed=args.seed,
                               band=args.band)
    suggestion = suggest_and_write(args.map, args.uncertainty, args.out, settings)
    if args.json:
        print(json.dumps({"out": args.out, "per_class": suggestion.per_class,
                          "points": [vars(p) for p in suggestion.points]}, indent=2))
    else:
        shares = ", ".join(f"{v}: {n}" for v, n in suggestion.per_class.items())
        print(f"{args.out}: {len(suggestion.points)} points to label (per class {shares}); write each "
              "point's true class value into its 'label' field")
    for warning in suggestion.warnings:  # on stderr: with --json, stdout stays one JSON document
        print(f"warning: {warning}", file=sys.stderr if args.json else sys.stdout)
    return 0
