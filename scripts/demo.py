"""The bundled demo: classify the demo scene in a real QGIS (qgis_process), assess it, draw a preview.

Run with `make demo` (it installs what is missing first), or `.venv/bin/python -m scripts.demo`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from scripts.qgis_runner import REPO, run_with_qgis_process

DEMO = REPO / "resources" / "demo"
MODEL = REPO / "resources" / "models" / "demo.bdgf"
LAYERS = {"SPECTRAL": "hsi.tif", "SAR": "sar.tif", "LIDAR": "dsm.tif"}
NODATA_COLOUR = "#f1b6da"


def check_assets() -> None:
    wanted = [MODEL, DEMO / "test.tif"] + [DEMO / name for name in LAYERS.values()]
    missing = [str(path) for path in wanted if not path.exists()]
    if missing:
        raise SystemExit("demo assets missing: " + ", ".join(missing)
                         + " (rebuild them with `make demo-assets`)")


def classify(out: Path, base: Path) -> dict:
    params = {key: DEMO / name for key, name in LAYERS.items()}
    params.update(MODEL=MODEL, OUTPUT=out / "landcover.tif", CONFIDENCE=out / "confidence.tif")
    return run_with_qgis_process(base, "bdgf:classify", params)["results"]


def assess(out: Path, base: Path) -> dict:
    params = {"INPUT": out / "landcover.tif", "REFERENCE": DEMO / "test.tif", "MODEL": MODEL,
              "OUTPUT_HTML": out / "accuracy.html", "OUTPUT_JSON": out / "accuracy.json",
              "OUTPUT_CSV": out / "accuracy.csv"}
    return run_with_qgis_process(base, "bdgf:accuracy", params)["results"]


def preview(out: Path) -> Path:
    """PNG: the classification with a legend, next to the reference test labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    from osgeo import gdal

    from engine.labels import read_labels
    from engine.package import ModelPackage
    from engine.raster import grid_of

    classes = ModelPackage(MODEL).classes
    top = max(c["value"] for c in classes)
    colours = [NODATA_COLOUR] * (top + 1)
    for c in classes:
        colours[c["value"]] = c["color"]
    ds = gdal.Open(str(out / "landcover.tif"))
    predicted = ds.GetRasterBand(1).ReadAsArray()
    reference = read_labels(str(DEMO / "test.tif"), grid_of(str(out / "landcover.tif")))
    ds = None
    cmap = ListedColormap(colours)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), constrained_layout=True)
    panels = ((predicted, "BDGF classification (QGIS, bdgf:classify)"),
              (np.ma.masked_equal(reference, 0), "Reference (test labels; white: none)"))
    for ax, (data, title) in zip(axes, panels):
        ax.imshow(data, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    handles = [Patch(facecolor=c["color"], edgecolor="black", label=f"{c['value']} {c['name']}")
               for c in classes]
    handles.append(Patch(facecolor=NODATA_COLOUR, edgecolor="black", label="nodata (a layer has no value)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), frameon=False,
               bbox_to_anchor=(0.5, -0.12))
    path = out / "preview.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(out: Path) -> dict:
    check_assets()
    out.mkdir(parents=True, exist_ok=True)
    base = REPO / "build" / "qgis"
    t0 = time.perf_counter()
    classified = classify(out, base)
    scores = assess(out, base)
    report = json.loads((out / "accuracy.json").read_text())
    summary = {
        # oa = OA over the classified reference pixels, as in the model card
        "oa": scores["OA"], "oa_classified": scores["OA_CLASSIFIED"],
        "oa_all_reference": scores["OA_ALL_REFERENCE"], "coverage": scores["COVERAGE"],
        "reference_pixels": report["n_reference"], "unclassified": report["unclassified"],
        "aa": scores["AA"], "kappa": scores["KAPPA"], "area_adjusted": report["area_adjusted"],
        "device": classified.get("DEVICE_USED"), "seconds": round(time.perf_counter() - t0, 1),
        "outputs": {name: str(out / name) for name in
                    ("landcover.tif", "landcover.qml", "confidence.tif", "accuracy.html", "accuracy.json",
                     "preview.png")},
    }
    preview(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _pm(estimate: dict, scale: float, unit: str, digits: int = 2) -> str:
    """'value ± 95 % half-width unit' of an estimate from accuracy.json."""
    if estimate["estimate"] is None:
        return "undefined"
    value = f"{scale * estimate['estimate']:,.{digits}f}"
    if estimate["ci95_half_width"] is None:
        return value + unit
    return f"{value} ± {scale * estimate['ci95_half_width']:,.{digits}f}{unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "out" / "demo"), help="output folder (default out/demo)")
    summary = run(Path(parser.parse_args(argv).out))
    print(f"BDGF demo ({summary['device']}, {summary['seconds']} s in QGIS):")
    total, unclassified = summary["reference_pixels"], summary["unclassified"]
    print(f"  coverage {100 * summary['coverage']:.2f} % ({total - unclassified} of {total} reference pixels "
          f"classified, {unclassified} unclassified)")
    print(f"  OA over classified reference pixels                  {100 * summary['oa_classified']:.2f} %")
    print(f"  OA over all reference pixels (unclassified = wrong)  {100 * summary['oa_all_reference']:.2f} %")
    print(f"  AA {100 * summary['aa']:.2f} %, Kappa {summary['kappa']:.4f} "
          "(over classified reference pixels)")
    area = summary["area_adjusted"]
    print(f"  area-adjusted, map classes as strata ({area['sampling']}), ± 95 % CI:")
    print(f"    OA {_pm(area['overall_accuracy'], 100, ' %')}")
    for c in area["classes"]:
        ha = f"  {_pm(c['area_ha'], 1, ' ha')}" if c["area_ha"] else ""
        print(f"    {c['name']:<24} {_pm(c['area_pixels'], 1, ' px', 0):>16}{ha}")
    for path in summary["outputs"].values():
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
