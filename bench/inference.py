"""Inference benchmark: python -m bench.inference [--size 332x485] [--bands 180,4,1] [--model PATH] [--big].

Writes an Augsburg-size synthetic scene (training.synthetic: HSI + 4-band SAR + nDSM on one grid,
GeoTIFFs in a temp dir), builds a random-init default-config model package for it
(training.export_model.build_random_package; or takes --model), classifies the scene with ONNX Runtime
CPU and PyTorch eager CPU, each run in a fresh subprocess (model loading included), and reports
seconds, pixels/s, peak RSS, the time profile and each backend's speed relative to PyTorch eager, the
baseline measured in the same run.
--big: a 10,000 x 10,000 px grid with 200 spectral bands, written as a sparse tiled GeoTIFF in which
only a central block holds data (a training.synthetic scene; the rest is nodata), classified whole
with a small (quick-preset) model: memory must stay flat over ~1,600 tiles.
Writes DOCS/inference.json + inference.md (--big: inference_big.*); DOCS defaults to docs/bench/.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.report import DOCS, md_table, ratio, write_results
from bench.stamp import REPO, command_line, make_stamp

AUX = (("sar", "sar", 4), ("dsm", "lidar", 1))  # the synthetic scene's auxiliary layers: name, role, bands
BASELINE = "torch"
LABELS = {"onnx": "ONNX Runtime", "torch": "PyTorch eager"}


# ---------------------------------------------------------------- scenes (from training.synthetic)

def parse_bands(text: str) -> tuple[int, ...]:
    """'180,4,1' -> (180, 4, 1): any spectral count; the auxiliaries are the scene's (SAR 4, nDSM 1)."""
    bands = tuple(int(v) for v in text.split(","))
    aux = tuple(n for _, _, n in AUX)
    if not bands or bands[1:] != aux[:len(bands) - 1]:
        raise SystemExit(f"error: --bands {text}: the spectral band count is free, the auxiliary layers are "
                         f"the synthetic scene's SAR (4) and nDSM (1), e.g. 180,4,1 or 180,4 or 180")
    return bands


def _normalization(arrays: list[np.ndarray]) -> dict:
    """2-98 % per band over every 3rd valid pixel (training.prepare's statistics)."""
    from training.prepare import percentile_stats

    low, high = [], []
    for a in arrays:
        flat = a.reshape(a.shape[0], -1)
        pixels = np.flatnonzero(np.isfinite(flat).all(0))[::3]
        lo, hi = percentile_stats(a, pixels)
        low.append(lo.tolist())
        high.append(hi.tolist())
    return {"low": low, "high": high}


def _modalities(bands: tuple[int, ...]) -> list[dict]:
    return [{"name": "hsi", "role": "spectral", "bands": bands[0]},
            *({"name": n, "role": r, "bands": b} for n, r, b in AUX[:len(bands) - 1])]


def synthetic_scene(work: str, height: int, width: int, bands: tuple[int, ...], seed: int = 0) -> dict:
    """training.synthetic scene as GeoTIFFs: inputs (card order), modalities, classes, normalization."""
    from training.synthetic import make_scene, write_scene

    scene = make_scene(height, width, seed=seed, n_bands=bands[0])
    paths = write_scene(scene, work, "same", train_per_class=1)
    arrays = [scene.hsi, scene.sar, scene.ndsm][:len(bands)]
    return {"inputs": [paths[k] for k in ("hsi", "sar", "dsm")][:len(bands)], "shape": [height, width],
            "modalities": _modalities(bands), "classes": scene.classes,
            "normalization": _normalization(arrays), "valid_pixels": height * width}


