"""Presets trained end to end and timed: `python -m bench.presets [--presets quick,cpu] [--threads 1]`.

Each preset (training/presets.py) runs `training.run` once (seed 0, one process, `--threads` torch
threads) on three scenes: the easy testbed scene (128 x 160, 64 + 4 + 1 bands, labelled blobs), the
hard testbed scene of seed 0 (96 x 128, 160 + 2 + 1 bands, 10 labels per class in blocks) and a
100,000-pixel scene with 70 + 4 + 1 bands (the size the `cpu` preset promises to train in 15 minutes
on 2 cores). Wall time per stage comes from each run's metrics.json; OA / AA / Kappa are over the
classified test pixels (coverage beside them). Writes docs/bench/presets.{json,md}, stamped.
The `paper` preset is meant for a GPU and is not run here.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.report import md_table, repo_relative, write_results
from bench.stamp import command_line, make_stamp
from bench.testbed.runs import package_network_version

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ddpm", "features", "classifier", "evaluation", "export")


def _scene_100k(work: Path) -> str:
    """250 x 400 px (100,000 px), 70 HSI bands, the synthetic generator's default blob labels."""
    from training.synthetic import make_scene, write_scene

    out = work / "scene_100k"
    if not (out / "config.toml").is_file():
        write_scene(make_scene(250, 400, seed=3, n_bands=70), out, "same")
    return str(out / "config.toml")


def _scene_easy(work: Path) -> str:
    from bench.testbed.rows import FULL
    from bench.testbed.runs import make_testbed

    return make_testbed(work / "scene_easy", FULL, FULL.scene_seed, {})["config"]


def _scene_hard(work: Path) -> str:
    from bench.testbed.rows import HARD
    from bench.testbed.runs import make_testbed, seed_config

    hard = dataclasses.replace(HARD, training={k: v for k, v in HARD.training.items()
                                               if k == "val_block_size"})  # the preset's own budget
    return seed_config(make_testbed(work / "scene_hard", hard, hard.scene_seed, hard.training), 0)


SCENES = {"easy testbed": _scene_easy, "hard testbed (seed 0)": _scene_hard, "100k px, 70 bands": _scene_100k}


def train(config: str, preset: str, out: Path, threads: int) -> dict:
    """One training.run in a fresh process; its metrics.json plus the measured wall time."""
    if (out / "metrics.json").is_file():
        return json.loads((out / "metrics.json").read_text())
    cmd = [sys.executable, "-m", "training.run", "--config", config, "--out", str(out), "--preset", preset,
           "--device", "cpu", "--threads", str(threads), "--seeds", "0"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, "TQDM_DISABLE": "1"}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"training.run failed ({preset}, {config}):\n{done.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_s"] = time.perf_counter() - t0
    (out / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def network_of(out: Path, metrics: dict) -> int | None:
    """The network version the run's model package records (training.presets picks it by the labels)."""
    package = Path(metrics["package"])
    return package_network_version(package if package.is_absolute() else out / package)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.presets", description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="quick,cpu", help="comma-separated (default quick,cpu)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (1 on a shared CPU)")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "bench-presets")
    ap.add_argument("--docs", type=Path, default=REPO / "docs" / "bench")
    args = ap.parse_args(argv)
    stamp = make_stamp(command_line("bench.presets", argv))
    load_start = os.getloadavg()
    runs = []
    for scene, make in SCENES.items():
        config = make(args.work)
        for preset in args.presets.split(","):
            slug = scene.split(" (")[0].replace(" ", "_").replace(",", "")
            out = args.work / "runs" / f"{preset}_{slug}"
            m = train(config, preset, out, args.threads)
            runs.append({"preset": preset, "scene": scene, "config": repo_relative(config),
                         "network_version": network_of(out, m),
                         "wall_s": round(m["wall_s"], 1),
                         "stages_s": {k: round(m["timings"].get(k, 0.0), 1) for k in STAGES},
                         **{k: m.get(k) for k in ("oa", "aa", "kappa", "coverage", "oa_all_reference",
                                                  "test_pixels_evaluated", "test_pixels_total")}})
            print(f"{preset:6s} {scene:24s} {m['wall_s']:7.1f} s  OA {100 * m['oa']:.2f}", flush=True)
    data = {"stamp": stamp, "threads": args.threads, "load_average": {"start": load_start,
                                                                       "end": os.getloadavg()}, "runs": runs}
    table = [[r["preset"], r["scene"], str(r["network_version"]), f"{r['wall_s']:.0f}",
              *(f"{r['stages_s'][k]:.0f}" for k in STAGES),
              f"{100 * r['oa']:.2f}", f"{100 * r['aa']:.2f}", f"{r['kappa']:.4f}",
              f"{100 * r['coverage']:.1f}", f"{r['test_pixels_evaluated']} / {r['test_pixels_total']}"]
             for r in runs]
    body = [f"`training.run --preset P --threads {args.threads} --seeds 0`, one fresh process per run, on a "
            "2-core machine shared with other jobs (load average at start "
            f"{load_start[0]:.1f}, at end {data['load_average']['end'][0]:.1f}): wall times are upper bounds "
            "for an idle machine. OA / AA / Kappa over the classified test pixels; coverage = share of the "
            "test pixels classified; network = the classifier network version the run built "
            "(new training builds engine.nn.config.NETWORK_VERSION). The `paper` "
            "preset (about 4.3 M parameters at Augsburg shapes) is meant for a GPU and was not run.", "",
            *md_table(["preset", "scene", "network", "wall s", *(f"{k} s" for k in STAGES), "OA %", "AA %",
                       "Kappa", "coverage %", "test px evaluated"], table, "ll" + "r" * 12)]
    json_path, md_path = write_results(args.docs, "presets", "Training presets: time per stage and accuracy",
                                       data, body)
    print(f"wrote {json_path}, {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
