"""Ablation + baseline benchmark on the synthetic testbed: `python -m training.bench [--gpu] [--quick]`.

`make bench` runs it with the defaults and writes docs/BENCHMARKS.md, docs/benchmarks.json and
docs/img/*.png. What it does:

1. writes one seeded testbed scene (training.synthetic: HSI + SAR + nDSM, aux-only-separable class
   pairs trees/grass and roof/paved ground) and a second scene (another layout seed) whose DDPM
   serves as the "cross-model" diffusion model;
2. for every seed and row, runs `python -m training.run` in a subprocess (rows below); rows that
   keep the full model's DDPM (guidance off, single branches, mutual learning off) start from a copy
   of that seed's finished DDPM checkpoint (`--resume` on a checkpoint folder that holds only
   `ddpm_final`) and share its feature cache, so only the masking rows pre-train their own DDPM;
3. fits the classical baselines (training.baselines: Random Forest, RBF-SVM) per seed;
4. classifies the scene with the full model's package through engine.bench (ONNX Runtime and
   PyTorch eager, each run in a fresh process, 3 runs per backend, median: seconds, pixels/s, peak RSS);
5. aggregates mean ± std over seeds and writes the report.

Every run lives in WORK/runs/ROW/seed_S with a fingerprint of its settings; a rerun with the same
settings reuses finished runs, so an interrupted benchmark continues where it stopped and
`--report-only` rewrites the report from what exists. `--max-minutes` stops starting new runs after
that much time (what did not run is listed in the report).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- rows and settings
@dataclass(frozen=True)
class Row:
    key: str
    label: str
    kind: str  # "bdgf" | "baseline"
    args: tuple[str, ...] = ()
    ddpm: str = "own"  # "own": pre-trains its DDPM; "shared": the full model's DDPM; "cross": other scene


ROWS = (
    Row("bdgf", "BDGF full (adaptive masking, guidance, CNN+Mamba+Transformer, mutual learning)", "bdgf"),
    Row("mask_off", "masking off", "bdgf", ("--masking", "off")),
    Row("mask_fixed", "masking fixed (no adaptation, no warm-up)", "bdgf", ("--masking", "fixed")),
    Row("no_guidance", "guidance off (all branches)", "bdgf",
        ("--no-guidance", "cnn", "--no-guidance", "mamba", "--no-guidance", "transformer"), "shared"),
    Row("cnn", "CNN branch alone (guided)", "bdgf", ("--branches", "cnn"), "shared"),
    Row("mamba", "Mamba branch alone (guided)", "bdgf", ("--branches", "mamba"), "shared"),
    Row("transformer", "Transformer branch alone (guided)", "bdgf", ("--branches", "transformer"), "shared"),
    Row("no_mutual", "mutual learning off", "bdgf", ("--no-mutual",), "shared"),
    Row("cross_model", "cross-model diffusion features (DDPM pre-trained on another scene)", "bdgf", (),
        "cross"),
    Row("rf", "Random Forest (stacked bands, per pixel)", "baseline"),
    Row("svm", "SVM RBF (stacked bands, standardised, per pixel)", "baseline"),
)
ROW_BY_KEY = {r.key: r for r in ROWS}


@dataclass
class Settings:
    name: str
    size: tuple[int, int]  # scene H, W (HSI pixels)
    bands: int
    seeds: tuple[int, ...]
    rows: tuple[str, ...]
    preset: str
    training: dict  # [training] overrides appended to the scene config
    scene_seed: int = 0
    cross_scene_seed: int = 1
    train_per_class: int = 60
    device: str = "cpu"
    threads: int = 1  # torch threads per training run (1 is fastest on a busy CPU); 0 = PyTorch's default
    infer: bool = True


FULL = Settings(
    name="full", size=(128, 160), bands=64, seeds=(0, 1, 2), rows=tuple(r.key for r in ROWS), preset="quick",
    training={"tile_size": 128, "ddpm_steps": 1000, "epochs": 40, "tsne_points": 60})
QUICK = Settings(
    name="quick", size=(32, 40), bands=16, seeds=(0,), rows=("rf", "bdgf", "mask_off"), preset="quick",
    training={"tile_size": 64, "ddpm_steps": 12, "epochs": 2, "tsne_points": 60}, train_per_class=20)
GPU = Settings(
    name="gpu", size=(192, 256), bands=64, seeds=(0, 1, 2), rows=tuple(r.key for r in ROWS), preset="default",
    training={"tile_size": 128, "ddpm_steps": 2000, "epochs": 40, "tsne_points": 1000}, device="cuda",
    threads=0)


def _scores(r: dict) -> str:
    return f"OA {100 * r['oa']:.2f} AA {100 * r['aa']:.2f} kappa {r['kappa']:.4f}"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} bench: {message}", flush=True)


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- scenes
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def make_testbed(out: Path, st: Settings, seed: int, training: dict) -> dict:
    """Write (or reuse) a scene and its benchmark config (the scene config + a [training] table)."""
    from training.synthetic import make_scene, write_scene

    params = {"size": st.size, "bands": st.bands, "seed": seed, "train_per_class": st.train_per_class,
              "training": training, "version": 1}
    stamp = out / "bench_scene.json"
    config = out / "bench.toml"
    if stamp.is_file() and config.is_file() and json.loads(stamp.read_text())["params"] == params:
        return json.loads(stamp.read_text())["info"]
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    scene = make_scene(st.size[0], st.size[1], seed=seed, n_bands=st.bands)
    paths = write_scene(scene, out, "same", train_per_class=st.train_per_class)
    text = Path(paths["config"]).read_text(encoding="utf-8")
    text += "\n[training]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in training.items())
    config.write_text(text, encoding="utf-8")
    meta = json.loads(Path(paths["meta"]).read_text(encoding="utf-8"))
    info = {"dir": str(out), "config": str(config), "inputs": [paths["hsi"], paths["sar"], paths["dsm"]],
            "meta": meta, "seconds": time.perf_counter() - t0}
    stamp.write_text(json.dumps({"params": params, "info": info}, indent=1), encoding="utf-8")
    return info


# ----------------------------------------------------------------------------- one training run
def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class NotFinished(Exception):
    """A run that is not finished while only finished runs may be used."""


def training_run(run_dir: Path, config: str, st: Settings, seed: int, args: list[str], cache: Path,
                 ddpm_from: Path | None = None, fingerprint: dict | None = None,
                 reuse_only: bool = False) -> dict:
    """`python -m training.run` for one seed into run_dir (reused when finished with the same settings)."""
    stamp_obj = {"config": config, "preset": st.preset, "device": st.device, "threads": st.threads,
                 "seed": seed, "args": args,
                 "ddpm_from": str(ddpm_from) if ddpm_from else None, **(fingerprint or {})}
    stamp = _fingerprint(stamp_obj)
    done = run_dir / "bench_run.json"
    if done.is_file() and (run_dir / "metrics.json").is_file():
        info = json.loads(done.read_text())
        if info.get("fingerprint") == stamp:
            info["cached"] = True
            return info
    if reuse_only:
        raise NotFinished(str(run_dir))
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    extra = []
    if ddpm_from is not None:  # start from the finished DDPM of another run (same seed, same settings)
        (run_dir / "ckpt").mkdir()
        for suffix in (".json", ".safetensors"):
            shutil.copy2(ddpm_from / "ckpt" / f"ddpm_final{suffix}", run_dir / "ckpt" / f"ddpm_final{suffix}")
        extra = ["--resume"]
    cmd = [sys.executable, "-m", "training.run", "--config", config, "--out", str(run_dir),
           "--preset", st.preset, "--device", st.device, "--seeds", str(seed), "--cache-dir", str(cache),
           *(["--threads", str(st.threads)] if st.threads > 0 else []), *args, *extra]
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with open(run_dir / "bench_stdout.log", "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        tail = (run_dir / "bench_stdout.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"training.run failed (exit {proc.returncode}) for {run_dir}:\n{tail}")
    info = {"fingerprint": stamp, "command": " ".join(cmd), "wall_s": wall, "cpu_s": cpu, "cached": False}
    done.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def ddpm_masking(run_dir: Path) -> dict | None:
    """Final masking state of the run's DDPM pre-training (imbalance ratio, ratios, per-modality losses)."""
    path = run_dir / "ckpt" / "ddpm_final.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    hist = meta.get("history") or [{}]
    last = hist[-1]
    return {"imbalance": (meta.get("masking") or {}).get("imbalance"),
            "structure_ratio": last.get("structure_ratio"), "sample_ratio": last.get("sample_ratio"),
            "mean_structure_ratio": float(np.mean([h.get("structure_ratio", 0.0) for h in hist])),
            "mean_sample_ratio": float(np.mean([h.get("sample_ratio", 0.0) for h in hist])),
            "final_losses": [last[k] for k in sorted(last) if k.startswith("loss_")]}


