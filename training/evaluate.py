"""Stage 5: evaluation on the test labels -> metrics.json, report.md and the PNG figures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.accuracy.metrics import ConfusionMatrix
from engine.model.tiling import round_up
from engine.nn.balance import contribution_shares, feature_change
from engine.noise import position_noise
from training.checkpoint import atomic_write, atomic_write_json
from training.context import RunContext
from training.prepare import Prepared
from training.stage_ddpm import as_tensor

FIGURES = ("confusion_matrix.png", "prediction_map.png", "training_curves.png", "tsne_features.png",
           "modality_balance.png", "masking_controller.png")


def evaluation_pixels(prep: Prepared, stride: int, max_test: int = 0,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(flat indices to predict, the test pixels evaluated as an (H, W) mask).

    Every test pixel is evaluated unless `max_test` > 0 caps them with a seeded random sample (a dense
    test raster of a 100,000-pixel scene would cost more to predict than training the classifier; 10,000
    sampled pixels give OA with a standard error below 0.5 points); the map figure takes the valid
    pixels on a `stride` grid (1 = every valid pixel).
    """
    tested = prep.test >= 0
    if max_test > 0 and tested.sum() > max_test:
        flat = np.flatnonzero(tested.ravel())
        keep = np.random.default_rng([seed, 23]).choice(flat, max_test, replace=False)
        tested = np.zeros_like(tested)
        tested.ravel()[keep] = True
    grid = np.zeros_like(prep.valid)
    grid[::max(1, stride), ::max(1, stride)] = True
    predict = (prep.valid & grid) | (prep.valid & tested)
    return np.flatnonzero(predict.ravel()), tested


