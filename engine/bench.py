"""Inference benchmark: python -m engine.bench [--size 332x485] [--bands 180,4,1] [--model PATH] [--big].

Writes an Augsburg-size synthetic scene (GeoTIFFs in a temp dir), builds a random-init default-config
model package (or takes --model), classifies it with ONNX Runtime CPU and PyTorch eager CPU, each in a
fresh subprocess, and prints seconds, pixels/s, the speed ratio, peak RSS and the time profile.
--big: a 10,000 x 10,000 scene with 200 spectral bands written block by block as a sparse GeoTIFF
(only a central block of pixels holds data, the rest is nodata), classified whole with a small model.
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
from osgeo import gdal, osr

GEOTRANSFORM = (640000.0, 2.0, 0.0, 5360000.0, 0.0, -2.0)  # 2 m pixels, UTM 32N
EPSG = 32632
DEFAULT_CLASSES = ("Forest", "Residential", "Industrial", "Low plants", "Allotment", "Commercial", "Water")
COLORS = ("#1b7837", "#e41a1c", "#984ea3", "#a6d96a", "#ff7f00", "#377eb8", "#2166ac")


# ---------------------------------------------------------------- synthetic scene

def _srs_wkt() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    return srs.ExportToWkt()


def _regions(height: int, width: int, n: int, seed: int) -> np.ndarray:
    """Piecewise-constant region ids (Voronoi cells) so the scene has spatial structure."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform((0, 0), (height, width), size=(max(4, n * 4), 2))
    rows, cols = np.mgrid[0:height, 0:width]
    best = np.full((height, width), np.inf)
    out = np.zeros((height, width), np.int32)
    for i, (r, c) in enumerate(centres):
        d = (rows - r) ** 2 + (cols - c) ** 2
        closer = d < best
        best[closer], out[closer] = d[closer], i % n
    return out


def write_scene(dirpath: str, height: int, width: int, bands=(180, 4, 1), seed: int = 0,
                n_regions: int = 7) -> dict:
    """Float32 GeoTIFFs hsi.tif, aux1.tif, ... on one grid; returns paths, band counts and 2-98 % stats."""
    rng = np.random.default_rng(seed)
    regions = _regions(height, width, n_regions, seed)
    wkt = _srs_wkt()
    names = ["hsi"] + [f"aux{i}" for i in range(1, len(bands))]
    paths, low, high = [], [], []
    for name, count in zip(names, bands):
        path = os.path.join(dirpath, f"{name}.tif")
        ds = gdal.GetDriverByName("GTiff").Create(path, width, height, count, gdal.GDT_Float32,
                                                  ["TILED=YES", "INTERLEAVE=BAND"])
        ds.SetGeoTransform(GEOTRANSFORM)
        ds.SetProjection(wkt)
        means = rng.uniform(0.05, 0.6, size=(n_regions, count)).astype(np.float32)
        lo, hi = [], []
        for b in range(count):
            data = means[regions, b] + rng.normal(0, 0.03, size=(height, width)).astype(np.float32)
            ds.GetRasterBand(b + 1).WriteArray(data)
            p2, p98 = np.percentile(data[::3, ::3], [2, 98])
            lo.append(float(p2))
            hi.append(float(max(p98, p2 + 1e-3)))
        ds = None
        paths.append(path)
        low.append(lo)
        high.append(hi)
    return {"paths": paths, "names": names, "bands": list(bands), "normalization": {"low": low, "high": high}}


# ---------------------------------------------------------------- random-init model package

def build_random_package(path: str, modalities: list[dict], classes: list[dict], normalization: dict,
                         network=None, seed: int = 0, name: str = "random-init benchmark model",
                         tile_size: int = 128) -> str:
    """A valid .bdgf from randomly initialised engine.nn modules (ONNX export + safetensors).

    modalities: card entries (name, role, bands, ...), spectral first; network: a BDGFConfig
    (default: BDGFConfig.default for these band counts and classes).
    """
    import torch

    from .nn.bdgf import BDGFClassifier
    from .nn.config import BDGFConfig
    from .nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
    from .nn.export import export_classifier, export_features
    from .package import write_package

    torch.manual_seed(seed)
    channels = [m["bands"] for m in modalities]
    cfg = network or BDGFConfig.default(channels, n_classes=len(classes))
    ddpm, classifier = MultimodalDDPM(cfg).eval(), BDGFClassifier(cfg).eval()
    extractor = DiffusionFeatureExtractor(ddpm)
    onnx = {"features": export_features(extractor), "classifier": export_classifier(classifier)}
    tensors = {**{"ddpm." + k: v.detach().numpy() for k, v in ddpm.state_dict().items()},
               **{"classifier." + k: v.detach().numpy() for k, v in classifier.state_dict().items()}}
    card = {
        "schema": "bdgf-model-card", "schema_version": 1, "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "description": "Randomly initialised weights, for tests and benchmarks only.",
        "classes": classes, "modalities": modalities, "normalization": normalization, "pca": None,
        "patch_size": cfg.patch_size, "tile_size": tile_size, "halo": ddpm.receptive_radius(),
        "stride": ddpm.stride(),
        "diffusion": {"timesteps": list(cfg.ddpm.feature_timesteps), "noise_seed": cfg.ddpm.noise_seed},
        "network": cfg.to_dict(), "training": {"note": "none (random init)"}, "metrics": {},
        "software": {"bdgf": "bench", "torch": torch.__version__},
    }
    write_package(path, card, onnx=onnx, tensors=tensors)
    return path