def bdgf_result(run_dir: Path, info: dict) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return {"ddpm_masking": ddpm_masking(run_dir), "oa": m["oa"], "aa": m["aa"], "kappa": m["kappa"],
            "classes": m["classes"],
            "confusion_matrix": m["confusion_matrix"], "n": m["n"], "modality_balance": m["modality_balance"],
            "selection": {k: m["selection"].get(k) for k in ("epoch", "val_oa")}, "timings": m["timings"],
            "package": m["package"], "wall_s": info["wall_s"], "cpu_s": info.get("cpu_s"),
            "cached": info.get("cached", False), "command": info["command"]}


# ----------------------------------------------------------------------------- aggregation
def mean_std(values: list[float]) -> dict:
    v = np.asarray([x for x in values if x is not None], float)
    if not len(v):
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}


def pair_confusion(cm: np.ndarray, a: int, b: int) -> float:
    """Share of the reference pixels of classes a and b predicted as the other class of the pair."""
    total = cm[a].sum() + cm[b].sum()
    return float((cm[a, b] + cm[b, a]) / total) if total else float("nan")


def spectral_share(balance: dict, spectral: str) -> float:
    """Feature change caused by removing the spectral modality / the sum over modalities (levels averaged)."""
    per = {m: float(np.mean(list(v.values()))) for m, v in balance.items()}
    total = sum(per.values())
    return per[spectral] / total if total else float("nan")


def balance_index(balance: dict) -> float:
    """Evenness of the modalities' feature changes (levels averaged): normalised entropy of their shares,
    1 = every modality changes the features equally, 0 = one modality drives them all."""
    per = np.array([float(np.mean(list(v.values()))) for v in balance.values()])
    if len(per) < 2 or per.sum() <= 0:
        return float("nan")
    p = per / per.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(len(per)))


LEVELS = ("fine", "mid", "coarse")


def _ordered(balance: dict, modalities: list[str]) -> dict:
    """modality_balance with modalities in model order (spectral first) and levels fine, mid, coarse."""
    mods = [m for m in modalities if m in balance] + [m for m in balance if m not in modalities]
    return {m: {lv: balance[m][lv] for lv in [*[x for x in LEVELS if x in balance[m]],
                                              *[x for x in balance[m] if x not in LEVELS]]} for m in mods}


