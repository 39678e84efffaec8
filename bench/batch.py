"""Batch benchmark: python -m bench.batch [--workers 1,2] [--block 64] [--docs DIR].

A 3-scene job on the bundled demo (resources/demo, resources/models/demo.bdgf): the demo scene and two
copies shifted by whole kilometres (VRTs over the demo files with a shifted geotransform, in a temp
folder). Runs `python -m engine batch JOB.json --workers N` on a local Ray for each N (a fresh output
folder each time, so every block is computed) and `python -m engine classify` on each scene (the
single-process reference, same device). Reports wall seconds, Ray start-up, pixels/s of the compute phase
(grid pixels of the blocks computed / seconds from the first block handed out to the last written),
seconds per megapixel, the load average before each run, and whether every scene's mosaic (VRT and COG)
equals its single-process map bitwise. Writes DOCS/batch.json + batch.md; DOCS defaults to docs/bench/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.report import DOCS, md_table, write_results
from bench.stamp import REPO, command_line, make_stamp

DEMO = {name: str(REPO / "resources" / "demo" / f"{name}.tif") for name in ("hsi", "sar", "dsm")}
MODEL = str(REPO / "resources" / "models" / "demo.bdgf")
SHIFTS_KM = ((0, 0), (5, 0), (0, -7))  # scene 1 is the demo itself


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    parser.add_argument("--block", type=int, default=64, help="block side in pixels (the demo is 160 x 128)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--docs", default=str(DOCS), help="where batch.json / batch.md go")
    return parser.parse_args(argv)


def shifted_scene(folder: str, dx_km: float, dy_km: float) -> list[str]:
    """VRTs over the demo layers, every geotransform moved by (dx, dy) km: the same pixels elsewhere."""
    from osgeo import gdal

    paths = []
    for name, src in DEMO.items():
        path = os.path.join(folder, f"{name}.vrt")
        ds = gdal.Translate(path, src, format="VRT")
        x0, px, rx, y0, ry, py = ds.GetGeoTransform()
        ds.SetGeoTransform((x0 + dx_km * 1000, px, rx, y0 + dy_km * 1000, ry, py))
        ds = None
        paths.append(path)
    return paths


def _engine(*args) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"error: engine {' '.join(map(str, args[:2]))} failed:\n{done.stderr[-3000:]}")
    return done, time.perf_counter() - t0


def _read(path: str) -> np.ndarray:
    from osgeo import gdal

    return gdal.Open(path).ReadAsArray()


def measure(a: argparse.Namespace) -> dict:
    from engine.batch.job import BatchJob, SceneJob, write_job
    from engine.settings import ClassifySettings

    tmp = tempfile.mkdtemp(prefix="bdgf-bench-batch-")
    scenes = []
    for i, (dx, dy) in enumerate(SHIFTS_KM):
        folder = os.path.join(tmp, f"scene{i + 1}")
        os.makedirs(folder)
        layers = list(DEMO.values()) if (dx, dy) == (0, 0) else shifted_scene(folder, dx, dy)
        scenes.append(SceneJob(f"scene{i + 1}", layers[0], tuple(layers[1:])))
    single = []
    for scene in scenes:
        out = os.path.join(tmp, f"{scene.name}_single.tif")
        load = os.getloadavg()[0]
        aux = [x for path in scene.aux for x in ("--aux", path)]
        done, wall = _engine("classify", "--spectral", scene.spectral, *aux, "--model", MODEL, "--out", out,
                             "--device", a.device, "--json")
        result = json.loads(done.stdout)
        pixels = result["pixels_classified"] + result["pixels_nodata"]
        single.append({"scene": scene.name, "out": out, "pixels": pixels, "seconds": result["seconds"],
                       "wall_seconds": round(wall, 3), "load_before": round(load, 2),
                       "pixels_per_second": round(pixels / result["seconds"], 1),
                       "backend": result["backend_detail"]})
    runs = []
    for workers in (int(w) for w in a.workers.split(",")):
        out_dir = os.path.join(tmp, f"out_{workers}")
        job = BatchJob(MODEL, out_dir, tuple(scenes), ClassifySettings(device=a.device),
                       block_size_px=a.block)
        job_path = write_job(job, os.path.join(tmp, f"job_{workers}.json"))
        load = os.getloadavg()[0]
        done, wall = _engine("batch", job_path, "--workers", workers, "--json")
        summary = json.loads(done.stdout)
        equal = {}
        for scene, ref in zip(scenes, single):
            reference = _read(ref["out"])
            equal[scene.name] = all(np.array_equal(_read(os.path.join(out_dir, scene.name, f"classes.{ext}")),
                                                   reference) for ext in ("vrt", "tif"))
        pps = summary["pixels_per_second"]
        runs.append({"workers": workers, "threads_per_worker": summary["threads_per_worker"],
                     "blocks": sum(s["blocks"] for s in summary["scenes"]),
                     "pixels": summary["pixels_computed"],
                     "wall_seconds": round(wall, 3), "job_seconds": summary["seconds"],
                     "ray_start_seconds": summary["ray_start_seconds"],
                     "compute_seconds": summary["compute_seconds"], "pixels_per_second": pps,
                     "seconds_per_megapixel": round(1e6 / pps, 1) if pps else None,
                     "wall_seconds_per_megapixel": round(wall * 1e6 / summary["pixels_computed"], 1),
                     "load_before": round(load, 2), "equal_to_single_process": equal,
                     "failed": summary["failed"]})
    shifted_equal = all(np.array_equal(_read(s["out"]), _read(single[0]["out"])) for s in single[1:])
    return {"scenes": len(scenes), "block_px": a.block, "device": a.device, "single_process": single,
            "batch": runs, "shifted_scenes_equal_the_demo": shifted_equal, "cpu_count": os.cpu_count()}


def markdown(r: dict) -> list[str]:
    sp = r["single_process"]
    single_pps = sum(s["pixels"] for s in sp) / sum(s["seconds"] for s in sp)
    rows = [["`engine classify`, one scene at a time", "–", f"{sum(s['seconds'] for s in sp):.1f}", "–",
             f"{single_pps:,.0f}", f"{1e6 / single_pps:.0f}", f"{sp[0]['load_before']:.2f}", "reference"]]
    for run in r["batch"]:
        same = "yes" if all(run["equal_to_single_process"].values()) else "**no**"
        name = f"`engine batch --workers {run['workers']}` ({run['threads_per_worker']} thread(s) each)"
        rows.append([name,
                     f"{run['ray_start_seconds']:.1f}", f"{run['compute_seconds']:.1f}",
                     f"{run['wall_seconds']:.1f}", f"{run['pixels_per_second']:,.0f}",
                     f"{run['seconds_per_megapixel']:.0f}", f"{run['load_before']:.2f}", same])
    total = r["batch"][0]["pixels"] if r["batch"] else 0
    return [f"{r['scenes']} scenes (the demo, 160 x 128 px, and two copies shifted by whole kilometres: "
            f"{total:,} px in all), blocks of {r['block_px']} px, device {r['device']}, local Ray. "
            "px/s = grid pixels / compute seconds (first block handed out to last block written; for "
            "`engine classify`, its own run time). s/Mpx = seconds per megapixel of compute. Wall = the "
            "whole command (Python start, Ray start-up, scene checks, workers opening the model, VRT and "
            "COG). Load = 1-minute load average before the run (the machine was shared).", "",
            *md_table(["run", "Ray start s", "compute s", "wall s", "px/s", "s/Mpx", "load",
                       "map = single-process (bitwise)"], rows, "lrrrrrrl"), "",
            "The shifted copies give the demo's map: "
            f"{'yes' if r['shifted_scenes_equal_the_demo'] else 'no'}."]


def main(argv=None) -> int:
    a = parse_args(argv)
    stamp = make_stamp(command_line("bench.batch", argv))
    r = measure(a)
    for line in markdown(r):
        print(line)
    paths = write_results(a.docs, "batch", "Batch jobs on Ray: px/s by worker count", {"stamp": stamp, **r},
                          markdown(r))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
