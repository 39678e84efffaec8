"""Modality contribution on the hard testbed's class pairs (issue 15): python -m bench.contribution_pairs
[--seeds 0,1] [--spectral-dropout 0,0.15] [--work DIR] [--docs DIR]

A `quick`-preset model (its own budget) trained on the hard-quick testbed scene (bench.testbed HARD_QUICK:
48 x 64 px, 150 HSI bands, SAR VV + VH, nDSM) per seed and per `training.spectral_dropout`; then, on the
pixels of the aux-only classes (trees / grass and roof / paved: one spectrum per pair, told apart by height
and SAR) and of the spectral-only pair (soil / sand), the mean effect of putting a modality at the neutral
fill (engine.normalise.fill_modality; features recomputed, as the engine's contribution does):
- drop: p(c) with every layer minus p(c) with the modality filled, clipped at 0, c the mapped class: the
  engine's contribution (README, "Trust outputs");
- pair drop: the same on q = p(c) / (p(c) + p(c')), c' the pair partner of c: what the modality adds to
  telling c from its partner.
Fills: spectral, sar, dsm one at a time, and both auxiliaries together ("aux joint"). The issue's Done-when
asks for auxiliary > spectral on the aux-only classes and the reverse on the spectral-only pair; this
benchmark shows which measure and training give that. Writes DOCS/contribution_pairs.json + .md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.report import DOCS, md_table, write_results
from bench.stamp import REPO, command_line, make_stamp

FILLS = {"spectral": (0,), "sar": (1,), "dsm": (2,), "aux joint": (1, 2)}
GROUPS = {"aux_only": "aux_only_pairs", "spectral_only": "spectral_only_pairs"}


def train(work: Path, seed: int, spectral_dropout: float) -> tuple[dict, Path]:
    """The testbed scene and a quick-preset model trained on it (reused when present)."""
    from bench.testbed.rows import HARD_QUICK
    from bench.testbed.runs import make_testbed, seed_config

    training = {"tile_size": 64, "tsne_points": 60, "val_block_size": 4, "spectral_dropout": spectral_dropout}
    tag = f"sd{spectral_dropout:g}"
    scene = make_testbed(work / f"scene_{tag}", HARD_QUICK, HARD_QUICK.scene_seed, training)
    run = work / f"run_{tag}_s{seed}"
    if not (run / "model.bdgf").is_file():
        env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "training.run", "--config", seed_config(scene, seed),
                               "--out", str(run), "--preset", HARD_QUICK.preset, "--device", "cpu",
                               "--seeds", str(seed), "--threads", "1"], cwd=REPO, env=env,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
    return scene, run


def scene_probabilities(model: Path, folder: Path, fills: dict) -> tuple[np.ndarray, dict, np.ndarray, list]:
    """Fused probabilities (K, H, W) of the whole scene with every layer, and with each fill; the valid
    mask; the class values (card order). The engine's steps (normalisation, then bench.gpu.classify_scene:
    the engine's tiles, noise, features and classifier) on the PyTorch backend."""
    from osgeo import gdal

    from bench.gpu import classify_scene
    from engine.model.backends import TorchBackend
    from engine.model.package import ModelPackage
    from engine.normalise import Normaliser, fill_modality

    package = ModelPackage(str(model))
    card = package.card
    arrays = []
    for name, bands in (("hsi", None), ("sar", [1, 2]), ("dsm", None)):
        ds = gdal.Open(str(folder / f"{name}.tif"))
        a = ds.ReadAsArray().astype(np.float32)
        a = a[None] if a.ndim == 2 else a
        arrays.append(a[[b - 1 for b in bands]] if bands else a)
    valid = np.all([np.isfinite(a).all(0) for a in arrays], axis=0)
    norm = Normaliser.from_card(card)
    x = norm.apply(arrays, valid)  # (1, C, H, W), invalid pixels at the fill
    backend = TorchBackend(package, "cpu")

    def probs(xx):
        return classify_scene(backend, card, xx[0], valid=valid)["probs"]

    filled = {}
    for name, modalities in fills.items():
        xx = x
        for m in modalities:
            xx = fill_modality(xx, norm.channels, m)
        filled[name] = probs(xx)
    return probs(x), filled, valid, [c["value"] for c in card["classes"]]