def aggregate(results: dict, scene_meta: dict, modalities: list[str]) -> dict:
    """modalities: names in model order, the spectral modality first (metrics.json sorts its keys)."""
    """Per row: mean ± std (sample std, ddof=1) of OA/AA/Kappa, per-class accuracy, pair confusion."""
    values = [c["value"] for c in scene_meta["classes"]]
    names = {c["value"]: c["name"] for c in scene_meta["classes"]}
    pairs = {"aux_only": [tuple(p) for p in scene_meta.get("aux_only_pairs", [])],
             "spectral_only": [tuple(p) for p in scene_meta.get("spectral_only_pairs", [])]}
    out = {}
    for key, per_seed in results.items():
        if not per_seed:
            continue
        seeds = sorted(per_seed, key=int)
        row = {"seeds": [int(s) for s in seeds]}
        for metric in ("oa", "aa", "kappa"):
            row[metric] = mean_std([per_seed[s][metric] for s in seeds])
        row["per_class"] = {}
        for i, v in enumerate(values):
            row["per_class"][names[v]] = mean_std(
                [per_seed[s]["classes"][i]["producers_accuracy"] for s in seeds])
        row["pair_confusion"] = {}
        aux_conf = []
        for kind, plist in pairs.items():
            for a, b in plist:
                ia, ib = values.index(a), values.index(b)
                label = f"{names[a]} / {names[b]}"
                shares = [pair_confusion(np.asarray(per_seed[s]["confusion_matrix"]), ia, ib) for s in seeds]
                row["pair_confusion"][label] = {"kind": kind, **mean_std(shares)}
                if kind == "aux_only":
                    aux_conf.append(shares)
        if aux_conf:  # per seed: mean over the aux-only pairs
            row["aux_pair_confusion"] = mean_std([float(np.mean(v)) for v in zip(*aux_conf)])
        if all("modality_balance" in per_seed[s] for s in seeds):
            bal = [_ordered(per_seed[s]["modality_balance"], modalities) for s in seeds]
            row["modality_balance"] = {
                m: {lvl: mean_std([b[m][lvl] for b in bal]) for lvl in bal[0][m]} for m in bal[0]}
            row["spectral_share"] = mean_std([spectral_share(b, modalities[0]) for b in bal])
            row["balance_index"] = mean_std([balance_index(b) for b in bal])
        masks = [per_seed[s].get("ddpm_masking") for s in seeds]
        if all(masks):
            row["ddpm_masking"] = {k: mean_std([mk[k] for mk in masks])
                                   for k in ("imbalance", "structure_ratio", "sample_ratio",
                                             "mean_structure_ratio", "mean_sample_ratio")}
        row["wall_s"] = mean_std([per_seed[s].get("wall_s") for s in seeds])
        out[key] = row
    return out


def compare(agg: dict, a: str, b: str, metric: str = "oa") -> dict | None:
    """a - b with a rough 2-standard-error rule (Welch-like, over seeds)."""
    if a not in agg or b not in agg or agg[a][metric]["mean"] is None or agg[b][metric]["mean"] is None:
        return None
    ma, mb = agg[a][metric], agg[b][metric]
    delta = ma["mean"] - mb["mean"]
    se = float(np.sqrt(ma["std"] ** 2 / max(ma["n"], 1) + mb["std"] ** 2 / max(mb["n"], 1)))
    if min(ma["n"], mb["n"]) < 2:
        verdict = "single seed: no noise estimate"
    elif abs(delta) > 2 * se:
        verdict = "clear (|Δ| > 2 SE)"
    else:
        verdict = "within seed noise (|Δ| ≤ 2 SE)"
    return {"a": a, "b": b, "metric": metric, "delta": delta, "se": se, "verdict": verdict}


