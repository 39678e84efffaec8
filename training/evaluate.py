"""Stage 5: evaluation on the test labels -> metrics.json, report.md and the PNG figures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.metrics import compute_metrics, confusion_matrix
from training.checkpoint import atomic_write, atomic_write_json
from training.context import RunContext
from training.prepare import Prepared
from training.stage_features import compute_features

FIGURES = ("confusion_matrix.png", "prediction_map.png", "training_curves.png", "tsne_features.png",
           "modality_balance.png")


def test_metrics(prep: Prepared, pred_map: np.ndarray) -> dict:
    """Metrics of the predicted class indices (H, W; -1 = nodata) on the test pixels."""
    values = [c.value for c in prep.classes]
    lut = np.array(values + [0])  # index -1 -> 0 (unclassified)
    sel = prep.test >= 0
    ref = lut[prep.test[sel]]
    pred = lut[pred_map[sel]]
    metrics = compute_metrics(confusion_matrix(ref, pred, values), values)
    out = metrics.to_dict([c.name for c in prep.classes])
    counts = np.bincount(prep.test[sel], minlength=len(values))
    out["majority_baseline_oa"] = float(counts.max() / max(counts.sum(), 1))
    out["markdown"] = metrics.to_markdown([c.name for c in prep.classes])
    return out


@torch.no_grad()
def modality_balance(ctx: RunContext, extractor, prep: Prepared, patch: int, tile: int, halo: int,
                     noise_seed: int, max_side: int = 96) -> dict[str, dict[str, float]]:
    """Relative change ||f - f_m|| / ||f|| of each feature level over valid pixels of a central crop when
    modality m is replaced by its normalised mean (per channel, over valid pixels)."""
    _, h, w = prep.x.shape
    ch, cw = min(h, max_side), min(w, max_side)
    r0, c0 = (h - ch) // 2, (w - cw) // 2
    x = prep.x[:, r0:r0 + ch, c0:c0 + cw]
    valid = prep.valid[r0:r0 + ch, c0:c0 + cw]
    window = (prep.window[0] + r0, prep.window[1] + c0, ch, cw)
    r = patch // 2

    def feats(arr):
        f = compute_features(ctx, extractor, arr, window, patch, tile, halo, noise_seed,
                             desc="modality balance")
        return f[:, r:r + ch, r:r + cw].astype(np.float32)[:, valid]

    base = feats(x)
    levels = extractor.feature_channels()
    names = ["fine", "mid", "coarse"][:len(levels)]
    bounds = np.cumsum([0] + list(levels))
    out, start = {}, 0
    for mod, n in zip(prep.modalities, prep.modality_channels):
        zeroed = x.copy()
        means = x[start:start + n][:, valid].mean(axis=1)
        zeroed[start:start + n] = np.where(valid, means[:, None, None], 0.0)
        changed = feats(zeroed)
        out[mod["name"]] = {
            name: float(np.linalg.norm(changed[a:b] - base[a:b]) / max(np.linalg.norm(base[a:b]), 1e-12))
            for name, a, b in zip(names, bounds[:-1], bounds[1:])}
        start += n
    return out


def tsne_points(feats_px: np.ndarray, labels: np.ndarray, n_max: int, seed: int):
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    sel = rng.permutation(len(labels))[:n_max]
    data, lab = feats_px[sel].astype(np.float32), labels[sel]
    data = (data - data.mean(0)) / (data.std(0) + 1e-6)
    perplexity = float(min(30.0, max(2.0, (len(lab) - 1) / 4)))
    emb = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, max_iter=500).fit_transform(data)
    return emb, lab


def write_report(out_dir: Path, name: str, metrics: dict, balance: dict, selection: dict, summary: dict,
                 timings: dict, extra: list[str] | None = None) -> None:
    mods = list(balance)
    lines = [f"# BDGF training report: {name}", "",
             f"Test OA **{100 * metrics['oa']:.2f} %**, AA {100 * metrics['aa']:.2f} %, "
             f"Kappa {metrics['kappa']:.4f}; majority-class baseline OA "
             f"{100 * metrics['majority_baseline_oa']:.2f} %.",
             f"Model selected at epoch {selection['epoch']} "
             f"(validation OA {100 * selection['val_oa']:.2f} %).",
             "", "## Accuracy (test pixels)", "", metrics["markdown"], "## Modality balance", "",
             "Relative change of the diffusion features when a modality is replaced by its mean:", "",
             "| modality | " + " | ".join(next(iter(balance.values()))) + " |",
             "|---|" + "---:|" * len(next(iter(balance.values())))]
    for m in mods:
        lines.append(f"| {m} | " + " | ".join(f"{v:.3f}" for v in balance[m].values()) + " |")
    lines += ["", "## Data", ""] + [f"- {k}: {json.dumps(v)}" for k, v in summary.items()]
    lines += ["", "## Timings (s)", ""]
    lines += [f"- {k}: {v:.1f}" for k, v in timings.items()]
    lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in FIGURES]
    if extra:
        lines += ["", *extra]
    atomic_write(out_dir / "report.md", ("\n".join(lines) + "\n").encode("utf-8"))


def write_metrics(out_dir: Path, metrics: dict, extra: dict) -> None:
    atomic_write_json(out_dir / "metrics.json", {**{k: v for k, v in metrics.items() if k != "markdown"},
                                                 **extra})