def sparse_scene(work: str, size: int, bands: tuple[int, ...], valid: int, seed: int = 0) -> dict:
    """A size x size grid as tiled sparse GeoTIFFs (unwritten blocks cost no disk and read as nodata) with a
    valid x valid training.synthetic scene in the centre; HSI as Int16 reflectance x 10,000."""
    from osgeo import gdal

    from training.geotiff import srs_wkt
    from training.synthetic import make_scene

    scene = make_scene(valid, valid, seed=seed, n_bands=bands[0])
    r0 = c0 = (size - valid) // 2 // 256 * 256
    x0, px, _, y0, _, _ = scene.geotransform
    gt = (x0 - c0 * px, px, 0.0, y0 + r0 * px, 0.0, -px)
    layers = [("hsi", np.clip(scene.hsi * 10000, -9998, 32767).astype(np.int16), gdal.GDT_Int16),
              ("sar", scene.sar.astype(np.float32), gdal.GDT_Float32),
              ("dsm", scene.ndsm.astype(np.float32), gdal.GDT_Float32)][:len(bands)]
    inputs = []
    for name, data, gtype in layers:
        path = os.path.join(work, f"{name}.tif")
        ds = gdal.GetDriverByName("GTiff").Create(
            path, size, size, data.shape[0], gtype,
            ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "INTERLEAVE=BAND", "SPARSE_OK=TRUE",
             "COMPRESS=DEFLATE", "PREDICTOR=2", "BIGTIFF=YES"])
        ds.SetGeoTransform(gt)
        ds.SetProjection(srs_wkt(scene.crs))
        for b in range(data.shape[0]):
            band = ds.GetRasterBand(b + 1)
            band.SetNoDataValue(-9999)
            band.WriteArray(data[b], c0, r0)
        ds = None
        inputs.append(path)
    return {"inputs": inputs, "shape": [size, size], "modalities": _modalities(bands),
            "classes": scene.classes, "valid_pixels": valid * valid,
            "normalization": _normalization([d.astype(np.float32) for _, d, _ in layers])}


# ---------------------------------------------------------------- one run per fresh process

def parameter_counts(model: str) -> dict[str, int]:
    """Weights in the package: DDPM, classifier and total (ModelPackage.tensors: the stored state)."""
    from engine.package import ModelPackage

    package = ModelPackage(model)
    counts = {part: int(sum(t.size for t in package.tensors(part + ".").values()))
              for part in ("ddpm", "classifier")}
    return {**counts, "total": sum(counts.values())}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(args) -> None:
    """Run one classification in this (fresh) process and print its summary as JSON."""
    from engine.classify import classify
    from engine.raster import limit_gdal_cache
    from engine.settings import ClassifyOutputs, ClassifySettings

    limit_gdal_cache()
    settings = ClassifySettings(device="cpu", backend=args.backend, tile_size_px=args.tile,
                                batch_size=args.batch)
    summary = classify(args.inputs, args.model, ClassifyOutputs(args.out), settings).to_dict()
    summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH-JSON " + json.dumps(summary))


def run_child(inputs: list[str], model: str, out: str, backend: str, tile=None, batch=None) -> dict:
    """One CPU classification in a fresh `python -m bench.inference --child` process; its summary."""
    cmd = [sys.executable, "-m", "bench.inference", "--child", "--backend", backend, "--model", str(model),
           "--out", str(out), "--inputs", *map(str, inputs)]
    cmd += ["--tile", str(tile)] if tile else []
    cmd += ["--batch", str(batch)] if batch else []
    path = [str(REPO), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode:
        raise RuntimeError(f"{backend} run failed:\n{proc.stderr[-4000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")][-1]
    return json.loads(line[len("BENCH-JSON "):])


def agreement(a: str, b: str) -> float:
    """Share of the pixels classified in either map on which the two class maps agree."""
    from osgeo import gdal

    x, y = gdal.Open(a).ReadAsArray(), gdal.Open(b).ReadAsArray()
    valid = (x > 0) | (y > 0)
    return float((x[valid] == y[valid]).mean()) if valid.any() else 1.0