# ----------------------------------------------------------------------------- machine / inference
def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "numpy": np.__version__}
    for mod in ("torch", "onnxruntime", "sklearn"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as exc:  # report, never fail on a missing optional package
            info[mod] = f"unavailable ({type(exc).__name__})"
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    from osgeo import gdal

    info["gdal"] = gdal.__version__
    return info


def code_version() -> dict:
    """Git revision (+ whether the tree had changes) and a digest of the engine / training sources used."""
    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("engine/**/*.py"), *REPO.glob("training/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    out = {"sources_sha256": digest.hexdigest()[:16]}
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10)
        out["git_head"] = head.stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--", "engine", "training"], cwd=REPO,
                                capture_output=True, text=True, timeout=10).stdout
        out["uncommitted_changes"] = [line[3:] for line in status.splitlines()]
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def inference_bench(inputs: list[str], model: str, work: Path, repeats: int = 3) -> dict:
    """ONNX Runtime vs PyTorch eager (CPU) on the benchmark scene via engine.bench.run_child: each
    classification in a fresh process, `repeats` times per backend (interleaved), median reported."""
    from engine.bench import agreement, run_child

    work.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"onnx": [], "torch": []}
    for _ in range(repeats):
        for backend in runs:
            runs[backend].append(run_child(inputs, model, str(work / f"classes_{backend}.tif"), backend))
    out: dict = {"repeats": repeats}
    for backend, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        med = rs[int(np.argsort(secs)[len(secs) // 2])]
        out[backend] = {k: med.get(k) for k in ("seconds", "pixels_per_second", "tile", "halo", "batch",
                                                "backend_detail", "device", "profile")}
        out[backend].update(seconds_all=secs, seconds_min=min(secs),
                            peak_rss_mb=max(r["peak_rss_mb"] for r in rs),
                            classes_tif=med["outputs"]["classes"])
    out["speedup_onnx_vs_torch"] = out["torch"]["seconds"] / out["onnx"]["seconds"]
    out["class_map_agreement"] = agreement(out["onnx"]["classes_tif"], out["torch"]["classes_tif"])
    return out


# ----------------------------------------------------------------------------- figures
def balance_figure(agg: dict, path: Path) -> bool:
    """Grouped bars: relative feature change per modality (a panel per level), masking off/fixed/adaptive."""
    labels = (("mask_off", "masking off"), ("mask_fixed", "masking fixed"),
              ("bdgf", "masking adaptive (full)"))
    modes = [(k, lbl) for k, lbl in labels if "modality_balance" in agg.get(k, {})]
    if not modes:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = agg[modes[0][0]]["modality_balance"]
    mods, levels = list(first), list(next(iter(first.values())))
    fig, axes = plt.subplots(1, len(levels), figsize=(3.2 * len(levels), 3.0), sharey=True)
    axes = np.atleast_1d(axes)
    x = np.arange(len(mods))
    width = 0.8 / len(modes)
    for ax, lvl in zip(axes, levels):
        for i, (key, label) in enumerate(modes):
            bal = agg[key]["modality_balance"]
            ax.bar(x + (i - (len(modes) - 1) / 2) * width, [bal[m][lvl]["mean"] for m in mods], width,
                   yerr=[bal[m][lvl]["std"] for m in mods], capsize=2, label=label)
        ax.set_xticks(x, mods)
        ax.set_title(f"{lvl} features", fontsize=9)
    axes[0].set_ylabel("relative feature change\nwhen the modality is removed", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


# ----------------------------------------------------------------------------- report
def balance_reading(agg: dict, n_modalities: int) -> list[str]:
    """Plain-language reading of the balance table, derived from the numbers (no fixed conclusions)."""
    out = []
    off, full = agg.get("mask_off", {}), agg.get("bdgf", {})
    rho = [agg[k]["ddpm_masking"]["imbalance"]["mean"] for k in ("mask_off", "mask_fixed", "bdgf")
           if (agg.get(k, {}).get("ddpm_masking") or {}).get("imbalance", {}).get("mean") is not None]
    if rho and max(rho) < 1:
        out.append(f"- ρ stays below 1 in every DDPM (max {max(rho):.2f}): the auxiliaries are denoised "
                   "better than the spectral image, so the controller sees no spectral dominance and the "
                   "adaptive mode holds masking near its lower bound (`min_factor`).")
    elif rho:
        out.append(f"- ρ reaches {max(rho):.2f}: at least one DDPM shows the loss-based spectral-dominance "
                   "signal.")
    share = (off.get("spectral_share") or {}).get("mean")
    if share is not None:
        even = 1.0 / n_modalities
        out.append(f"- Without masking the spectral modality drives {share:.3f} of the feature change "
                   f"({'less' if share < even else 'more'} than the even share 1/{n_modalities} = {even:.3f})"
                   + (f"; with adaptive masking {full['spectral_share']['mean']:.3f}."
                      if full.get("spectral_share") else "."))
    bi_off = (off.get("balance_index") or {}).get("mean")
    bi_full = (full.get("balance_index") or {}).get("mean")
    if bi_off is not None and bi_full is not None:
        out.append(f"- Balance index: {bi_off:.3f} without masking, {bi_full:.3f} with adaptive masking "
                   f"({'more' if bi_full > bi_off else 'less'} even).")
    return out


def _pm(stat: dict, scale: float = 100.0, digits: int = 2) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    return f"{scale * stat['mean']:.{digits}f} ± {scale * stat['std']:.{digits}f}"


def write_report(docs: Path, data: dict) -> None:
    agg, st = data["aggregate"], data["settings"]
    meta = data["scene"]["meta"]
    rows = [ROW_BY_KEY[k] for k in st["rows"]]
    lines = [
        "# Benchmarks: BDGF ablations and baselines on the synthetic testbed", "",
        f"Generated by `{data['command']}` (`make bench` runs `.venv/bin/python -m training.bench`) on "
        f"{data['started']}; total runtime **{data['total_s'] / 60:.1f} min**"
        + (" (finished runs reused from an earlier invocation: see the per-run table)" if data["cached_runs"]
           else "") + ".",
        "Raw results: [`benchmarks.json`](benchmarks.json). Every number below comes from that run; "
        "nothing is edited by hand."
        + (f" This page was re-rendered from the finished runs by `{data['report_rendered']['command']}` on "
           f"{data['report_rendered']['at']} (the runtime above is up to the last finished run)."
           if data.get("report_rendered") else ""), "",
        "**Read this first.** The testbed is a procedural scene (`training.synthetic`), built so that "
        "some class pairs are separable only by the auxiliary modalities (trees / grass and roof / "
        "paved ground share one material spectrum; height and SAR separate them) and one pair only by "
        "the spectra (bare soil / sand). Accuracies here measure the method's mechanics at a small CPU "
        "budget; they say nothing about Augsburg, Berlin or Houston, and the network and training budget "
        "are far below the paper's.", ""]
    if data.get("not_run"):
        lines += ["**Incomplete / reduced:** the following runs did not run "
                  f"({data.get('not_run_reason', 'time budget')}): "
                  + ", ".join(f"`{r}` seed {s}" for r, s in data["not_run"]) + ".", ""]
    if data.get("reductions"):
        lines += ["**Reductions against the planned configuration:** " + data["reductions"], ""]
    m = data["machine"]
    lines += [
        "## Setup", "",
        f"- Machine: {m['cpu']}, {m['cores']} cores"
        f"{', GPU ' + m['gpu'] if m.get('gpu') else ''}; training runs use "
        f"{st['threads'] or m.get('torch_threads', '?')} torch thread(s); Python {m['python']}, "
        f"torch {m['torch']}, onnxruntime {m['onnxruntime']}, scikit-learn {m['sklearn']}, "
        f"GDAL {m['gdal']}, numpy {m['numpy']}.",
        f"- Load average at start / end: {data['load_start']} / {data['load_end']} (the CPU was shared "
        "with other work; wall times include that contention).",
        f"- Scene: {meta['shape'][0]} × {meta['shape'][1]} px, {len(meta['wavelengths_nm'])} HSI bands + "
        f"SAR (4) + nDSM (1), {len(meta['classes'])} classes, scene seed {st['scene_seed']}; "
        f"{meta['train_pixels']} training pixels (sparse blobs; 20 % of them held out for model selection), "
        f"{meta['test_pixels']} test pixels.",
        f"- BDGF: `training.run --preset {st['preset']}` with the `[training]` overrides "
        f"`{json.dumps(st['training'])}`, device {st['device']}; seeds {', '.join(map(str, st['seeds']))}.",
        "- Rows marked *shared DDPM* reuse the full model's DDPM of the same seed (a copy of its finished "
        "checkpoint; the DDPM training is deterministic per seed on CPU, so this only saves time) and its "
        "cached diffusion features; the masking rows pre-train their own DDPM. *Masking adaptive* is the "
        "full BDGF row.",
        f"- Cross-model: the DDPM of a `training.run` on a **different scene** (layout seed "
        f"{st['cross_scene_seed']}, same sensors; DDPM seed 0; its classifier is not used) is plugged in "
        "with `--cross-model-ddpm`; the classifier (unchanged architecture) is trained on its features of "
        "this scene. The seed spread of that row covers the classifier only.",
        "- Baselines: `training.baselines` on the bands stacked with `engine.raster.read_aligned_stack` "
        "(SAR in dB), standardised on the training pixels; RF 300 trees; SVM RBF with C and gamma chosen by "
        "3-fold CV on the training pixels. Same train / test pixels as BDGF"
        + (" (test pixel counts match)." if data.get("test_pixels_match") else
           " (test pixel counts differ: see the notes)."),
        f"- Code: git {data['code'].get('git_head')}"
        + (f" plus uncommitted changes in {', '.join(data['code']['uncommitted_changes'])}"
           if data["code"].get("uncommitted_changes") else "")
        + f"; engine + training sources sha256 {data['code']['sources_sha256']}.",
        "- ± is the sample standard deviation over seeds (ddof = 1).", "",
        "## Accuracy (test pixels, %; Kappa × 100)", "",
        "| row | OA | AA | Kappa | seeds | wall / run (s) |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        a = agg.get(r.key)
        tag = {"shared": " *(shared DDPM)*", "cross": "", "own": ""}[r.ddpm] if r.kind == "bdgf" else ""
        if a is None:
            lines.append(f"| {r.label}{tag} | not run | | | 0 | |")
            continue
        wall = a["wall_s"]["mean"]
        lines.append(f"| {r.label}{tag} | {_pm(a['oa'])} | {_pm(a['aa'])} | {_pm(a['kappa'])} | "
                     f"{len(a['seeds'])} | {'' if wall is None else f'{wall:.0f}'} |")
    class_keys = []
    for kind in ("aux_only", "spectral_only"):
        for a, b in meta.get(f"{kind}_pairs", []):
            class_keys.append((kind, [c["name"] for c in meta["classes"] if c["value"] in (a, b)]))
    if class_keys:
        pair_labels = [" / ".join(n) for _, n in class_keys]
        lines += ["", "## Class pairs: per-class accuracy (producer's, %) and pair confusion", "",
                  "Pair confusion = share of the pair's test pixels predicted as the *other* class of the "
                  "pair (lower is better). Aux-only pairs can only be separated with SAR / nDSM: they show "
                  "whether fusion works; the spectral-only pair shows that the spectra are still used.", "",
                  "| row | " + " | ".join(f"{n}" for _, names in class_keys for n in names) + " | "
                  + " | ".join(f"confusion {p} ({k.replace('_', '-')})"
                               for p, (k, _) in zip(pair_labels, class_keys))
                  + " |", "|---|" + "---:|" * (sum(len(n) for _, n in class_keys) + len(class_keys))]
        for r in rows:
            a = agg.get(r.key)
            if a is None:
                continue
            cells = [_pm(a["per_class"].get(n), digits=1) for _, names in class_keys for n in names]
            cells += [_pm(a["pair_confusion"].get(p), digits=1) for p in pair_labels]
            lines.append(f"| {r.key} | " + " | ".join(cells) + " |")
    bal_rows = [k for k in ("mask_off", "mask_fixed", "bdgf") if "modality_balance" in agg.get(k, {})]
    if bal_rows:
        mods = list(agg[bal_rows[0]]["modality_balance"])
        lines += ["", "## Modality balance of the diffusion features", "",
                  "Relative change ‖f − f_m‖ / ‖f‖ of the diffusion features (mean over the fine / mid / "
                  "coarse levels, then over seeds) when modality m is replaced by its mean "
                  "(training.evaluate.modality_balance). *Spectral share* = the spectral modality's change / "
                  "the sum over modalities: a spectral-dominated DDPM has a high share (1/M would be equal "
                  "shares for M modalities). *Balance index* = normalised entropy of the modality shares "
                  "(1 = all modalities change the features equally). ρ = the masking "
                  "controller's imbalance signal at the end of pre-training (mean auxiliary denoising loss / "
                  "spectral loss; > 1 would mean spectral dominance); r_s / p_m = structure / sample mask "
                  "ratios at the end (mean over pre-training in brackets).", "",
                  "| DDPM | " + " | ".join(mods) + " | spectral share | balance index | ρ | r_s | p_m |",
                  "|---|" + "---:|" * (len(mods) + 5)]
        for k in bal_rows:
            b = agg[k]["modality_balance"]
            cells = [f"{np.mean([b[mod][lvl]['mean'] for lvl in b[mod]]):.3f}" for mod in mods]
            dm = agg[k].get("ddpm_masking") or {}

            def ratio(key: str, dm=dm) -> str:
                if key not in dm:
                    return "–"
                return f"{dm[key]['mean']:.3f} ({dm['mean_' + key]['mean']:.3f})"

            lines.append(f"| {ROW_BY_KEY[k].label.split(' (')[0]} | " + " | ".join(cells) + " | "
                         f"{_pm(agg[k]['spectral_share'], 1.0, 3)} | "
                         f"{_pm(agg[k]['balance_index'], 1.0, 3)} | {_pm(dm.get('imbalance'), 1.0, 3)} | "
                         f"{ratio('structure_ratio')} | {ratio('sample_ratio')} |")
        lines += [""] + balance_reading(agg, len(mods))
        for name, desc in data.get("figures", {}).items():
            lines += ["", f"![{desc}](img/{name})", "", f"*{desc}*"]
    inf = data.get("inference")
    if inf:
        lines += ["", "## Inference (engine.bench, CPU)", "",
                  "Full-scene classification of the benchmark scene "
                  f"({meta['shape'][0]} × {meta['shape'][1]} px) with the full BDGF model of seed "
                  f"{inf['seed']} (`{inf['model']}`), each run in a fresh process (engine.bench.run_child; "
                  f"includes model loading); {inf.get('repeats', 1)} runs per backend, interleaved; the "
                  "median run is shown (all times in the JSON). Short runs on a shared CPU are noisy.", "",
                  "| backend | seconds (median) | min | pixels / s | peak RSS (MB) | tile + halo | batch |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for b, label in (("onnx", "ONNX Runtime"), ("torch", "PyTorch eager")):
            s = inf[b]
            lines.append(f"| {label} ({s['backend_detail']}) | {s['seconds']:.2f} | "
                         f"{s.get('seconds_min', s['seconds']):.2f} | {s['pixels_per_second']:.0f} | "
                         f"{s['peak_rss_mb']:.0f} | "
                         f"{s['tile']} + {s['halo']} | {s['batch']} |")
        lines += ["", f"ONNX Runtime / PyTorch speed ratio {inf['speedup_onnx_vs_torch']:.2f}; the two class "
                  f"maps agree on {100 * inf['class_map_agreement']:.3f} % of the pixels. For an "
                  "Augsburg-size scene see `python -m engine.bench`."]
    lines += ["", "## What the testbed says about the method's claims", "",
              "Automatic comparisons (metric named in brackets; Δ in points for OA / AA / confusion; "
              "*clear* = |Δ| > 2 standard errors over seeds, a rough rule with 3 seeds):", ""]
    for c in data.get("claims", []):
        if c.get("delta") is None:
            lines.append(f"- {c['claim']}: not measured ({c.get('why', 'rows missing')}).")
            continue
        ratio = c["metric"] in ("spectral_share", "balance_index")
        unit, scale = ("", 1.0) if ratio else (" points", 100.0)  # OA and confusion shares in points
        lines.append(f"- {c['claim']}: **{c['holds']}** — `{c['a']}` − `{c['b']}` = "
                     f"{scale * c['delta']:+.3g}{unit} ({c['metric']}, SE {scale * c['se']:.2g}; "
                     f"{c['verdict']}).")
    lines += ["", "## Per run", "",
              "| row | seed | OA | selected epoch (val OA) | wall (s) | CPU (s) | reused |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for key in st["rows"]:
        for s, r in sorted(data["results"].get(key, {}).items(), key=lambda kv: int(kv[0])):
            sel = r.get("selection") or {}
            sel_txt = "" if sel.get("val_oa") is None else f"{sel.get('epoch')} ({100 * sel['val_oa']:.1f})"
            cpu = r.get("cpu_s")
            lines.append(f"| {key} | {s} | {100 * r['oa']:.2f} | {sel_txt} | {r.get('wall_s', 0):.0f} | "
                         f"{'' if cpu is None else f'{cpu:.0f}'} | {'yes' if r.get('cached') else ''} |")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in data.get("notes", [])]
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "BENCHMARKS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


CLAIMS = (  # (claim, row a, row b, metric, expected sign of a - b: +1, -1, or 0 = "no clear loss")
    ("Adaptive masking lowers the spectral share of the DDPM features (balance)", "bdgf", "mask_off",
     "spectral_share", -1),
    ("Adaptive masking makes the modalities' contributions more even (balance index)", "bdgf", "mask_off",
     "balance_index", 1),
    ("Adaptive masking lowers the confusion of the aux-only pairs", "bdgf", "mask_off",
     "aux_pair_confusion", -1),
    ("Masking (adaptive) improves accuracy over no masking", "bdgf", "mask_off", "oa", 1),
    ("Adaptive masking beats fixed masking", "bdgf", "mask_fixed", "oa", 1),
    ("Diffusion guidance helps", "bdgf", "no_guidance", "oa", 1),
    ("Mutual learning helps", "bdgf", "no_mutual", "oa", 1),
    ("Fusion of the three branches beats the CNN branch alone", "bdgf", "cnn", "oa", 1),
    ("Fusion beats the Mamba branch alone", "bdgf", "mamba", "oa", 1),
    ("Fusion beats the Transformer branch alone", "bdgf", "transformer", "oa", 1),
    ("Cross-model diffusion features transfer (no clear loss)", "cross_model", "bdgf", "oa", 0),
    ("BDGF beats Random Forest", "bdgf", "rf", "oa", 1),
    ("BDGF beats SVM", "bdgf", "svm", "oa", 1),
    ("BDGF beats Random Forest in AA (class-balanced)", "bdgf", "rf", "aa", 1),
    ("BDGF beats SVM in AA (class-balanced)", "bdgf", "svm", "aa", 1),
)


def evaluate_claims(agg: dict) -> list[dict]:
    out = []
    for claim, a, b, metric, sign in CLAIMS:
        c = compare(agg, a, b, metric) if metric in agg.get(a, {}) and metric in agg.get(b, {}) else None
        if c is None:
            out.append({"claim": claim, "delta": None})
            continue
        clear = c["verdict"].startswith("clear")
        if c["verdict"].startswith("single"):
            holds = "not decided (one seed)"
        elif sign == 0:
            loss = clear and c["delta"] < 0
            holds = "does not hold (clear loss)" if loss else "holds (no clear loss)"
        elif not clear:
            holds = "not shown (within seed noise)"
        else:
            holds = "holds" if c["delta"] * sign > 0 else "contradicted"
        out.append({"claim": claim, **c, "holds": holds})
    return out


# ----------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: tiny scene, 1 seed, rf + 2 BDGF rows")
    ap.add_argument("--gpu", action="store_true", help="CUDA training on a bigger scene (default preset)")
    ap.add_argument("--rows", help=f"comma-separated subset of {','.join(ROW_BY_KEY)}")
    ap.add_argument("--seeds", help="comma-separated seeds (default 0,1,2; --quick: 0)")
    ap.add_argument("--size", help="scene HxW (default 128x160; --quick 32x40; --gpu 192x256)")
    ap.add_argument("--work", help="work folder for scenes and runs (default build/bench[-quick|-gpu])")
    ap.add_argument("--docs", help="where BENCHMARKS.md / benchmarks.json / img/ go "
                                   "(default docs/; --quick: WORK/docs)")
    ap.add_argument("--no-infer", action="store_true", help="skip the ONNX Runtime vs PyTorch inference part")
    ap.add_argument("--max-minutes", type=float, help="start no new run after this many minutes")
    ap.add_argument("--report-only", action="store_true", help="only aggregate the finished runs in WORK")
    ap.add_argument("--reductions", help="free text recorded in the report (what was reduced and why)")
    return ap.parse_args(argv)


def settings_from(args) -> Settings:
    if args.quick and args.gpu:
        raise SystemExit("error: choose one of --quick and --gpu")
    st = dataclasses.replace(QUICK if args.quick else GPU if args.gpu else FULL)
    if args.rows:
        rows = tuple(r.strip() for r in args.rows.split(",") if r.strip())
        bad = [r for r in rows if r not in ROW_BY_KEY]
        if bad:
            raise SystemExit(f"error: unknown row(s) {bad}; choose from {','.join(ROW_BY_KEY)}")
        st.rows = tuple(r for r in ROW_BY_KEY if r in rows)  # canonical order (bdgf before shared rows)
    if args.seeds:
        st.seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.size:
        st.size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.no_infer:
        st.infer = False
    return st


def main(argv=None) -> int:
    args = parse_args(argv)
    st = settings_from(args)
    if st.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print(f"error: --gpu needs a CUDA GPU, but PyTorch {torch.__version__} sees none "
                  f"(CUDA build: {torch.version.cuda or 'no'}). Run `make bench` (CPU) instead.",
                  file=sys.stderr)
            return 2
    work = Path(args.work) if args.work else REPO / "build" / {"full": "bench", "quick": "bench-quick",
                                                                "gpu": "bench-gpu"}[st.name]
    docs = Path(args.docs) if args.docs else (work / "docs" if st.name == "quick" else REPO / "docs")
    work.mkdir(parents=True, exist_ok=True)
    argv_used = argv if argv is not None else sys.argv[1:]
    command = "python -m training.bench" + "".join(f" {a}" for a in argv_used)
    started, t_start = time.strftime("%Y-%m-%d %H:%M:%S %Z"), time.perf_counter()
    load_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    code = code_version()  # at the start: the code the runs use
    log(f"{st.name}: scene {st.size[0]}x{st.size[1]}, {st.bands} bands, seeds {st.seeds}, "
        f"rows {','.join(st.rows)}, work {work}, docs {docs}")

    scene = make_testbed(work / "scene", st, st.scene_seed, st.training)
    log(f"scene: {scene['meta']['train_pixels']} train / {scene['meta']['test_pixels']} test px "
        f"({scene['config']})")
    results: dict[str, dict[str, dict]] = {k: {} for k in st.rows}
    not_run: list[tuple[str, int]] = []
    notes: list[str] = []
    cache = work / "cache"
    deadline = None if args.max_minutes is None else t_start + 60 * args.max_minutes
    pixels = None
    cross_pkg = None

    def out_of_time() -> bool:
        return args.report_only or (deadline is not None and time.perf_counter() > deadline)

    def run_bdgf(row: Row, seed: int) -> None:
        nonlocal cross_pkg
        run_dir = work / "runs" / row.key / f"seed_{seed}"
        reuse_only = out_of_time()
        ddpm_from, args_ = None, list(row.args)
        if row.ddpm == "shared":
            full = work / "runs" / "bdgf" / f"seed_{seed}"
            if (full / "ckpt" / "ddpm_final.json").is_file() and str(seed) in results.get("bdgf", {}):
                ddpm_from = full
            else:
                notes.append(f"{row.key} seed {seed}: pre-trained its own DDPM (no finished full-model DDPM)")
        try:
            if row.ddpm == "cross":
                if cross_pkg is None:
                    cross = make_testbed(work / "scene_cross", st, st.cross_scene_seed,
                                         {**st.training, "epochs": 1})
                    src = work / "runs" / "cross_source"
                    log(f"cross-model source: DDPM on scene seed {st.cross_scene_seed} -> {src}")
                    training_run(src, cross["config"], st, 0, [], cache,
                                 fingerprint={"settings": st.training}, reuse_only=reuse_only)
                    cross_pkg = src / "model.bdgf"
                args_ += ["--cross-model-ddpm", str(cross_pkg)]
            shared = " (shared DDPM)" if ddpm_from else ""
            log(f"{row.key} seed {seed}: training.run {' '.join(args_)}{shared}")
            info = training_run(run_dir, scene["config"], st, seed, args_, cache, ddpm_from,
                                {"settings": st.training, "size": st.size, "bands": st.bands},
                                reuse_only=reuse_only)
        except NotFinished:
            log(f"{row.key} seed {seed}: not run ({'report only' if args.report_only else 'time budget'})")
            not_run.append((row.key, seed))
            return
        results[row.key][str(seed)] = r = bdgf_result(run_dir, info)
        how = "reused" if r["cached"] else f"{r['wall_s']:.0f} s"
        log(f"{row.key} seed {seed}: {_scores(r)} ({how})")

    state_path = work / "bench_state.json"
    state = {"command": command, "started": started, "start_epoch": time.time(), "load_start": load_start,
             "code": code, "settings": dataclasses.asdict(st)}
    if args.report_only and state_path.is_file():  # render the runs of the invocation that made them
        state = json.loads(state_path.read_text(encoding="utf-8"))
    elif args.report_only and (docs / "benchmarks.json").is_file():  # a report written by that invocation
        prev = json.loads((docs / "benchmarks.json").read_text(encoding="utf-8"))
        state = {"command": prev["command"], "started": prev["started"], "start_epoch": 0.0,
                 "last_epoch": prev["total_s"], "load_start": prev["load_start"],
                 "load_last": prev["load_end"], "code": prev.get("code", code),
                 "inference": prev.get("inference")}

    def checkpoint_results() -> None:
        (work / "results_partial.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        if not args.report_only:
            state.update(last_epoch=time.time(), load_last=" ".join(f"{x:.1f}" for x in os.getloadavg()))
            state_path.write_text(json.dumps(state, indent=1), encoding="utf-8")

    checkpoint_results()

    for seed in st.seeds:
        for key in st.rows:
            row = ROW_BY_KEY[key]
            if row.kind == "bdgf":
                run_bdgf(row, seed)
            else:
                from training.baselines import load_pixels, run_baseline

                if pixels is None:
                    pixels = load_pixels(scene["config"])
                results[key][str(seed)] = r = run_baseline(key, pixels, seed)
                r["wall_s"] = r["seconds"]["fit"] + r["seconds"]["predict"]
                log(f"{key} seed {seed}: {_scores(r)}")
            checkpoint_results()

    from training.config import load_config

    run_cfg = load_config(scene["config"])
    modalities = [layer.name for layer in run_cfg.layers]  # spectral first
    agg = aggregate(results, scene["meta"], modalities)
    ns = {k: {r["n"] for r in v.values()} for k, v in results.items() if v}
    test_pixels_match = len(set().union(*ns.values())) == 1 if ns else False
    if not test_pixels_match:
        notes.append(f"test pixel counts per row: { {k: sorted(v) for k, v in ns.items()} }")

    inference = None
    if st.infer and results.get("bdgf") and not args.report_only:
        seed0 = sorted(results["bdgf"], key=int)[0]
        model = results["bdgf"][seed0]["package"]
        log(f"inference: ONNX Runtime vs PyTorch eager with {model}")
        try:
            inference = {**inference_bench(scene["inputs"], model, work / "infer"), "seed": int(seed0),
                         "model": os.path.relpath(model, REPO)}
        except RuntimeError as exc:
            notes.append(f"inference benchmark failed: {str(exc)[:400]}")
        state["inference"] = inference
        checkpoint_results()
    elif st.infer and args.report_only:
        inference = state.get("inference")

    figures = {}
    img = docs / "img"
    if balance_figure(agg, img / "bench_modality_balance.png"):
        figures["bench_modality_balance.png"] = ("Modality balance of the diffusion features with masking "
                                                 "off, fixed and adaptive (mean ± std over seeds)")
    for key, label in (("mask_off", "masking off"), ("bdgf", "adaptive masking (full BDGF)")):
        if results.get(key):
            s = sorted(results[key], key=int)[0]
            src = work / "runs" / key / f"seed_{s}" / "modality_balance.png"
            if src.is_file():
                name = f"modality_balance_{key}_seed{s}.png"
                img.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, img / name)
                figures[name] = f"training.run's modality-balance figure, {label}, seed {s}"

    notes += [
        "Model selection (training.run): the epoch with the best validation OA (the first of ties) on 20 % "
        "of the training pixels; the selected epochs are listed per run. Validation pixels come from the "
        "same pure-pixel blobs as the training pixels, so validation OA saturates near 100 % and is a weak "
        "selector.",
        "The SVM is deterministic given its CV folds; its seed only changes the fold shuffling. RF seeds "
        "change the forest. BDGF seeds change network initialisation, DDPM pre-training, the validation "
        "split and the batch order; the scene and the train / test pixels are fixed.",
        "The inference figures use the CPU (engine.bench.run_child) even with --gpu.",
    ]
    total = time.perf_counter() - t_start
    load_end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rendered = None
    if args.report_only:
        rendered = {"command": command, "at": started}
        command, started = state["command"], state["started"]
        total = state.get("last_epoch", state["start_epoch"]) - state["start_epoch"]
        code, load_start, load_end = state["code"], state["load_start"], state.get("load_last", "?")
        for per_seed in results.values():
            for r in per_seed.values():
                r["cached"] = False
    data = {
        "command": command, "started": started, "total_s": total, "report_rendered": rendered,
        "settings": dataclasses.asdict(st), "machine": machine_info(), "code": code, "load_start": load_start,
        "load_end": load_end,
        "scene": {k: scene[k] for k in ("config", "meta")},
        "results": results, "aggregate": agg, "claims": evaluate_claims(agg), "inference": inference,
        "not_run": not_run, "not_run_reason": "report-only" if args.report_only else "--max-minutes reached",
        "reductions": args.reductions, "test_pixels_match": test_pixels_match, "notes": notes,
        "figures": figures,
        "cached_runs": any(r.get("cached") for v in results.values() for r in v.values()),
    }
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "benchmarks.json").write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    write_report(docs, data)
    log(f"done in {(time.perf_counter() - t_start) / 60:.1f} min: {docs / 'BENCHMARKS.md'}, "
        f"{docs / 'benchmarks.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
