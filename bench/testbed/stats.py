"""Statistics of the testbed benchmark: mean ± std over seeds, pair confusion, modality balance, the
2-standard-error comparison of two rows and the method claims it is applied to (easy testbed), and the
paired seed-bootstrap comparison of every row with full BDGF (hard testbed: `paired_analysis`)."""
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
    ("BDGF beats the spatial-spectral SVM", "bdgf", "svm_spatial", "oa", 1),
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


# ---- paired comparisons with a seed bootstrap (hard testbed) ---------------------------------------------

REFERENCE = "bdgf"
BOOTSTRAP = {"resamples": 10_000, "level": 0.95, "rng_seed": 11, "method":
             "percentile interval of the mean paired difference; seeds resampled with replacement"}
VERDICTS = {"ablation": ("helps", "hurts", "no effect"),
            "baseline": ("BDGF better", "BDGF worse", "no difference")}
MIN_SEEDS = 3  # fewer paired seeds decide nothing (with 2 the interval is just [min, max] of the two)
UNDECIDED = f"undecided (fewer than {MIN_SEEDS} seeds)"
# "Spectral-dominated": the spectral share of the masking-off DDPM is at least this many times the even
# share 1/M, with the whole bootstrap interval above it (1.5 with M = 3: the spectral image moves the
# features at least as much as all auxiliaries together).
DOMINANCE_FACTOR = 1.5