def fill_strided(pred_map: np.ndarray, valid: np.ndarray, stride: int) -> np.ndarray:
    """The map figure from a strided prediction: each valid pixel takes its grid cell's class."""
    if stride <= 1:
        return pred_map
    rows = np.minimum(np.arange(pred_map.shape[0]) // stride * stride, pred_map.shape[0] - 1)
    cols = np.minimum(np.arange(pred_map.shape[1]) // stride * stride, pred_map.shape[1] - 1)
    return np.where(valid, pred_map[np.ix_(rows, cols)], -1).astype(pred_map.dtype)


def test_metrics(prep: Prepared, pred_map: np.ndarray, evaluated: np.ndarray | None = None) -> dict:
    """Metrics of the predicted class indices (H, W; -1 = nodata) on the test pixels (`evaluated`: the
    sampled ones, default all), with the coverage: test pixels the model left unclassified (nodata) are
    counted (`coverage`, `oa_all_reference`)."""
    values = [c.value for c in prep.classes]
    lut = np.array(values + [0])  # index -1 -> 0 (unclassified)
    sel = prep.test >= 0 if evaluated is None else evaluated
    ref = lut[prep.test[sel]]
    pred = lut[pred_map[sel]]
    metrics = ConfusionMatrix(values).update(ref, pred).metrics()
    out = metrics.to_dict([c.name for c in prep.classes])
    counts = np.bincount(prep.test[sel], minlength=len(values))
    out["majority_baseline_oa"] = float(counts.max() / max(counts.sum(), 1))
    out["test_pixels_evaluated"], out["test_pixels_total"] = int(sel.sum()), int((prep.test >= 0).sum())
    out["markdown"] = metrics.to_markdown([c.name for c in prep.classes])
    return out


def branch_oa(prep: Prepared, flat: np.ndarray, branch_probs: np.ndarray, names: list[str],
              evaluated: np.ndarray | None = None) -> dict[str, float]:
    """{branch: test OA of its softmax alone} (branch_probs (N, n_branches, n_classes) at the pixels
    `flat`), as `test_metrics` computes the fused OA: which branch carries the fusion, which drags it."""
    out = {}
    for i, name in enumerate(names):
        pred_map = np.full(prep.valid.shape, -1, np.int16)
        pred_map.ravel()[flat] = branch_probs[:, i].argmax(1)
        out[name] = test_metrics(prep, pred_map, evaluated)["oa"]
    return out


@torch.no_grad()
def modality_balance(ctx: RunContext, extractor, prep: Prepared, noise_seed: int,
                     max_side: int = 96) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """({modality: {level: relative feature change}}, {modality: share of the features}) on a central crop,
    with engine.nn.balance, the measure the masking controller steers by (each modality's content
    swapped for its content elsewhere; shares over all levels together)."""
    _, h, w = prep.x.shape
    ch, cw = min(h, max_side), min(w, max_side)
    r0, c0 = (h - ch) // 2, (w - cw) // 2
    ph, pw = round_up(ch, extractor.stride()) - ch, round_up(cw, extractor.stride()) - cw  # UNet needs it
    x = np.pad(prep.x[None, :, r0:r0 + ch, c0:c0 + cw], ((0, 0), (0, 0), (0, ph), (0, pw)))
    valid = np.pad(prep.valid[None, r0:r0 + ch, c0:c0 + cw], ((0, 0), (0, ph), (0, pw)))
    noise = position_noise(noise_seed, prep.window[0] + r0, prep.window[1] + c0, ch + ph, cw + pw,
                           x.shape[1], len(extractor.timesteps), torch.get_num_threads())
    extractor.to(ctx.device).eval()
    change = feature_change(extractor, as_tensor(np.ascontiguousarray(x), ctx.device),
                            as_tensor(noise, ctx.device), prep.modality_channels,
                            torch.from_numpy(np.ascontiguousarray(valid)).to(ctx.device))
    names = ["fine", "mid", "coarse"][:change.shape[1] - 1]
    mods = [m["name"] for m in prep.modalities]
    levels = {mod: {name: float(change[i, j]) for j, name in enumerate(names)} for i, mod in enumerate(mods)}
    shares = contribution_shares(change[:, -1])
    return levels, {mod: float(shares[i]) for i, mod in enumerate(mods)}


def tsne_points(feats_px: np.ndarray, labels: np.ndarray, n_max: int, seed: int):
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    sel = rng.permutation(len(labels))[:n_max]
    data, lab = feats_px[sel].astype(np.float32), labels[sel]
    data = (data - data.mean(0)) / (data.std(0) + 1e-6)
    perplexity = float(min(30.0, max(2.0, (len(lab) - 1) / 4)))
    emb = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, max_iter=500).fit_transform(data)
    return emb, lab


def masking_summary(masking, history: list[dict]) -> dict:
    """The controller over pre-training (from the DDPM's loss history) and its final state."""
    rs = [r["structure_ratio"] for r in history if "structure_ratio" in r]
    pm = [r["sample_ratio"] for r in history if "sample_ratio" in r]
    floor_rs, floor_pm = masking.floor_ratios()
    return {
        "mode": masking.cfg.mode, "target_share": masking.target_share(), "final_factor": masking.factor(),
        "final_spectral_share": masking.share,
        "mean_structure_ratio": float(np.mean(rs)) if rs else None,
        "mean_sample_ratio": float(np.mean(pm)) if pm else None,
        "floor_structure_ratio": floor_rs, "floor_sample_ratio": floor_pm,
        "history": [{k: r.get(k) for k in ("step", "spectral_share", "structure_ratio", "sample_ratio")}
                    for r in history],
    }


def write_report(out_dir: Path, name: str, metrics: dict, balance: dict, selection: dict, summary: dict,
                 timings: dict, extra: list[str] | None = None, shares: dict | None = None,
                 masking: dict | None = None) -> None:
    mods = list(balance)
    lines = [f"# BDGF training report: {name}", "",
             f"Test OA **{100 * metrics['oa']:.2f} %** over the classified test pixels, AA "
             f"{100 * metrics['aa']:.2f} %, Kappa {metrics['kappa']:.4f}; majority-class baseline OA "
             f"{100 * metrics['majority_baseline_oa']:.2f} %.",
             f"Coverage {_pct(metrics['coverage'])} of the test pixels classified; OA over all test pixels "
             f"(unclassified = wrong) {_pct(metrics['oa_all_reference'])}.",
             (f"Metrics on a seeded random sample of {metrics['test_pixels_evaluated']} of the "
              f"{metrics['test_pixels_total']} test pixels." if metrics.get("test_pixels_evaluated", 0)
              < metrics.get("test_pixels_total", 0) else f"Metrics on all {metrics.get('test_pixels_total')} "
              "test pixels."),
             f"Model selected at epoch {selection['epoch']} "
             f"(validation OA {100 * selection['val_oa']:.2f} %).",
             *([("Each branch alone (its softmax without the fusion): " + ", ".join(
                 f"{b} {100 * v:.2f} %" for b, v in metrics["branch_oa"].items()) + ".")]
               if metrics.get("branch_oa") else []),
             "", "## Accuracy (test pixels)", "", metrics["markdown"], "## Modality balance", "",
             "Relative change of the diffusion features when a modality's content is swapped for its "
             "content elsewhere (engine.nn.balance):", "",
             "| modality | " + " | ".join(next(iter(balance.values()))) + " |",
             "|---|" + "---:|" * len(next(iter(balance.values())))]
    for m in mods:
        lines.append(f"| {m} | " + " | ".join(f"{v:.3f}" for v in balance[m].values()) + " |")
    if shares:
        lines += ["", "Share of the features each modality drives (all levels; the measure the masking "
                  "controller steers by): " + ", ".join(f"{m} {v:.3f}" for m, v in shares.items()) + "."]
    if masking:
        def num(v):
            return "–" if v is None else f"{v:.3f}"
        lines += ["", "## Modality masking", "",
                  f"Mode {masking['mode']}; target spectral share {num(masking['target_share'])}; final "
                  f"measured share {num(masking['final_spectral_share'])}; final factor "
                  f"{num(masking['final_factor'])}; mean r_s over pre-training "
                  f"{num(masking['mean_structure_ratio'])} (floor {num(masking['floor_structure_ratio'])}), "
                  f"mean p_m {num(masking['mean_sample_ratio'])}. Curve: masking_controller.png."]
    lines += ["", "## Data", ""] + [f"- {k}: {json.dumps(v)}" for k, v in summary.items()]
    lines += ["", "## Timings (s)", ""]
    lines += [f"- {k}: {v:.1f}" for k, v in timings.items()]
    lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in FIGURES]
    if extra:
        lines += ["", *extra]
    atomic_write(out_dir / "report.md", ("\n".join(lines) + "\n").encode("utf-8"))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def write_metrics(out_dir: Path, metrics: dict, extra: dict) -> None:
    atomic_write_json(out_dir / "metrics.json", {**{k: v for k, v in metrics.items() if k != "markdown"},
                                                 **extra})
