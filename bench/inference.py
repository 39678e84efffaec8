"""Inference benchmark: python -m bench.inference [--size 332x485] [--bands 180,4,1] [--network cpu]
[--model PATH] [--threads N] [--scales 1,4,16] [--tile N] [--batch N] [--repeats N] [--docs DIR].

Part 1, an Augsburg-size scene: a training.synthetic scene (HSI + 4-band SAR + nDSM on one grid,
GeoTIFFs in a temp dir) and a random-init package of the `cpu` preset network (training/presets.py,
the network the README recommends for CPU; --network, or --model), exported twice from the same
weights: with the dense classifier graphs and without them. Three full-scene classifications, each
in a fresh process (model loading included) limited to --threads threads (OMP_NUM_THREADS, which
PyTorch and engine.model.backends.cpu_threads obey): dense ONNX Runtime, dense PyTorch eager and patchwise
ONNX Runtime (the package without the dense graphs runs classifier.onnx on a patch copy per pixel,
the path before issue 12); with a random-init network, also the same preset's network version 1 (dense,
both backends) and version 2 (dense ONNX Runtime), same seed, and the dense ONNX Runtime run that also
writes the modality contribution. Reported: seconds, pixels/s, speed-ups as ratios of times measured in
this run, peak RSS, time profile, class-map agreement.
FLOPs per pixel of each path, counted by torch.utils.flop_counter on the networks at the run's tile and
batch shapes (matmuls and convolutions: elementwise work, e.g. the scan's exponentials, is not
counted), and the achieved GFLOP/s as a share of an fp32 GEMM (torch.mm, 2048^2) measured in this run
with the same threads.
Part 2, large scenes: VRT mosaics of k x k copies of the scene's GeoTIFFs (every pixel real data, no
sparse file) at --scales (area multiples of the scene, squares: 1, 4, 16), classified with dense ONNX
Runtime, each in a fresh process: pixels/s and peak RSS at each size (goals: the largest within 15 %
of the smallest, under 2 GB).
Writes DOCS/inference.json + inference.md; DOCS defaults to docs/bench/.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

import numpy as np

from bench.report import DOCS, md_table, ratio, write_results
from bench.stamp import REPO, command_line, make_stamp

AUX = (("sar", "sar", 4), ("dsm", "lidar", 1))  # the synthetic scene's auxiliary layers: name, role, bands
BASELINE = "torch"
LABELS = {"onnx": "ONNX Runtime", "torch": "PyTorch eager"}
# part 1: (key, label, backend, package); "old": the same preset's network version 1 (engine/nn/config.py),
# "prev": its version 2
PATHS = (("dense_onnx", "dense, ONNX Runtime", "onnx", "dense"),
         ("dense_torch", "dense, PyTorch eager", "torch", "dense"),
         ("patchwise_onnx", "patchwise, ONNX Runtime (baseline)", "onnx", "patchwise"),
         ("old_dense_onnx", "old network (version 1), dense, ONNX Runtime", "onnx", "old"),
         ("old_dense_torch", "old network (version 1), dense, PyTorch eager", "torch", "old"),
         ("prev_dense_onnx", "previous network (version 2), dense, ONNX Runtime", "onnx", "prev"),
         ("contribution_onnx", "dense, ONNX Runtime, + modality contribution", "onnx", "dense"))
CONTRIBUTION = "contribution_onnx"  # the run that also writes the modality contribution (trust outputs)
PATCHWISE = "patchwise_onnx"
OLD = {"dense_onnx": "old_dense_onnx", "dense_torch": "old_dense_torch"}  # new path -> the old one it beats
PREVIOUS = "prev_dense_onnx"  # the network version before the current one (issue 24's first step)
RSS_GOAL = (1.15, 2048.0)  # largest / smallest scene's peak RSS, MB


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


def mosaic_vrt(source: str, k: int, target: str) -> str:
    """A VRT of k x k copies of `source` side by side (each copy reads the source file's pixels: a dense
    scene of real data, k^2 times the area, on no more disk)."""
    from osgeo import gdal

    ds = gdal.Open(source)
    w, h, n = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
    x0, px, rx, y0, ry, py = ds.GetGeoTransform()
    lines = [f'<VRTDataset rasterXSize="{w * k}" rasterYSize="{h * k}">',
             f"  <SRS>{escape(ds.GetProjection())}</SRS>",
             f"  <GeoTransform>{x0!r}, {px!r}, {rx!r}, {y0!r}, {ry!r}, {py!r}</GeoTransform>"]
    for b in range(1, n + 1):
        band = ds.GetRasterBand(b)
        dtype = gdal.GetDataTypeName(band.DataType)
        lines.append(f'  <VRTRasterBand dataType="{dtype}" band="{b}">')
        if band.GetNoDataValue() is not None:
            lines.append(f"    <NoDataValue>{band.GetNoDataValue()!r}</NoDataValue>")
        for i in range(k):
            for j in range(k):
                lines += ["    <SimpleSource>",
                          f'      <SourceFilename relativeToVRT="0">{escape(os.path.abspath(source))}'
                          "</SourceFilename>",
                          f"      <SourceBand>{b}</SourceBand>",
                          f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>',
                          f'      <DstRect xOff="{j * w}" yOff="{i * h}" xSize="{w}" ySize="{h}"/>',
                          "    </SimpleSource>"]
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    ds = None
    with open(target, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return target


def without_dense_graphs(model: str, target: str) -> str:
    """The package `model` re-written without its dense classifier graphs (same weights and graphs
    otherwise): ONNX Runtime then runs the patchwise classifier.onnx."""
    from engine.model.package import ONNX_MEMBERS, ModelPackage, write_package

    package = ModelPackage(model)
    card = {k: v for k, v in package.card.items() if k != "content_hash"}
    write_package(target, card, {m: package.onnx(m) for m in ONNX_MEMBERS}, package.tensors(strip=False))
    return target


# ---------------------------------------------------------------- one run per fresh process

def parameter_counts(model: str) -> dict[str, int]:
    """Weights in the package: DDPM, classifier and total (ModelPackage.tensors: the stored state)."""
    from engine.model.package import ModelPackage

    package = ModelPackage(model)
    counts = {part: int(sum(t.size for t in package.tensors(part + ".").values()))
              for part in ("ddpm", "classifier")}
    return {**counts, "total": sum(counts.values())}


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM of its own address space (Linux). Not ru_maxrss:
    Linux carries that over fork + exec, so a child run reported its parent's peak (the scene
    generator's ~1.8 GB) whatever it used itself."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(args) -> None:
    """Run one classification in this (fresh) process and print its summary as JSON."""
    from engine.classify.run import classify
    from engine.raster.read import limit_gdal_cache
    from engine.settings import ClassifyOutputs, ClassifySettings

    limit_gdal_cache()
    settings = ClassifySettings(device="cpu", backend=args.backend, tile_size_px=args.tile,
                                batch_size=args.batch)
    contribution = args.out[:-4] + "_contribution.tif" if args.contribution else None
    summary = classify(args.inputs, args.model, ClassifyOutputs(args.out, contribution=contribution),
                       settings).to_dict()
    summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH-JSON " + json.dumps(summary))


def run_child(inputs: list[str], model: str, out: str, backend: str, tile=None, batch=None,
              threads: int | None = None, contribution: bool = False) -> dict:
    """One CPU classification in a fresh `python -m bench.inference --child` process; its summary.
    threads: OMP_NUM_THREADS of the child (PyTorch and ONNX Runtime, engine.model.backends.cpu_threads)."""
    cmd = [sys.executable, "-m", "bench.inference", "--child", "--backend", backend, "--model", str(model),
           "--out", str(out), "--inputs", *map(str, inputs)]
    cmd += ["--tile", str(tile)] if tile else []
    cmd += ["--batch", str(batch)] if batch else []
    cmd += ["--contribution"] if contribution else []
    path = [str(REPO), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
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


_KEEP = ("seconds", "pixels_per_second", "tile_size_px", "halo_px", "batch_size", "tiles",
         "pixels_classified", "pixels_nodata", "backend_detail", "device", "profile")


def _median_run(rs: list[dict]) -> dict:
    secs = [r["seconds"] for r in rs]
    med = rs[int(np.argsort(secs)[len(secs) // 2])]
    return {**{k: med.get(k) for k in _KEEP}, "seconds_all": secs, "seconds_min": min(secs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "classes_tif": med["outputs"]["classes"]}


def compare_backends(inputs: list[str], model: str, work, backends=("onnx", "torch"), repeats: int = 1,
                     tile=None, batch=None, threads=None) -> dict:
    """Each backend `repeats` times (interleaved), each run in a fresh process; per backend the median run,
    all times, the peak RSS and its speed relative to PyTorch eager (when that ran). (The testbed's
    inference table.)"""
    os.makedirs(work, exist_ok=True)
    runs: dict[str, list[dict]] = {b: [] for b in backends}
    for _ in range(repeats):
        for backend in runs:
            out = os.path.join(work, f"classes_{backend}.tif")
            runs[backend].append(run_child(inputs, model, out, backend, tile, batch, threads))
    result: dict = {"repeats": repeats, "baseline": BASELINE if BASELINE in runs else None,
                    "backends": {b: _median_run(rs) for b, rs in runs.items()}}
    base = result["backends"].get(BASELINE)
    for s in result["backends"].values():
        s["speed_vs_baseline"] = base["seconds"] / s["seconds"] if base and s["seconds"] else None
    if {"onnx", "torch"} <= set(runs):
        b = result["backends"]
        result["speedup_onnx_vs_torch"] = b["torch"]["seconds"] / b["onnx"]["seconds"]
        result["class_map_agreement"] = agreement(b["onnx"]["classes_tif"], b["torch"]["classes_tif"])
    return result


def compare_paths(inputs: list[str], models: dict[str, str], work, repeats: int = 1, tile=None, batch=None,
                  threads=None) -> dict:
    """Part 1: the PATHS whose package is in `models`, `repeats` times (interleaved), each in a fresh
    process."""
    os.makedirs(work, exist_ok=True)
    chosen = [path for path in PATHS if path[3] in models]
    runs: dict[str, list[dict]] = {key: [] for key, *_ in chosen}
    for _ in range(repeats):
        for key, _, backend, package in chosen:
            out = os.path.join(work, f"classes_{key}.tif")
            runs[key].append(run_child(inputs, models[package], out, backend, tile, batch, threads,
                                       contribution=key == CONTRIBUTION))
    paths = {key: _median_run(rs) for key, rs in runs.items()}
    base = paths[PATCHWISE]["seconds"]
    for key, s in paths.items():
        s["speedup_vs_patchwise"] = base / s["seconds"]
        if OLD.get(key) in paths:  # the new network's dense path against the old network's, same backend
            s["speedup_vs_old_network"] = paths[OLD[key]]["seconds"] / s["seconds"]
    tif = {k: s["classes_tif"] for k, s in paths.items()}
    agree = {f"{k}_vs_patchwise": agreement(tif[k], tif[PATCHWISE]) for k in ("dense_onnx", "dense_torch")}
    out = {"repeats": repeats, "baseline": PATCHWISE, "paths": paths,
           "speedup_onnx_vs_eager": paths["dense_torch"]["seconds"] / paths["dense_onnx"]["seconds"],
           "class_map_agreement": agree}
    if PREVIOUS in paths:
        out["speedup_vs_previous_network"] = paths[PREVIOUS]["seconds"] / paths["dense_onnx"]["seconds"]
    if CONTRIBUTION in paths:  # the contribution's added time, against the same run's plain classification
        run = paths[CONTRIBUTION]
        extra = (run.get("profile") or {}).get("modality contribution", 0.0)
        out["contribution"] = {"added_s": extra, "plain_s": run["seconds"] - extra,
                               "added_vs_plain": extra / max(run["seconds"] - extra, 1e-9),
                               "added_vs_dense_onnx_run": extra / paths["dense_onnx"]["seconds"]}
    return out


# ---------------------------------------------------------------- FLOPs and the GEMM reference

def _flops(fn) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def flops_per_pixel(model: str, tile: int, halo: int, batch: int) -> dict:
    """flops_per_pixel_of(model's network) (see there)."""
    from engine.model.package import ModelPackage
    from engine.nn.config import BDGFConfig

    package = ModelPackage(model)
    cfg = BDGFConfig.from_dict(package.card["network"])
    return flops_per_pixel_of(cfg, package.card["diffusion"]["timesteps"], tile, halo, batch)


def flops_per_pixel_of(cfg, timesteps, tile: int, halo: int, batch: int) -> dict:
    """Matmul + convolution FLOPs per classified pixel (torch.utils.flop_counter) of: the features (one
    tile window of tile + 2 halo per tile^2 core pixels), the patchwise classifier (a batch of patches),
    the dense classifier (one strip window as engine.classify.run runs it, plus a batch of pixels)."""
    import torch

    from engine.model.pixel_probs import dense_strip_rows, patch_index
    from engine.nn.bdgf import BDGFClassifier
    from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
    from engine.nn.dense_versions import dense_classifier

    c, f, p = cfg.in_channels, sum(cfg.feature_channels()), cfg.patch_size
    extractor = DiffusionFeatureExtractor(MultimodalDDPM(cfg), timesteps).eval()
    classifier = BDGFClassifier(cfg).eval()
    dense = dense_classifier(classifier)
    side = tile + 2 * halo
    x = torch.zeros(1, c, side, side)
    features = _flops(lambda: extractor(x, torch.zeros(len(extractor.timesteps), c, side, side))) / tile ** 2
    patchwise = _flops(lambda: classifier(torch.zeros(batch, c, p, p), torch.zeros(batch, f, p, p))) / batch
    r = p // 2
    width = tile + 2 * r
    rows = dense_strip_rows(width, p, tile)
    xs, ds = torch.zeros(1, c, rows + 2 * r, width), torch.zeros(1, f, rows + 2 * r, width)
    maps = _flops(lambda: dense.maps(xs, ds)) / (rows * tile)
    with torch.inference_mode():
        tables = dense.maps(xs, ds)
    index = torch.from_numpy(patch_index(np.full(batch, r), np.arange(batch) % tile + r, width, p))
    pixels = _flops(lambda: dense.pixels(*tables, index)) / batch
    return {"features": features, "patchwise_classifier": patchwise, "dense_maps": maps,
            "dense_pixels": pixels, "dense_classifier": maps + pixels,
            "patchwise_total": features + patchwise, "dense_total": features + maps + pixels}


def gemm_gflops(threads: int | None, n: int = 2048, repeats: int = 5) -> float:
    """fp32 GEMM throughput (torch.mm of two n x n matrices, best of `repeats`) with `threads` threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return 2 * n ** 3 / best / 1e9


# ---------------------------------------------------------------- part 2: large scenes

def large_scenes(scene_inputs: list[str], model: str, work: str, scales: list[int], tile=None, batch=None,
                 threads=None) -> list[dict]:
    """Dense ONNX Runtime on VRT mosaics k^2 = each scale times the scene's area, each in a fresh process."""
    out = []
    for scale in scales:
        k = math.isqrt(scale)
        folder = os.path.join(work, f"mosaic_{scale}x")
        os.makedirs(folder, exist_ok=True)
        inputs = [mosaic_vrt(src, k, os.path.join(folder, os.path.basename(src)[:-4] + ".vrt"))
                  for src in scene_inputs]
        print(f"large scene {scale}x: {k} x {k} mosaic", flush=True)
        s = run_child(inputs, model, os.path.join(folder, "classes.tif"), "onnx", tile, batch, threads)
        out.append({"scale": scale, "mosaic": [k, k], **{key: s.get(key) for key in _KEEP},
                    "peak_rss_mb": s["peak_rss_mb"], "pixels": s["pixels_classified"] + s["pixels_nodata"]})
        print(f"  {out[-1]['pixels']} px, {s['pixels_per_second']:.0f} px/s, "
              f"peak RSS {s['peak_rss_mb']:.0f} MB", flush=True)
    return out


# ---------------------------------------------------------------- report

def backend_table(result: dict) -> list[str]:
    """Markdown table of a compare_backends result (used by the testbed report)."""
    rows = []
    base = (result["backends"].get(result.get("baseline") or "") or {}).get("seconds")
    for backend, s in result["backends"].items():
        label = LABELS.get(backend, backend) + (" (baseline)" if backend == result.get("baseline") else "")
        rows.append([f"{label} [{s['backend_detail']}]", f"{s['seconds']:.2f}", f"{s['seconds_min']:.2f}",
                     ratio(base, s["seconds"]), f"{s['pixels_per_second']:.0f}", f"{s['peak_rss_mb']:.0f}",
                     f"{s['tile_size_px']} + {s['halo_px']}", s["batch_size"]])
    return md_table(["backend", "seconds (median)", "min", "speed vs eager", "pixels / s", "peak RSS (MB)",
                     "tile + halo", "batch"], rows, "lrrrrrrr")


def _mflop(v: float) -> str:
    return f"{v / 1e6:.2f}"


def markdown(data: dict) -> list[str]:
    r, sc, n, fl = data["result"], data["scene"], data.get("parameters"), data["flops_per_pixel"]
    gemm = data["gemm_gflops"]
    threads = data["threads"] or "all"
    model = data["model"] + (f" ({n['total'] / 1e6:.2f} M parameters: DDPM {n['ddpm'] / 1e6:.2f} M, "
                             f"classifier {n['classifier'] / 1e6:.2f} M)" if n else "")
    lines = [f"Full-scene classification, CPU, {threads} thread(s) per run (OMP_NUM_THREADS), of a synthetic "
             f"scene (training.synthetic) of {sc['shape'][0]} × {sc['shape'][1]} px, bands "
             f"{' + '.join(str(m['bands']) for m in sc['modalities'])}; model: {model}. Each run in a fresh "
             f"process (model loading included); {r['repeats']} run(s) per path, interleaved; the median run "
             "is shown. *Speed-up* = the patchwise run's seconds / the path's, both measured in this run; "
             "*vs old network* = the same preset's version 1 network (patch tokens, before issue 24), same "
             "backend, dense, / the path's seconds, both measured in this run.",
             "", "## Dense vs patchwise, new network vs old", ""]
    rows = []
    for key, label, *_ in PATHS:
        if key not in r["paths"]:
            continue
        s = r["paths"][key]
        net = fl["old"] if key.startswith("old_") else fl["prev"] if key == PREVIOUS else fl
        cls = net["dense_classifier"] if key != PATCHWISE else net["patchwise_classifier"]
        total = net["features"] + cls
        achieved = total * s["pixels_per_second"] / 1e9
        old = s.get("speedup_vs_old_network")
        rows.append([f"{label} [{s['backend_detail']}]", f"{s['seconds']:.2f}",
                     f"{s['pixels_per_second']:.0f}", f"{s['speedup_vs_patchwise']:.2f}×",
                     f"{old:.2f}×" if old else "–", f"{s['peak_rss_mb']:.0f}", _mflop(total),
                     f"{achieved:.1f}", f"{100 * achieved / gemm:.1f} %",
                     f"{s['tile_size_px']} + {s['halo_px']}", s["batch_size"]])
    lines += md_table(["path", "seconds", "pixels / s", "speed-up vs patchwise", "vs old network",
                       "peak RSS (MB)", "MFLOP / px", "GFLOP/s", "of GEMM", "tile + halo", "batch"], rows,
                      "lrrrrrrrrrr")
    agree = r["class_map_agreement"]
    if r.get("speedup_vs_previous_network"):
        lines += ["", "Dense ONNX Runtime, the new network against the previous one (version 2, ring tokens "
                  f"and 81 keys per pixel), same run: {r['speedup_vs_previous_network']:.2f}×."]
    lines += ["", f"ONNX Runtime / PyTorch eager (dense): {r['speedup_onnx_vs_eager']:.2f}×. Class maps "
              f"agree with the patchwise map on {100 * agree['dense_onnx_vs_patchwise']:.3f} % (dense ONNX "
              f"Runtime) and {100 * agree['dense_torch_vs_patchwise']:.3f} % (dense eager) of the pixels.",
              "",
              f"FLOPs per classified pixel (torch.utils.flop_counter: matmuls and convolutions only; the "
              f"elementwise work, e.g. the Mamba scan's exponentials, is not counted): features "
              f"{_mflop(fl['features'])} M (tile + halo windows), patchwise classifier "
              f"{_mflop(fl['patchwise_classifier'])} M, dense classifier {_mflop(fl['dense_classifier'])} M "
              f"(per-window tables {_mflop(fl['dense_maps'])} M + per-pixel {_mflop(fl['dense_pixels'])} M). "
              f"fp32 GEMM reference (torch.mm 2048², {threads} thread(s), this run): {gemm:.1f} GFLOP/s.", ""]
    c = r.get("contribution")
    if c:
        lines += [f"Modality contribution (the last row: one run that also writes `--contribution`, "
                  f"{len(sc['modalities'])} modalities): +{c['added_s']:.2f} s on top of "
                  f"{c['plain_s']:.2f} s of the same run's classification = "
                  f"**{c['added_vs_plain']:.2f}×** the plain classification's time "
                  f"({c['added_vs_dense_onnx_run']:.2f}× the separate dense ONNX "
                  "Runtime run's).", ""]
    steps = sorted({k for s in r["paths"].values() for k in (s.get("profile") or {})})
    lines += ["Time profile of the median runs (seconds per step):", "",
              *md_table(["path", *steps], [[label, *(f"{(r['paths'][key]['profile'] or {}).get(k, 0):.2f}"
                                                    for k in steps)] for key, label, *_ in PATHS
                                           if key in r["paths"]],
                        "l" + "r" * len(steps))]
    big = data.get("large") or []
    if big:
        base, top = big[0], big[-1]
        growth = top["peak_rss_mb"] / base["peak_rss_mb"]
        lines += ["", "## Large scenes (dense, ONNX Runtime)", "",
                  "VRT mosaics of k × k copies of the scene's GeoTIFFs: every pixel is real data read from "
                  "disk (no sparse file); each size classified in a fresh process.", "",
                  *md_table(["area", "mosaic", "pixels", "seconds", "pixels / s", "peak RSS (MB)",
                             "RSS vs smallest"],
                            [[f"{b['scale']}×", f"{b['mosaic'][0]} × {b['mosaic'][1]}", b["pixels"],
                              f"{b['seconds']:.1f}", f"{b['pixels_per_second']:.0f}",
                              f"{b['peak_rss_mb']:.0f}", f"{b['peak_rss_mb'] / base['peak_rss_mb']:.3f}"]
                             for b in big], "lrrrrrr"),
                  "", f"Peak RSS at {top['scale']}× is {growth:.3f} × the {base['scale']}× peak (goal ≤ "
                  f"{RSS_GOAL[0]:.2f}) and {top['peak_rss_mb']:.0f} MB (goal < {RSS_GOAL[1]:.0f}): "
                  f"{'met' if growth <= RSS_GOAL[0] and top['peak_rss_mb'] < RSS_GOAL[1] else 'NOT met'}."]
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.inference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="332x485", help="HEIGHTxWIDTH of the scene (default 332x485, Augsburg)")
    p.add_argument("--bands", default="180,4,1", help="band counts, spectral first (default 180,4,1)")
    p.add_argument("--model", help="model package to use instead of a random-init network (its dense graphs "
                                   "are removed for the patchwise run)")
    p.add_argument("--network", choices=("cpu", "default", "quick"), default="cpu",
                   help="training preset of the random-init network (default cpu: the README's CPU network)")
    p.add_argument("--threads", type=int, help="threads per run (OMP_NUM_THREADS; default: all cores)")
    p.add_argument("--scales", default="1,4,16",
                   help="areas of the large-scene mosaics in scene areas, squares (default 1,4,16; '': none)")
    p.add_argument("--tile", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--repeats", type=int, default=1, help="runs per path (median reported)")
    p.add_argument("--keep", help="keep the generated files in this folder")
    p.add_argument("--docs", default=str(DOCS), help="where inference.json / .md go (default docs/bench)")
    # internal: one classification in a child process
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--inputs", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--contribution", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _scales(text: str) -> list[int]:
    scales = [int(v) for v in text.split(",") if v.strip()]
    bad = [s for s in scales if s < 1 or math.isqrt(s) ** 2 != s]
    if bad:
        raise SystemExit(f"error: --scales {text}: each scale is a square number of scene areas (1, 4, ...)")
    return scales


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        _child(args)
        return 0
    stamp = make_stamp(command_line("bench.inference", argv))
    bands = parse_bands(args.bands)
    scales = _scales(args.scales)
    work = args.keep or tempfile.mkdtemp(prefix="bdgf-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        height, width = (int(v) for v in args.size.lower().split("x"))
        scene = synthetic_scene(work, height, width, bands)
        disk = sum(os.path.getsize(p) for p in scene["inputs"]) / 2**20
        print(f"scene {height}x{width} px, bands {bands}: {disk:.0f} MB, written in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        model, model_label = args.model, f"`{os.path.basename(args.model or '')}`"
        if model is None:
            from training.export_model import build_random_package
            from training.presets import preset

            t0 = time.perf_counter()
            network, _ = preset(args.network, list(bands), len(scene["classes"]))
            model = build_random_package(os.path.join(work, "model.bdgf"), scene["modalities"],
                                         scene["classes"], scene["normalization"], network=network)
            model_label = (f"random-init `{args.network}`-preset network (patch {network.patch_size}, DDPM "
                           f"base width {network.ddpm.base_width}), {len(scene['classes'])} classes")
            # the same preset's network versions 1 (before issue 24) and 2 (its first step), same seed
            network.classifier.version = 1
            old = build_random_package(os.path.join(work, "model_v1.bdgf"), scene["modalities"],
                                       scene["classes"], scene["normalization"], network=network)
            network.classifier.version = 2
            prev = build_random_package(os.path.join(work, "model_v2.bdgf"), scene["modalities"],
                                        scene["classes"], scene["normalization"], network=network)
            print(f"random-init models exported in {time.perf_counter() - t0:.1f} s", flush=True)
        patchwise = without_dense_graphs(model, os.path.join(work, "patchwise.bdgf"))
        models = {"dense": model, "patchwise": patchwise,
                  **({"old": old, "prev": prev} if args.model is None else {})}
        result = compare_paths(scene["inputs"], models, os.path.join(work, "out"), args.repeats, args.tile,
                               args.batch, args.threads)
        for key, label, *_ in PATHS:
            if key not in result["paths"]:
                continue
            s = result["paths"][key]
            print(f"{label:<46} {s['seconds']:8.2f} s {s['pixels_per_second']:9.0f} px/s "
                  f"{s['speedup_vs_patchwise']:6.2f}x  peak RSS {s['peak_rss_mb']:6.0f} MB  "
                  f"[{s['backend_detail']}]", flush=True)
        some = result["paths"]["dense_onnx"]
        flops = flops_per_pixel(model, some["tile_size_px"], some["halo_px"], some["batch_size"])
        for key in ("old", "prev"):
            if key in models:
                flops[key] = flops_per_pixel(models[key], some["tile_size_px"], some["halo_px"],
                                             some["batch_size"])
        gemm = gemm_gflops(args.threads)
        print(f"MFLOP/px: features {flops['features'] / 1e6:.2f}, patchwise classifier "
              f"{flops['patchwise_classifier'] / 1e6:.2f}, dense classifier "
              f"{flops['dense_classifier'] / 1e6:.2f}; GEMM {gemm:.1f} GFLOP/s", flush=True)
        large = large_scenes(scene["inputs"], model, os.path.join(work, "large"), scales, args.tile,
                             args.batch, args.threads) if scales else []
        for s in result["paths"].values():
            s["classes_tif"] = os.path.basename(s["classes_tif"])  # in a temp dir: the name only
        data = {"stamp": stamp, "threads": args.threads,
                "network": args.network if args.model is None else None,
                "scene": {k: scene[k] for k in ("shape", "modalities", "valid_pixels")}, "model": model_label,
                "parameters": parameter_counts(model), "result": result, "flops_per_pixel": flops,
                "gemm_gflops": gemm, "large": large}
        title = "Inference: dense vs patchwise classifier, large scenes"
        paths = write_results(args.docs, "inference", title, data, markdown(data))
        print("wrote " + ", ".join(str(p) for p in paths))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
