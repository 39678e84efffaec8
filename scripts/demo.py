"""The bundled demo: classify the demo scene in a real QGIS (qgis_process), assess it, draw a preview.

The run also writes the trust outputs (README, "Trust outputs"): entropy, branch disagreement and
agreement, the modality contribution and the dominant modality; the preview shows them beside the map.
Run with `make demo` (it installs what is missing first), or `.venv/bin/python -m scripts.demo`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from engine.trust.contribution import contribution_ratio
from scripts.qgis_runner import REPO, run_with_qgis_process

DEMO = REPO / "resources" / "demo"
MODEL = REPO / "resources" / "models" / "demo.bdgf"
LAYERS = {"SPECTRAL": "hsi.tif", "SAR": "sar.tif", "LIDAR": "dsm.tif"}
NODATA_COLOUR = "#f1b6da"
# bdgf:classify's trust outputs -> the files the demo writes (Float32 0..1, nodata -1; dominant: paletted)
TRUST = {"ENTROPY": "entropy.tif", "DISAGREEMENT": "disagreement.tif", "AGREEMENT": "agreement.tif",
         "CONTRIBUTION": "contribution.tif", "DOMINANT_MODALITY": "dominant_modality.tif"}
# the line bdgf:classify logs for the contribution's cost (engine/classify/run.py; seconds to 0.01 s, so
# that the ratio recomputed here from them is the one the log gives)
CONTRIBUTION_LOG = re.compile(r"Modality contribution: (\d+) extra features \+ classifier passes per tile "
                              r"took ([\d.]+) s of the ([\d.]+) s")


def check_assets() -> None:
    wanted = [MODEL, DEMO / "test.tif"] + [DEMO / name for name in LAYERS.values()]
    missing = [str(path) for path in wanted if not path.exists()]
    if missing:
        raise SystemExit("demo assets missing: " + ", ".join(missing)
                         + " (rebuild them with `make demo-assets`)")


def classify(out: Path, base: Path) -> tuple[dict, dict | None]:
    """(bdgf:classify's results, {"passes", "seconds", "of_seconds"} of the modality contribution read
    from its log, or None)."""
    params = {key: DEMO / name for key, name in LAYERS.items()}
    params.update(MODEL=MODEL, OUTPUT=out / "landcover.tif", CONFIDENCE=out / "confidence.tif",
                  **{key: out / name for key, name in TRUST.items()})
    done = run_with_qgis_process(base, "bdgf:classify", params)
    lines = (done.get("log") or {}).get("info") or []
    found = next((m for m in map(CONTRIBUTION_LOG.search, lines) if m), None)
    if found is None:
        return done["results"], None
    passes, seconds, total = int(found[1]), float(found[2]), float(found[3])
    return done["results"], {"passes": passes, "seconds": seconds, "of_seconds": total}


def assess(out: Path, base: Path) -> dict:
    params = {"INPUT": out / "landcover.tif", "REFERENCE": DEMO / "test.tif", "MODEL": MODEL,
              "OUTPUT_HTML": out / "accuracy.html", "OUTPUT_JSON": out / "accuracy.json",
              "OUTPUT_CSV": out / "accuracy.csv"}
    return run_with_qgis_process(base, "bdgf:accuracy", params)["results"]


def _read(path: Path):
    from osgeo import gdal

    ds = gdal.Open(str(path))
    return ds.ReadAsArray()


def preview(out: Path) -> Path:
    """PNG, 3 x 3 panels: the classification with a legend, the reference test labels and the dominant
    modality; entropy, branch disagreement and agreement; each modality's contribution. The trust rasters
    in the colours of their QGIS styles (engine/classify/writers.py), nodata pink as in the map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.patches import Patch

    from engine.classify.writers import AGREEMENT_RAMP, CONTRIBUTION_RAMP, UNCERTAIN_RAMP
    from engine.model.package import ModelPackage
    from engine.raster.labels import read_labels
    from engine.raster.read import grid_of
    from engine.trust.contribution import modality_classes

    card = ModelPackage(MODEL).card
    classes = card["classes"]
    top = max(c["value"] for c in classes)
    colours = [NODATA_COLOUR] * (top + 1)
    for c in classes:
        colours[c["value"]] = c["color"]
    predicted = _read(out / "landcover.tif")
    reference = read_labels(str(DEMO / "test.tif"), grid_of(str(out / "landcover.tif")))
    modalities = modality_classes(card["modalities"])
    fig, axes = plt.subplots(3, 3, figsize=(14, 12.5), constrained_layout=True)
    for ax in axes.flat:
        ax.set_axis_off()
    panels = ((predicted, "BDGF classification (QGIS, bdgf:classify)"),
              (np.ma.masked_equal(reference, 0), "Reference (test labels; white: none)"))
    for ax, (data, title) in zip(axes[0], panels):
        ax.imshow(data, cmap=ListedColormap(colours), vmin=0, vmax=top, interpolation="nearest")
        ax.set_title(title)
    dominant = _read(out / TRUST["DOMINANT_MODALITY"])  # 1..M + 1, 0 = nodata
    axes[0, 2].imshow(dominant, cmap=ListedColormap([NODATA_COLOUR] + [m["color"] for m in modalities]),
                      vmin=0, vmax=len(modalities), interpolation="nearest")
    axes[0, 2].set_title("Dominant modality")
    axes[0, 2].legend(handles=[Patch(facecolor=m["color"], edgecolor="black", label=m["name"].split(" (")[0])
                               for m in modalities], loc="lower right", fontsize=8, framealpha=0.9)
    scalar = [(axes[1, 0], TRUST["ENTROPY"], 0, UNCERTAIN_RAMP, "Entropy (red: unsure)"),
              (axes[1, 1], TRUST["DISAGREEMENT"], 0, UNCERTAIN_RAMP, "Branch disagreement (JSD)"),
              (axes[1, 2], TRUST["AGREEMENT"], 0, AGREEMENT_RAMP, "Branch agreement (red: low)")]
    contribution = TRUST["CONTRIBUTION"]
    scalar += [(axes[2, i], contribution, i, CONTRIBUTION_RAMP, f"Contribution of {m['name']}")
               for i, m in enumerate(card["modalities"][:3])]
    for ax, name, band, ramp, title in scalar:
        data = _read(out / name)
        data = data[band] if data.ndim == 3 else data
        cmap = LinearSegmentedColormap.from_list(name, list(ramp)).with_extremes(bad=NODATA_COLOUR)
        image = ax.imshow(np.ma.masked_less(data, 0), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title)
        fig.colorbar(image, ax=ax, shrink=0.7)
    handles = [Patch(facecolor=c["color"], edgecolor="black", label=f"{c['value']} {c['name']}")
               for c in classes]
    handles.append(Patch(facecolor=NODATA_COLOUR, edgecolor="black", label="nodata (a layer has no value)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), frameon=False,
               bbox_to_anchor=(0.5, -0.06))
    path = out / "preview.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(out: Path) -> dict:
    check_assets()
    out.mkdir(parents=True, exist_ok=True)
    base = REPO / "build" / "qgis"
    t0 = time.perf_counter()
    classified, contribution = classify(out, base)
    scores = assess(out, base)
    report = json.loads((out / "accuracy.json").read_text())
    summary = {
        # oa = OA over the classified reference pixels, as in the model card
        "oa": scores["OA"], "oa_classified": scores["OA_CLASSIFIED"],
        "oa_all_reference": scores["OA_ALL_REFERENCE"], "coverage": scores["COVERAGE"],
        "reference_pixels": report["n_reference"], "unclassified": report["unclassified"],
        "aa": scores["AA"], "kappa": scores["KAPPA"], "area_adjusted": report["area_adjusted"],
        "device": classified.get("DEVICE_USED"), "seconds": round(time.perf_counter() - t0, 1),
        # the modality contribution's added time, from bdgf:classify's log (None: the line was not found)
        "contribution": contribution,
        "outputs": {name: str(out / name) for name in
                    ("landcover.tif", "landcover.qml", "confidence.tif", *TRUST.values(), "accuracy.html",
                     "accuracy.json", "preview.png")},
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
    cost = summary["contribution"]
    if cost:
        added, plain = cost["seconds"], cost["of_seconds"] - cost["seconds"]
        ratio = contribution_ratio(added, cost["of_seconds"])
        print(f"  modality contribution: +{added:.2f} s on top of the {plain:.2f} s classification, "
              f"{ratio:.2f}x ({cost['passes']} extra features + classifier passes per tile, one per "
              "modality)")
    for path in summary["outputs"].values():
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
