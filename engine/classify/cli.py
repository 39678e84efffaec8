"""`python -m engine classify --spectral HSI --aux SAR --aux DSM --model M.bdgf --out classes.tif`: one
scene to a map (engine/classify/run.py), the same run as bdgf:classify, without QGIS."""
from __future__ import annotations

import argparse
import json

from ..settings import BACKENDS, DEVICES, parse_modality_values


def add_parser(sub) -> None:
    run = sub.add_parser("classify", help="classify a multimodal scene with a .bdgf model package")
    run.add_argument("--spectral", required=True, help="spectral raster (HSI/MSI); defines the output grid")
    run.add_argument("--aux", action="append", default=[], metavar="[MODALITY=]PATH",
                     help="auxiliary raster (SAR, DSM, ...), repeated in the model card's order, or named "
                          "(--aux dsm=dsm.tif). A layer left out is run without only when the model card "
                          "gives the accuracy without it (`info`: 'Can run without')")
    run.add_argument("--model", required=True, help="model package (.bdgf)")
    run.add_argument("--out", required=True, help="output class raster (GeoTIFF)")
    run.add_argument("--probabilities", help="optional per-class probability raster (GeoTIFF)")
    run.add_argument("--confidence", help="optional max-probability raster (GeoTIFF)")
    trust = run.add_argument_group("trust outputs (README: 'Trust outputs'; `info`: which a model supports)")
    trust.add_argument("--entropy", help="normalised entropy of the class probabilities, 0 (sure) .. 1")
    trust.add_argument("--disagreement", help="Jensen-Shannon divergence of the classifier branches' "
                                              "probabilities / ln(min(branches, classes)), 0 .. 1")
    trust.add_argument("--agreement", help="share of the classifier branches whose class is the map's")
    trust.add_argument("--contribution", help="per modality (one band each): drop of the predicted class's "
                                              "probability without it (one more pass per modality: the "
                                              "run takes about two to three times as long)")
    trust.add_argument("--dominant-modality", help="the modality with the largest contribution (paletted)")
    run.add_argument("--device", choices=DEVICES, default="auto")
    run.add_argument("--backend", choices=BACKENDS, default="onnx")
    run.add_argument("--nodata", action="append", default=[], metavar="MODALITY=VALUE",
                     help="nodata value of a layer, replacing the one its file declares; 'none': the layer "
                          "has no nodata (e.g. --nodata hsi=0, --nodata dsm=none); repeatable")
    run.add_argument("--scale", action="append", default=[], metavar="MODALITY=FACTOR",
                     help="multiply a layer's values by FACTOR to match the training data (e.g. "
                          "--scale hsi=0.0001 for reflectance stored as integers x 10000); repeatable")
    run.add_argument("--tile", type=int, help="tile core size in pixels (default: the model card's, at least "
                     "256 on a CPU and 512 on a GPU)")
    run.add_argument("--batch", type=int, help="classifier batch size (default: from free memory)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from ..model.missing_modality import missing_layer_message
    from ..model.package import ModelPackage
    from ..progress import ConsoleProgress
    from ..raster.read import limit_gdal_cache
    from ..settings import ClassifyOutputs, ClassifySettings
    from ..trust.contribution import contribution_ratio
    from .run import classify

    limit_gdal_cache()
    settings = ClassifySettings(device=args.device, backend=args.backend, tile_size_px=args.tile,
                                batch_size=args.batch)
    outputs = ClassifyOutputs(args.out, probabilities=args.probabilities, confidence=args.confidence,
                              entropy=args.entropy, disagreement=args.disagreement, agreement=args.agreement,
                              contribution=args.contribution, dominant_modality=args.dominant_modality)
    package = ModelPackage(args.model)
    progress = ConsoleProgress("classify")
    try:
        result = classify(layers(args.spectral, args.aux, package.card), package, outputs, settings,
                          nodata=parse_modality_values(args.nodata, "--nodata"),
                          scale=parse_modality_values(args.scale, "--scale"), progress=progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{result.outputs.classes}: {result.pixels_classified} pixels classified, "
              f"{result.pixels_nodata} nodata, {result.seconds:.1f} s on {result.backend_detail}")
        for name in result.missing_modalities:
            print(missing_layer_message(package.card, name))
        extra = result.profile.get("modality contribution")
        if extra is not None:
            print(f"modality contribution: +{extra:.1f} s of the {result.seconds:.1f} s, "
                  f"{contribution_ratio(extra, result.seconds):.2f}x the classification without it (one more "
                  f"features + classifier pass per modality); "
                  f"{result.pixels_classified / max(result.seconds - extra, 1e-9):,.0f} px/s without it, "
                  f"{result.pixels_per_second or 0:,.0f} px/s with it")
    return 0


def layers(spectral: str, aux: list[str], card) -> list[str] | dict[str, str]:
    """The layers of `classify`: a list in card order, or {modality: path} when the --aux are named
    (MODALITY=PATH, MODALITY a modality name or unique role of the card); not both."""
    from ..errors import BDGFError

    keys = {m["name"] for m in card["modalities"][1:]} | {m["role"] for m in card["modalities"][1:]}
    named = [item.partition("=") for item in aux]
    named = [(key.strip(), path) for key, sep, path in named if sep and key.strip() in keys]
    if not named:
        return [spectral, *aux]
    if len(named) != len(aux):
        raise BDGFError("--aux: name every auxiliary layer (MODALITY=PATH, e.g. --aux dsm=dsm.tif) or none "
                        f"of them (then they follow the model card's order); found {', '.join(aux)}.")
    inputs = {card["modalities"][0]["name"]: spectral}
    for key, path in named:
        if key in inputs:
            raise BDGFError(f"--aux: {key} is given twice; give each modality one layer.")
        inputs[key] = path
    return inputs
