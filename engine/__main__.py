"""Command line: `python -m engine classify ...` and `python -m engine info MODEL.bdgf`.

User errors print one line on stderr and exit with code 2 (no traceback); cancelling (Ctrl+C)
exits with 130 and leaves no output file.
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import BDGFError, Cancelled
from .settings import BACKENDS, DEVICES

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="BDGF land-cover inference.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("classify", help="classify a multimodal scene with a .bdgf model package")
    run.add_argument("--spectral", required=True, help="spectral raster (HSI/MSI); defines the output grid")
    run.add_argument("--aux", action="append", default=[],
                     help="auxiliary raster (SAR, DSM, ...), repeated in the model card's order")
    run.add_argument("--model", required=True, help="model package (.bdgf)")
    run.add_argument("--out", required=True, help="output class raster (GeoTIFF)")
    run.add_argument("--probabilities", help="optional per-class probability raster (GeoTIFF)")
    run.add_argument("--confidence", help="optional max-probability raster (GeoTIFF)")
    run.add_argument("--device", choices=DEVICES, default="auto")
    run.add_argument("--backend", choices=BACKENDS, default="onnx")
    run.add_argument("--tile", type=int, help="tile core size in pixels (default: the model card's)")
    run.add_argument("--batch", type=int, help="classifier batch size (default: from free memory)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    info = sub.add_parser("info", help="print a model package's card")
    info.add_argument("model", help="model package (.bdgf)")
    return parser


def _classify(args) -> int:
    from .classify import classify
    from .package import ModelPackage
    from .progress import ConsoleProgress
    from .raster import limit_gdal_cache
    from .settings import ClassifyOutputs, ClassifySettings

    limit_gdal_cache()
    settings = ClassifySettings(device=args.device, backend=args.backend, tile_size_px=args.tile,
                                batch_size=args.batch)
    outputs = ClassifyOutputs(args.out, probabilities=args.probabilities, confidence=args.confidence)
    package = ModelPackage(args.model)
    progress = ConsoleProgress("classify")
    try:
        result = classify([args.spectral, *args.aux], package, outputs, settings, progress=progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{result.outputs.classes}: {result.pixels_classified} pixels classified, "
              f"{result.pixels_nodata} nodata, {result.seconds:.1f} s on {result.backend_detail}")
    return 0


def _info(args) -> int:
    from .card import format_card
    from .package import ModelPackage

    print(format_card(ModelPackage(args.model).card))
    return 0


def one_line(message: str) -> str:
    """A multi-line message (e.g. one line per modality) folded into one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines[:1] + ["; ".join(lines[1:])]).strip()


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _classify(args) if args.command == "classify" else _info(args)
    except BDGFError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (Cancelled, KeyboardInterrupt):
        print("cancelled: no output written", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
