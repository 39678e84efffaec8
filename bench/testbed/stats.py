"""Statistics of the testbed benchmark: mean ± std over seeds, pair confusion, modality balance, the
2-standard-error comparison of two rows and the method claims it is applied to."""
from __future__ import annotations

import numpy as np

LEVELS = ("fine", "mid", "coarse")


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


def _ordered(balance: dict, modalities: list[str]) -> dict:
    """modality_balance with modalities in model order (spectral first) and levels fine, mid, coarse."""
    mods = [m for m in modalities if m in balance] + [m for m in balance if m not in modalities]
    return {m: {lv: balance[m][lv] for lv in [*[x for x in LEVELS if x in balance[m]],
                                              *[x for x in balance[m] if x not in LEVELS]]} for m in mods}


def _pairs(row: dict, per_seed: dict, seeds: list, scene_meta: dict) -> None:
    values = [c["value"] for c in scene_meta["classes"]]
    names = {c["value"]: c["name"] for c in scene_meta["classes"]}
    row["pair_confusion"] = {}
    aux_conf = []
    for kind in ("aux_only", "spectral_only"):
        for a, b in scene_meta.get(f"{kind}_pairs", []):
            ia, ib = values.index(a), values.index(b)
            shares = [pair_confusion(np.asarray(per_seed[s]["confusion_matrix"]), ia, ib) for s in seeds]
            row["pair_confusion"][f"{names[a]} / {names[b]}"] = {"kind": kind, **mean_std(shares)}
            if kind == "aux_only":
                aux_conf.append(shares)
    if aux_conf:  # per seed: mean over the aux-only pairs
        row["aux_pair_confusion"] = mean_std([float(np.mean(v)) for v in zip(*aux_conf)])


def aggregate(results: dict, scene_meta: dict, modalities: list[str]) -> dict:
    """Per row: mean ± std (sample std, ddof=1) over seeds of OA/AA/Kappa, per-class accuracy, pair
    confusion, modality balance and the DDPM's masking state. modalities: names in model order, the
    spectral modality first (metrics.json sorts its keys)."""
    values = [c["value"] for c in scene_meta["classes"]]
    names = {c["value"]: c["name"] for c in scene_meta["classes"]}
    out = {}
    for key, per_seed in results.items():
        if not per_seed:
            continue
        seeds = sorted(per_seed, key=int)
        row = {"seeds": [int(s) for s in seeds]}
        for metric in ("oa", "aa", "kappa"):
            row[metric] = mean_std([per_seed[s][metric] for s in seeds])
        row["per_class"] = {
            names[v]: mean_std([per_seed[s]["classes"][i]["producers_accuracy"] for s in seeds])
            for i, v in enumerate(values)}
        _pairs(row, per_seed, seeds, scene_meta)
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