def measure(full: np.ndarray, filled: dict, valid: np.ndarray, truth: np.ndarray, meta: dict,
            values: list[int]) -> dict:
    """Per group: pixels, and per fill the mean drop and pair drop over its mapped pixels."""
    index = {v: i for i, v in enumerate(values)}
    partner = {}
    for key in GROUPS.values():
        for a, b in meta[key]:
            partner[a], partner[b] = b, a
    mapped = np.asarray(values)[full.argmax(0)]
    out = {}
    for group, key in GROUPS.items():
        classes = sorted({c for pair in meta[key] for c in pair})
        mask = valid & np.isin(truth, classes) & np.isin(mapped, classes)
        c = np.array([index[v] for v in mapped[mask]])
        r = np.array([index[partner[v]] for v in mapped[mask]])
        n = np.arange(len(c))
        p0, q0 = _mapped_and_pair(full[:, mask], c, r, n)
        g = {"pixels": int(mask.sum())}
        for name, p in filled.items():
            p1, q1 = _mapped_and_pair(p[:, mask], c, r, n)
            g[name] = {"drop": float(np.maximum(p0 - p1, 0).mean()),
                       "pair_drop": float(np.maximum(q0 - q1, 0).mean())}
        out[group] = g
    return out


def _mapped_and_pair(p: np.ndarray, c: np.ndarray, r: np.ndarray, n: np.ndarray):
    """p (K, N) of N pixels: p(c) of each pixel's mapped class c, and q = p(c) / (p(c) + p(partner r))."""
    pc = p[c, n]
    return pc, pc / (pc + p[r, n])


def run(work: Path, seed: int, spectral_dropout: float) -> dict:
    from osgeo import gdal

    scene, model_dir = train(work, seed, spectral_dropout)
    folder = Path(scene["dir"])
    meta = scene["meta"]
    full, filled, valid, values = scene_probabilities(model_dir / "model.bdgf", folder, FILLS)
    truth = gdal.Open(str(folder / "labels.tif")).ReadAsArray()
    metrics = json.loads((model_dir / "metrics.json").read_text())
    return {"seed": seed, "spectral_dropout": spectral_dropout, "test_oa": metrics["oa"],
            **measure(full, filled, valid, truth, meta, values)}


def markdown(data: dict) -> list[str]:
    rows = []
    for r in data["runs"]:
        for group in GROUPS:
            g = r[group]
            rows.append([f"{r['spectral_dropout']:g}", r["seed"], f"{100 * r['test_oa']:.1f}", group,
                         g["pixels"], *(f"{g[f]['drop']:.3f} / {g[f]['pair_drop']:.3f}" for f in FILLS)])
    return ["Mean over the group's mapped pixels of **drop / pair drop** when the modality is at the neutral "
            "fill (see the module docstring: drop is the engine's contribution, pair drop the same on "
            "p(c) / (p(c) + p(partner))). `aux joint` fills SAR and nDSM together.", "",
            *md_table(["spectral dropout", "seed", "test OA %", "group", "pixels", *FILLS], rows,
                      "lrrlrrrrr")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--spectral-dropout", default="0,0.15")
    ap.add_argument("--work", default=str(REPO.parent / "bench-work" / "contribution_pairs"))
    ap.add_argument("--docs", default=str(DOCS))
    args = ap.parse_args(argv)
    stamp = make_stamp(command_line("bench.contribution_pairs", argv))
    work = Path(args.work)
    runs = [run(work, int(s), float(d)) for d in args.spectral_dropout.split(",")
            for s in args.seeds.split(",")]
    data = {"stamp": stamp, "runs": runs}
    title = "Modality contribution on the testbed's class pairs"
    json_path, md_path = write_results(args.docs, "contribution_pairs", title, data, markdown(data))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
