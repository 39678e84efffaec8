"""Would a coarser grid make the modality contribution cheaper at an acceptable error?
python -m bench.contribution_grid [--model M.bdgf --layers HSI SAR DSM] [--docs DIR]

The contribution (README, "Trust outputs"; engine/trust/contribution.py) costs one more features +
classifier pass per modality. The classifier's per-pixel step is about half of a pass (docs/bench/
inference.md), so computing each fill's probabilities only on every s-th pixel of every s-th row, and
interpolating them to the other pixels, would cut that half to 1 / s^2. This benchmark measures what the
map would lose: on the bundled demo (or any scene in card order), the exact contribution against the
one from fills sampled at strides 2 and 3, put back by nearest neighbour or bilinearly, as
- the mean absolute error of the contribution (on 0..1) over the valid pixels, its 95th percentile and the
  share of pixels off by more than 0.1;
- the share of pixels whose dominant modality stays the same.
The fills are computed as the engine computes them (bench.gpu.classify_scene: the engine's tiles, noise,
features and dense classifier on ONNX Runtime); the page also gives the largest difference between this
exact contribution and the one the engine writes (engine.classify.classify), which checks that the two
agree. Writes DOCS/contribution_grid.json + .md.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.report import DOCS, md_table, write_results
from bench.stamp import REPO, command_line, make_stamp

DEMO = REPO / "resources" / "demo"
STRIDES = (2, 3)
MODES = ("nearest", "bilinear")


def upsample(sub: np.ndarray, stride: int, shape: tuple[int, int], mode: str) -> np.ndarray:
    """(K, h', w') values sampled at [::stride, ::stride] of an (h, w) grid, back on the whole grid."""
    h, w = shape
    if mode == "nearest":
        return np.repeat(np.repeat(sub, stride, 1), stride, 2)[:, :h, :w]
    ys, xs = np.arange(h) / stride, np.arange(w) / stride
    y0 = np.minimum(ys.astype(int), sub.shape[1] - 1)
    x0 = np.minimum(xs.astype(int), sub.shape[2] - 1)
    y1, x1 = np.minimum(y0 + 1, sub.shape[1] - 1), np.minimum(x0 + 1, sub.shape[2] - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = sub[:, y0][:, :, x0] * (1 - fx) + sub[:, y0][:, :, x1] * fx
    bottom = sub[:, y1][:, :, x0] * (1 - fx) + sub[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bottom * fy


def contribution(full: np.ndarray, filled: list[np.ndarray], valid: np.ndarray) -> np.ndarray:
    """(M, H, W): max(0, p(c*) - p_m(c*)) at the valid pixels, c* the class of the full map (the engine's
    rule, engine.trust.contribution)."""
    mapped = full.argmax(0)[None]
    p_full = np.take_along_axis(full, mapped, 0)[0]
    return np.stack([np.where(valid, np.maximum(p_full - np.take_along_axis(p, mapped, 0)[0], 0), 0)
                     for p in filled]).astype(np.float32)


def dominant(c: np.ndarray) -> np.ndarray:
    return np.where(c.max(0) > 0, c.argmax(0), -1)


def scene_probabilities(model: Path, layers: list[Path]):
    """The fused probabilities of the whole scene with every layer and with each modality at the neutral
    fill, the valid mask, and the package."""
    from bench.gpu import classify_scene
    from engine.model.backends import OnnxBackend
    from engine.model.package import ModelPackage
    from engine.normalise import Normaliser, fill_modality
    from engine.raster.read import aligned_vrt, read_window, reference_grid

    package = ModelPackage(str(model))
    card = package.card
    ref = reference_grid(str(layers[0]))
    arrays, valid = [], np.ones((ref.height, ref.width), bool)
    for path in layers:  # on the spectral layer's grid, as the engine reads them
        data, ok = read_window(aligned_vrt(str(path), ref, "bilinear"), 0, 0, ref.height, ref.width)
        arrays.append(data)
        valid &= ok
    norm = Normaliser.from_card(card)
    x = norm.apply(arrays, valid)
    backend = OnnxBackend(package, "cpu")

    def probs(xx):
        return classify_scene(backend, card, xx[0], valid=valid)["probs"]

    filled = [probs(fill_modality(x, norm.channels, m)) for m in range(len(norm.channels))]
    return probs(x), filled, valid, package


def engine_contribution(package, layers: list[Path]) -> np.ndarray:
    """The contribution raster the engine writes for the same scene (M, H, W)."""
    from osgeo import gdal

    from engine.classify.run import classify
    from engine.settings import ClassifyOutputs

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        classify([str(p) for p in layers], package, ClassifyOutputs(str(out / "classes.tif"),
                                                                   contribution=str(out / "c.tif")))
        return gdal.Open(str(out / "c.tif")).ReadAsArray()


def measure(model: Path, layers: list[Path]) -> dict:
    full, filled, valid, package = scene_probabilities(model, layers)
    exact = contribution(full, filled, valid)
    written = engine_contribution(package, layers)
    rows = []
    for stride in STRIDES:
        for mode in MODES:
            approx = contribution(full, [upsample(p[:, ::stride, ::stride], stride, valid.shape, mode)
                                         for p in filled], valid)
            err = np.abs(approx - exact)[:, valid].ravel()
            rows.append({"stride": stride, "mode": mode, "pixel_work": 1 / stride ** 2,
                         "mae": float(err.mean()), "p95": float(np.percentile(err, 95)),
                         "off_by_0_1": float((err > 0.1).mean()),
                         "dominant_same": float((dominant(approx) == dominant(exact))[valid].mean())})
    return {"model": str(model.relative_to(REPO) if model.is_relative_to(REPO) else model),
            "modalities": [m["name"] for m in package.card["modalities"]],
            "valid_pixels": int(valid.sum()), "mean_contribution": float(exact[:, valid].mean()),
            "engine_max_abs_difference": float(np.abs(written[:, valid] - exact[:, valid]).max()),
            "rows": rows}


def markdown(data: dict) -> list[str]:
    r = data["result"]
    nth = {2: "2nd", 3: "3rd"}
    rows = [[f"every {nth.get(x['stride'], str(x['stride']) + 'th')} px of every "
             f"{nth.get(x['stride'], str(x['stride']) + 'th')} row", x["mode"], f"{x['pixel_work']:.2f}",
             f"{x['mae']:.3f}", f"{x['p95']:.3f}", f"{100 * x['off_by_0_1']:.1f}",
             f"{100 * x['dominant_same']:.1f}"] for x in r["rows"]]
    return [f"Model `{r['model']}` ({', '.join(r['modalities'])}), {r['valid_pixels']:,} valid pixels; "
            f"mean exact contribution {r['mean_contribution']:.3f} (on 0..1). The exact contribution "
            f"computed here and the one the engine writes differ by at most "
            f"{r['engine_max_abs_difference']:.1e}.", "",
            *md_table(["fills computed at", "put back", "per-pixel work", "mean abs. error",
                       "95th pct error", "% off by > 0.1", "% same dominant modality"], rows, "llrrrrr"),
            "", "Per-pixel work: the share of each fill's per-pixel classifier step left to compute; the "
            "features and per-window tables of a fill are needed in full either way."]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "resources" / "models" / "demo.bdgf"))
    ap.add_argument("--layers", nargs="+", default=[str(DEMO / n) for n in ("hsi.tif", "sar.tif", "dsm.tif")],
                    help="the scene's layers in card order (spectral first), on one grid")
    ap.add_argument("--docs", default=str(DOCS))
    args = ap.parse_args(argv)
    stamp = make_stamp(command_line("bench.contribution_grid", argv))
    data = {"stamp": stamp, "result": measure(Path(args.model).resolve(), [Path(p) for p in args.layers])}
    title = "Modality contribution on a coarser grid: what the map would lose"
    json_path, md_path = write_results(args.docs, "contribution_grid", title, data, markdown(data))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