def bootstrap_ci(values, resamples: int = BOOTSTRAP["resamples"], level: float = BOOTSTRAP["level"],
                 rng_seed: int = BOOTSTRAP["rng_seed"]) -> dict:
    """Mean of `values` (one per seed) and its percentile bootstrap interval: `resamples` resamples of the
    seeds with replacement, a fixed RNG seed (the same numbers give the same interval). The interval is
    clipped to [min, max] of the values, where every resampled mean lies (a constant gives exactly it)."""
    v = np.asarray([x for x in values if x is not None], float)
    if not len(v):
        return {"mean": None, "lo": None, "hi": None, "n": 0, "values": []}
    rng = np.random.default_rng(rng_seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return {"mean": float(np.clip(v.mean(), v.min(), v.max())), "lo": float(max(lo, v.min())),
            "hi": float(min(hi, v.max())),
            "n": int(len(v)), "values": v.tolist()}


def t_interval(values, level: float = BOOTSTRAP["level"]) -> dict:
    """Student-t interval of the mean (the cross-check of the bootstrap interval: with 5 seeds and
    normal noise the percentile bootstrap excludes a true 0 in ~14 % of cases, the t interval in ~5 %)."""
    from scipy import stats as sps

    v = np.asarray([x for x in values if x is not None], float)
    if len(v) < 2:
        return {"lo": None, "hi": None, "n": int(len(v))}
    half = float(sps.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return {"lo": float(v.mean() - half), "hi": float(v.mean() + half), "n": int(len(v))}


def verdict(ci: dict, kind: str) -> str:
    """From the interval of full BDGF − row: ablation rows (a component removed) "helps" (the interval
    lies above 0: the component helps), "hurts" (below 0) or "no effect"; baseline rows "BDGF better",
    "BDGF worse" or "no difference"."""
    above, below, neither = VERDICTS[kind]
    if ci.get("n", 0) < MIN_SEEDS:
        return UNDECIDED
    if ci["lo"] > 0:
        return above
    if ci["hi"] < 0:
        return below
    return neither


def paired_differences(results: dict, row: str, metric: str, reference: str = REFERENCE) -> tuple[list, list]:
    """(seeds, reference − row per seed) over the seeds both rows finished."""
    ref, other = results.get(reference, {}), results.get(row, {})
    seeds = sorted(set(ref) & set(other), key=int)
    return [int(s) for s in seeds], [ref[s][metric] - other[s][metric] for s in seeds]


def _share_per_seed(per_seed: dict, spectral: str) -> dict:
    """The spectral share per seed: metrics.json `modality_shares` (engine.nn.balance over all levels,
    what the masking controller steers by); older runs without it: the levels-averaged balance."""
    out = {}
    for s, r in per_seed.items():
        if spectral in (r.get("modality_shares") or {}):
            out[s] = float(r["modality_shares"][spectral])
        elif r.get("modality_balance") and spectral in r["modality_balance"]:
            out[s] = spectral_share(r["modality_balance"], spectral)
    return out


def _paired(a: dict, b: dict) -> tuple[list, list]:
    seeds = sorted(set(a) & set(b), key=int)
    return [int(s) for s in seeds], [a[s] - b[s] for s in seeds]


def masking_state(per_seed: dict) -> dict | None:
    """The DDPM controller's state (metrics.json `masking`) over seeds: mode, mean ± std of its figures,
    and the paired mean r_s − floor r_s with its interval; None when no run of the row recorded it."""
    states = {s: r["masking"] for s, r in per_seed.items() if r.get("masking")}
    if not states:
        return None
    seeds = sorted(states, key=int)
    out = {"seeds": [int(s) for s in seeds], "runs": len(per_seed),
           "mode": sorted({str(states[s].get("mode")) for s in seeds})}
    for key in ("target_share", "final_factor", "mean_structure_ratio", "mean_sample_ratio",
                "floor_structure_ratio"):
        out[key] = mean_std([states[s].get(key) for s in seeds])
    last = [(states[s].get("history") or [{}])[-1].get("spectral_share") for s in seeds]
    out["last_probe_share"] = mean_std(last)
    gaps = [states[s].get("mean_structure_ratio") - states[s].get("floor_structure_ratio") for s in seeds
            if states[s].get("mean_structure_ratio") is not None
            and states[s].get("floor_structure_ratio") is not None]
    out["structure_above_floor"] = bootstrap_ci(gaps)
    return out


def testbed_job(shares: dict, n_modalities: int) -> dict:
    """Is the hard testbed doing its job? Without masking the DDPM should be spectral-dominated: the
    interval of the masking-off spectral share above DOMINANCE_FACTOR / M."""
    even = 1.0 / n_modalities
    threshold = DOMINANCE_FACTOR * even
    ci = bootstrap_ci(list(shares.values()))
    out = {"modalities": n_modalities, "even_share": even, "threshold": threshold, "share": ci}
    if ci["n"] == 0:
        out.update(status="unknown", reason="no masking-off run with a modality balance")
    elif ci["n"] < MIN_SEEDS:
        out.update(status="unclear", reason=f"{ci['n']} seed(s): too few for an interval")
    elif ci["lo"] > threshold:
        out.update(status="yes", reason="the whole interval lies above the threshold")
    elif ci["hi"] < threshold:
        out.update(status="no", reason="the whole interval lies below the threshold")
    else:
        out.update(status="unclear", reason="the interval straddles the threshold")
    return out


def paired_analysis(results: dict, kinds: dict, modalities: list[str], reference: str = REFERENCE) -> dict:
    """Every row against full BDGF on the same seeds (same splits): per metric the mean ± std, the
    paired difference reference − row with its bootstrap interval and the verdict; the spectral share of
    the diffusion features (masking off vs adaptive / fixed, paired); the masking controller's state;
    whether the testbed is doing its job. kinds: row -> "bdgf" | "baseline"."""
    spectral = modalities[0]
    out = {"reference": reference, "bootstrap": dict(BOOTSTRAP), "metrics": {}}
    for metric in ("oa", "aa", "kappa"):
        table = {}
        for row, per_seed in results.items():
            if not per_seed:
                continue
            entry = {"stat": mean_std([per_seed[s][metric] for s in sorted(per_seed, key=int)])}
            if row != reference:
                kind = "baseline" if kinds.get(row) == "baseline" else "ablation"
                seeds, diffs = paired_differences(results, row, metric, reference)
                ci, tci = bootstrap_ci(diffs), t_interval(diffs)
                entry.update(kind=kind, seeds=seeds, diff=ci, verdict=verdict(ci, kind), t_ci=tci,
                             t_verdict=verdict(tci, kind) if tci["lo"] is not None else UNDECIDED)
            table[row] = entry
        out["metrics"][metric] = table
    shares = {row: _share_per_seed(per_seed, spectral) for row, per_seed in results.items() if per_seed}
    out["spectral_share"] = {
        "spectral": spectral, "modalities": list(modalities),
        "rows": {row: {"stat": mean_std(list(v.values())), "values": {s: v[s] for s in sorted(v, key=int)}}
                 for row, v in shares.items() if v},
        "paired": {}}
    for row in ("bdgf", "mask_fixed"):
        if shares.get(row) and shares.get("mask_off"):
            seeds, diffs = _paired(shares[row], shares["mask_off"])
            ci = bootstrap_ci(diffs)
            reading = ("lower" if ci["hi"] < 0 else "higher" if ci["lo"] > 0 else "no clear change") \
                if ci["n"] >= MIN_SEEDS else UNDECIDED
            out["spectral_share"]["paired"][f"{row} - mask_off"] = {"seeds": seeds, "diff": ci,
                                                                     "reading": reading}
    out["masking"] = {row: masking_state(results[row]) for row in ("mask_off", "mask_fixed", "bdgf")
                      if results.get(row)}
    out["job"] = testbed_job(shares.get("mask_off", {}), len(modalities))
    oa = out["metrics"]["oa"]
    out["separated_oa"] = sorted(r for r, e in oa.items() if e.get("verdict") not in
                                 (None, UNDECIDED, "no effect", "no difference"))
    return out