def default_classes(n: int) -> list[dict]:
    return [{"value": i + 1, "name": DEFAULT_CLASSES[i % len(DEFAULT_CLASSES)] + ("" if i < 7 else f" {i}"),
             "color": COLORS[i % len(COLORS)]} for i in range(n)]


def scene_modalities(scene: dict) -> list[dict]:
    roles = ["spectral"] + ["sar" if i == 1 else "lidar" if i == 2 else "other"
                            for i in range(1, len(scene["bands"]))]
    return [{"name": n, "role": r, "bands": b} for n, r, b in zip(scene["names"], roles, scene["bands"])]


# ---------------------------------------------------------------- measurement

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def limit_gdal_cache(megabytes: int = 256) -> None:
    """GDAL's block cache defaults to 5 % of the RAM and counts in the peak RSS; a streaming run needs
    little. Only for standalone processes (CLI, bench): inside QGIS the host owns this setting."""
    if "GDAL_CACHEMAX" not in os.environ:
        gdal.SetCacheMax(megabytes << 20)


def _child(args) -> None:
    """Run one classification in this (fresh) process and print its summary as JSON."""
    from .classify import classify

    limit_gdal_cache()
    summary = classify(args.inputs, args.model, args.out, device="cpu", backend=args.backend,
                       tile_size=args.tile, batch_size=args.batch)
    summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH-JSON " + json.dumps(summary))


def run_child(inputs: list[str], model: str, out: str, backend: str, tile=None, batch=None) -> dict:
    cmd = [sys.executable, "-m", "engine.bench", "--child", "--backend", backend, "--model", model,
           "--out", out, "--inputs", *inputs]
    cmd += ["--tile", str(tile)] if tile else []
    cmd += ["--batch", str(batch)] if batch else []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if proc.returncode:
        raise RuntimeError(f"{backend} run failed:\n{proc.stderr[-4000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")][-1]
    return json.loads(line[len("BENCH-JSON "):])


def _report(label: str, s: dict) -> None:
    prof = ", ".join(f"{k} {v:.2f}" for k, v in s["profile"].items())
    print(f"{label:<14} {s['seconds']:8.2f} s  {s['pixels_per_second']:10.0f} px/s  "
          f"peak RSS {s['peak_rss_mb']:7.0f} MB  tile {s['tile']}+{s['halo']} batch {s['batch']}  "
          f"[{s['backend_detail']}]")
    print(f"{'':<14} profile (s): {prof}")


def agreement(a: str, b: str) -> float:
    x = gdal.Open(a).ReadAsArray()
    y = gdal.Open(b).ReadAsArray()
    valid = (x > 0) | (y > 0)
    return float((x[valid] == y[valid]).mean()) if valid.any() else 1.0


# ---------------------------------------------------------------- --big: 10,000 x 10,000 px