def compare_backends(inputs: list[str], model: str, work, backends=("onnx", "torch"), repeats: int = 1,
                     tile=None, batch=None) -> dict:
    """Each backend `repeats` times (interleaved), each run in a fresh process; per backend the median run,
    all times, the peak RSS and its speed relative to PyTorch eager (when that ran)."""
    os.makedirs(work, exist_ok=True)
    runs: dict[str, list[dict]] = {b: [] for b in backends}
    for _ in range(repeats):
        for backend in runs:
            out = os.path.join(work, f"classes_{backend}.tif")
            runs[backend].append(run_child(inputs, model, out, backend, tile, batch))
    result: dict = {"repeats": repeats, "baseline": BASELINE if BASELINE in runs else None, "backends": {}}
    for backend, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        med = rs[int(np.argsort(secs)[len(secs) // 2])]
        result["backends"][backend] = {
            **{k: med.get(k) for k in ("seconds", "pixels_per_second", "tile_size_px", "halo_px",
                                       "batch_size", "tiles", "pixels_classified", "pixels_nodata",
                                       "backend_detail", "device", "profile")},
            "seconds_all": secs, "seconds_min": min(secs), "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "classes_tif": med["outputs"]["classes"]}
    base = result["backends"].get(BASELINE)
    for s in result["backends"].values():
        s["speed_vs_baseline"] = base["seconds"] / s["seconds"] if base and s["seconds"] else None
    if {"onnx", "torch"} <= set(runs):
        b = result["backends"]
        result["speedup_onnx_vs_torch"] = b["torch"]["seconds"] / b["onnx"]["seconds"]
        result["class_map_agreement"] = agreement(b["onnx"]["classes_tif"], b["torch"]["classes_tif"])
    return result


# ---------------------------------------------------------------- report

def backend_table(result: dict) -> list[str]:
    """Markdown table of a compare_backends result (used by the testbed report as well)."""
    rows = []
    base = (result["backends"].get(result.get("baseline") or "") or {}).get("seconds")
    for backend, s in result["backends"].items():
        label = LABELS.get(backend, backend) + (" (baseline)" if backend == result.get("baseline") else "")
        rows.append([f"{label} [{s['backend_detail']}]", f"{s['seconds']:.2f}", f"{s['seconds_min']:.2f}",
                     ratio(base, s["seconds"]), f"{s['pixels_per_second']:.0f}", f"{s['peak_rss_mb']:.0f}",
                     f"{s['tile_size_px']} + {s['halo_px']}", s["batch_size"]])
    return md_table(["backend", "seconds (median)", "min", "speed vs eager", "pixels / s", "peak RSS (MB)",
                     "tile + halo", "batch"], rows, "lrrrrrrr")


def markdown(data: dict) -> list[str]:
    r, sc, n = data["result"], data["scene"], data.get("parameters")
    scene = (f"{'sparse ' if data['big'] else ''}synthetic scene (training.synthetic) of {sc['shape'][0]} × "
             f"{sc['shape'][1]} px, bands {' + '.join(str(m['bands']) for m in sc['modalities'])}"
             + (f", {sc['valid_pixels']} pixels with data" if data["big"] else ""))
    model = data["model"] + (f" ({n['total'] / 1e6:.2f} M parameters: DDPM {n['ddpm'] / 1e6:.2f} M, "
                             f"classifier {n['classifier'] / 1e6:.2f} M)" if n else "")
    lines = [f"Full-scene classification, CPU, of a {scene}; model: {model}. Each run in a fresh process "
             f"(model loading included); {r['repeats']} run(s) per backend, interleaved; the median run is "
             "shown. *Speed vs eager* = PyTorch eager's seconds / the backend's, both measured in this run.",
             "", *backend_table(r), ""]
    if data["big"]:
        counts = [f"{LABELS.get(b, b)}: {s['tiles']} tiles, {s['pixels_classified']} pixels classified, "
                  f"{s['pixels_nodata']} nodata" for b, s in r["backends"].items()]
        lines += ["; ".join(counts) + ".", ""]
    if "class_map_agreement" in r:
        lines += [f"The two class maps agree on {100 * r['class_map_agreement']:.3f} % of the pixels.", ""]
    steps = sorted({k for s in r["backends"].values() for k in (s.get("profile") or {})})
    if steps:
        lines += ["Time profile of the median run (seconds per step):", "",
                  *md_table(["backend", *steps], [[LABELS.get(b, b), *(f"{(s['profile'] or {}).get(k, 0):.2f}"
                                                                      for k in steps)]
                                                  for b, s in r["backends"].items()], "l" + "r" * len(steps))]
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.inference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", help="HEIGHTxWIDTH of the scene (default 332x485; --big: N, default 10000)")
    p.add_argument("--bands", help="band counts, spectral first (default 180,4,1; --big 200,4,1)")
    p.add_argument("--model", help="model package to use instead of a random-init default model")
    p.add_argument("--network", choices=("default", "quick"),
                   help="BDGFConfig of the random-init model (default: default; --big: quick)")
    p.add_argument("--tile", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--backends", default="onnx,torch")
    p.add_argument("--repeats", type=int, default=1, help="runs per backend (median reported)")
    p.add_argument("--big", action="store_true", help="10,000 x 10,000 px, 200 bands, sparse GeoTIFF")
    p.add_argument("--keep", help="keep the generated files in this folder")
    p.add_argument("--docs", default=str(DOCS), help="where inference.json / .md go (default docs/bench)")
    # internal: one classification in a child process
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--inputs", nargs="+", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        _child(args)
        return 0
    stamp = make_stamp(command_line("bench.inference", argv))
    bands = parse_bands(args.bands or ("200,4,1" if args.big else "180,4,1"))
    work = args.keep or tempfile.mkdtemp(prefix="bdgf-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if args.big:
            size = int((args.size or "10000").lower().split("x")[0])
            scene = sparse_scene(work, size, bands, valid=min(512, size // 256 * 256))
        else:
            height, width = (int(v) for v in (args.size or "332x485").lower().split("x"))
            scene = synthetic_scene(work, height, width, bands)
        disk = sum(os.path.getsize(p) for p in scene["inputs"]) / 2**20
        print(f"scene {scene['shape'][0]}x{scene['shape'][1]} px, bands {bands}: {disk:.0f} MB, "
              f"written in {time.perf_counter() - t0:.1f} s")
        model, model_label = args.model, f"`{os.path.basename(args.model or '')}`"
        if model is None:
            from engine.nn.config import BDGFConfig
            from training.export_model import build_random_package

            t0 = time.perf_counter()
            n = len(scene["classes"])
            preset = args.network or ("quick" if args.big else "default")
            network = getattr(BDGFConfig, preset)(list(bands), n)
            model = build_random_package(os.path.join(work, "model.bdgf"), scene["modalities"],
                                         scene["classes"], scene["normalization"], network=network,
                                         tile_size=256 if args.big else 128)
            model_label = f"random-init {preset}-config network, {n} classes"
            print(f"random-init model exported in {time.perf_counter() - t0:.1f} s")
        tile = args.tile or (256 if args.big else None)
        result = compare_backends(scene["inputs"], model, os.path.join(work, "out"), args.backends.split(","),
                                  args.repeats, tile, args.batch)
        for backend, s in result["backends"].items():
            print(f"{backend:<6} {s['seconds']:8.2f} s  {s['pixels_per_second']:10.0f} px/s  "
                  f"peak RSS {s['peak_rss_mb']:7.0f} MB  tile {s['tile_size_px']}+{s['halo_px']} "
                  f"batch {s['batch_size']}  [{s['backend_detail']}]")
        if "speedup_onnx_vs_torch" in result:
            print(f"ONNX Runtime is {result['speedup_onnx_vs_torch']:.2f}x as fast as PyTorch eager; "
                  f"class maps agree on {100 * result['class_map_agreement']:.3f} % of pixels")
        for s in result["backends"].values():
            s["classes_tif"] = os.path.basename(s["classes_tif"])  # in a temp dir: the name only
        scene_info = {k: scene[k] for k in ("shape", "modalities", "valid_pixels")}
        data = {"stamp": stamp, "big": args.big, "scene": scene_info, "model": model_label,
                "parameters": parameter_counts(model), "result": result}
        name = "inference_big" if args.big else "inference"
        title = "Inference: ONNX Runtime vs PyTorch eager" + (" (10,000 px grid, sparse)" if args.big else "")
        paths = write_results(args.docs, name, title, data, markdown(data))
        print("wrote " + ", ".join(str(p) for p in paths))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