def write_sparse_scene(dirpath: str, size: int, bands=(200, 4, 1), valid: int = 1024, seed: int = 0) -> dict:
    """Int16 / Float32 tiled GeoTIFFs written block by block (SPARSE_OK: unwritten blocks cost no disk
    and read as nodata). Only a central `valid` x `valid` square holds data. Returns paths and stats."""
    rng = np.random.default_rng(seed)
    wkt = _srs_wkt()
    r0 = c0 = (size - valid) // 2 // 256 * 256
    block = 256
    names = ["hsi"] + [f"aux{i}" for i in range(1, len(bands))]
    paths, low, high = [], [], []
    for name, count in zip(names, bands):
        path = os.path.join(dirpath, f"{name}.tif")
        dtype = gdal.GDT_Int16 if count > 8 else gdal.GDT_Float32
        ds = gdal.GetDriverByName("GTiff").Create(
            path, size, size, count, dtype,
            ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "INTERLEAVE=BAND", "SPARSE_OK=TRUE",
             "COMPRESS=DEFLATE", "PREDICTOR=2", "BIGTIFF=YES"])
        ds.SetGeoTransform(GEOTRANSFORM)
        ds.SetProjection(wkt)
        means = rng.uniform(500, 4000, size=(7, count))
        for b in range(count):
            ds.GetRasterBand(b + 1).SetNoDataValue(-9999)
        for br in range(r0, r0 + valid, block):
            for bc in range(c0, c0 + valid, block):
                regions = _regions(block, block, 7, seed + br * 7 + bc)
                for b in range(count):
                    data = means[regions, b] + rng.normal(0, 50, size=(block, block))
                    ds.GetRasterBand(b + 1).WriteArray(data.astype(np.int16 if count > 8 else np.float32),
                                                       bc, br)
        ds = None
        paths.append(path)
        low.append([400.0] * count)
        high.append([4100.0] * count)
    return {"paths": paths, "names": names, "bands": list(bands), "valid_pixels": valid * valid,
            "normalization": {"low": low, "high": high}}


def run_big(args) -> None:
    """Classify the whole 10,000 x 10,000 grid (or --size N) with a small (quick-preset) random-init model."""
    from .nn.config import BDGFConfig

    work = args.keep or tempfile.mkdtemp(prefix="bdgf-big-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        bands = tuple(int(v) for v in (args.bands if args.bands != "180,4,1" else "200,4,1").split(","))
        size = 10000 if args.size == "332x485" else int(args.size.lower().split("x")[0])
        scene = write_sparse_scene(work, size, bands, valid=min(512, size // 256 * 256))
        disk = sum(os.path.getsize(p) for p in scene["paths"]) / 2**20
        print(f"sparse scene {size}x{size} px, bands {bands}: {disk:.0f} MB on disk, "
              f"{scene['valid_pixels']} valid pixels, written in {time.perf_counter() - t0:.1f} s")
        model = args.model or build_random_package(
            os.path.join(work, "small.bdgf"), scene_modalities(scene), default_classes(7),
            scene["normalization"], network=BDGFConfig.quick(list(bands), 7), tile_size=256)
        for backend in args.backends.split(",")[:1]:
            s = run_child(scene["paths"], model, os.path.join(work, "classes.tif"), backend,
                          args.tile or 256, args.batch)
            _report(f"big/{backend}", s)
            size_mb = os.path.getsize(s["outputs"]["classes"]) / 2**20
            print(f"{'':<14} {s['tiles']} tiles, {s['pixels_classified']} classified, "
                  f"{s['pixels_nodata']} nodata; output {size_mb:.1f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="332x485", help="HEIGHTxWIDTH of the scene")
    p.add_argument("--bands", default="180,4,1", help="band counts, spectral first")
    p.add_argument("--model", help="model package to use instead of a random-init default model")
    p.add_argument("--tile", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--backends", default="onnx,torch")
    p.add_argument("--big", action="store_true", help="10,000 x 10,000 px, 200 bands, sparse GeoTIFF")
    p.add_argument("--keep", help="keep the generated files in this folder")
    # internal: one classification in a child process
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--inputs", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    if args.big:
        return run_big(args)
    height, width = (int(v) for v in args.size.lower().split("x"))
    bands = tuple(int(v) for v in args.bands.split(","))
    work = args.keep or tempfile.mkdtemp(prefix="bdgf-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        scene = write_scene(work, height, width, bands)
        print(f"scene {height}x{width} px, bands {bands}: written in {time.perf_counter() - t0:.1f} s")
        model = args.model
        if model is None:
            t0 = time.perf_counter()
            model = build_random_package(os.path.join(work, "model.bdgf"), scene_modalities(scene),
                                         default_classes(7), scene["normalization"])
            print(f"random-init default model exported in {time.perf_counter() - t0:.1f} s")
        results = {}
        for backend in args.backends.split(","):
            out = os.path.join(work, f"classes_{backend}.tif")
            results[backend] = run_child(scene["paths"], model, out, backend, args.tile, args.batch)
            _report(backend, results[backend])
        if {"onnx", "torch"} <= set(results):
            ratio = results["torch"]["seconds"] / results["onnx"]["seconds"]
            same = agreement(results["onnx"]["outputs"]["classes"], results["torch"]["outputs"]["classes"])
            print(f"ONNX Runtime is {ratio:.2f}x faster than PyTorch eager; class maps agree on "
                  f"{100 * same:.3f} % of pixels")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
