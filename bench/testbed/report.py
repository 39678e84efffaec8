"""The testbed benchmark's Markdown page (the body under the title and stamp), rendered from its JSON."""
from __future__ import annotations

import json

import numpy as np

from bench.inference import backend_table
from bench.report import md_table, ratio
from bench.testbed.rows import ROW_BY_KEY
from bench.testbed.runs import networks_line

TITLE = "Benchmarks: BDGF ablations and baselines on the synthetic testbed"


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


def pm(stat: dict | None, scale: float = 100.0, digits: int = 2) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    return f"{scale * stat['mean']:.{digits}f} ± {scale * stat['std']:.{digits}f}"


def _intro(data: dict) -> list[str]:
    lines = [
        f"Total runtime **{data['total_s'] / 60:.1f} min**"
        + (" (finished runs reused from an earlier invocation: see the per-run table)" if data["cached_runs"]
           else "") + ". Nothing below is edited by hand."
        + (f" This page was re-rendered from the finished runs by `{data['report_rendered']['command']}` on "
           f"{data['report_rendered']['at']} (the runtime above is up to the last finished run)."
           if data.get("report_rendered") else ""), "",
        "**Read this first.** The testbed is a procedural scene (`training.synthetic`), built so that "
        "some class pairs are separable only by the auxiliary modalities (trees / grass and roof / "
        "paved ground share one material spectrum; height and SAR separate them) and one pair only by "
        "the spectra (bare soil / sand). Accuracies here measure the method's mechanics at a small CPU "
        "budget; they say nothing about Augsburg, Berlin or Houston, and the network and training budget "
        "are far below the paper's.", ""]
    return lines + incomplete_lines(data)


def incomplete_lines(data: dict) -> list[str]:
    """What did not run, and reductions against the planned configuration (both testbeds' reports)."""
    lines = []
    if data.get("not_run"):
        lines += ["**Incomplete / reduced:** the following runs did not run "
                  f"({data.get('not_run_reason', 'time budget')}): "
                  + ", ".join(f"`{r}` seed {s}" for r, s in data["not_run"]) + ".", ""]
    if data.get("reductions"):
        lines += ["**Reductions against the planned configuration:** " + data["reductions"], ""]
    return lines


def _setup(data: dict) -> list[str]:
    st, meta, m = data["settings"], data["scene"]["meta"], data["stamp"].get("machine", {})
    return [
        "## Setup", "",
        f"- Training runs use {st['threads'] or m.get('torch_threads', '?')} torch thread(s) each; load "
        f"average at start / end: {data['load_start']} / {data['load_end']} (the CPU was shared with other "
        "work; wall times include that contention).",
        f"- Scene: {meta['shape'][0]} × {meta['shape'][1]} px, {len(meta['wavelengths_nm'])} HSI bands + "
        f"SAR (4) + nDSM (1), {len(meta['classes'])} classes, scene seed {st['scene_seed']}; "
        f"{meta['train_pixels']} training pixels (sparse blobs; 20 % of them held out for model selection), "
        f"{meta['test_pixels']} test pixels.",
        f"- BDGF: `training.run --preset {st['preset']}` with the `[training]` overrides "
        f"`{json.dumps(st['training'])}`, device {st['device']}; seeds {', '.join(map(str, st['seeds']))}.",
        networks_line(data["results"]),
        "- Rows marked *shared DDPM* reuse the full model's DDPM of the same seed (a copy of its finished "
        "checkpoint; the DDPM training is deterministic per seed on CPU, so this only saves time) and its "
        "cached diffusion features; the masking rows pre-train their own DDPM. *Masking adaptive* is the "
        "full BDGF row.",
        f"- Cross-model: the DDPM of a `training.run` on a **different scene** (layout seed "
        f"{st['cross_scene_seed']}, same sensors; DDPM seed 0; its classifier is not used) is plugged in "
        "with `--cross-model-ddpm`; the classifier (unchanged architecture) is trained on its features of "
        "this scene. The seed spread of that row covers the classifier only.",
        "- Baselines: `training.baselines` on the bands stacked with `engine.raster.read.read_aligned_stack` "
        "(SAR in dB), standardised on the training pixels; RF 300 trees; SVM RBF with C and gamma chosen by "
        "3-fold CV on the training pixels. Same train / test pixels as BDGF"
        + (" (test pixel counts match)." if data.get("test_pixels_match") else
           " (test pixel counts differ: see the notes)."),
        "- ± is the sample standard deviation over seeds (ddof = 1). Wall times are relative to the full "
        "BDGF row of the same run.", ""]


def _accuracy(data: dict, rows) -> list[str]:
    agg = data["aggregate"]
    base = ((agg.get("bdgf") or {}).get("wall_s") or {}).get("mean")
    table = []
    for r in rows:
        a = agg.get(r.key)
        tag = {"shared": " *(shared DDPM)*", "cross": "", "own": ""}[r.ddpm] if r.kind == "bdgf" else ""
        if a is None:
            table.append([f"{r.label}{tag}", "not run", "", "", 0, "", ""])
            continue
        wall = a["wall_s"]["mean"]
        table.append([f"{r.label}{tag}", pm(a["oa"]), pm(a["aa"]), pm(a["kappa"]), len(a["seeds"]),
                      "" if wall is None else f"{wall:.0f}", ratio(wall, base)])
    return ["## Accuracy (test pixels, %; Kappa × 100)", "",
            *md_table(["row", "OA", "AA", "Kappa", "seeds", "wall / run (s)", "wall vs BDGF full"], table,
                      "lrrrrrr")]


def _pairs(data: dict, rows) -> list[str]:
    agg, meta = data["aggregate"], data["scene"]["meta"]
    class_keys = [(kind, [c["name"] for c in meta["classes"] if c["value"] in (a, b)])
                  for kind in ("aux_only", "spectral_only") for a, b in meta.get(f"{kind}_pairs", [])]
    if not class_keys:
        return []
    pair_labels = [" / ".join(n) for _, n in class_keys]
    header = ["row", *(n for _, names in class_keys for n in names),
              *(f"confusion {p} ({k.replace('_', '-')})" for p, (k, _) in zip(pair_labels, class_keys))]
    table = []
    for r in rows:
        a = agg.get(r.key)
        if a is not None:
            table.append([r.key,
                          *(pm(a["per_class"].get(n), digits=1) for _, names in class_keys for n in names),
                          *(pm(a["pair_confusion"].get(p), digits=1) for p in pair_labels)])
    return ["", "## Class pairs: per-class accuracy (producer's, %) and pair confusion", "",
            "Pair confusion = share of the pair's test pixels predicted as the *other* class of the "
            "pair (lower is better). Aux-only pairs can only be separated with SAR / nDSM: they show "
            "whether fusion works; the spectral-only pair shows that the spectra are still used.", "",
            *md_table(header, table, "l" + "r" * (len(header) - 1))]


def _balance(data: dict) -> list[str]:
    agg = data["aggregate"]
    bal_rows = [k for k in ("mask_off", "mask_fixed", "bdgf") if "modality_balance" in agg.get(k, {})]
    if not bal_rows:
        return []
    mods = list(agg[bal_rows[0]]["modality_balance"])
    table = []
    for k in bal_rows:
        b = agg[k]["modality_balance"]
        dm = agg[k].get("ddpm_masking") or {}

        def mask_ratio(key: str, dm=dm) -> str:
            return "–" if key not in dm else f"{dm[key]['mean']:.3f} ({dm['mean_' + key]['mean']:.3f})"

        table.append([ROW_BY_KEY[k].label.split(" (")[0],
                      *(f"{np.mean([b[mod][lvl]['mean'] for lvl in b[mod]]):.3f}" for mod in mods),
                      pm(agg[k]["spectral_share"], 1.0, 3), pm(agg[k]["balance_index"], 1.0, 3),
                      pm(dm.get("imbalance"), 1.0, 3), mask_ratio("structure_ratio"),
                      mask_ratio("sample_ratio")])
    lines = ["", "## Modality balance of the diffusion features", "",
             "Relative change ‖f − f_m‖ / ‖f‖ of the diffusion features (mean over the fine / mid / "
             "coarse levels, then over seeds) when modality m is replaced by its mean "
             "(training.evaluate.modality_balance). *Spectral share* = the spectral modality's change / "
             "the sum over modalities: a spectral-dominated DDPM has a high share (1/M would be equal "
             "shares for M modalities). *Balance index* = normalised entropy of the modality shares "
             "(1 = all modalities change the features equally). ρ = the masking "
             "controller's imbalance signal at the end of pre-training (mean auxiliary denoising loss / "
             "spectral loss; > 1 would mean spectral dominance); r_s / p_m = structure / sample mask "
             "ratios at the end (mean over pre-training in brackets).", "",
             *md_table(["DDPM", *mods, "spectral share", "balance index", "ρ", "r_s", "p_m"], table,
                       "l" + "r" * (len(mods) + 5)),
             "", *balance_reading(agg, len(mods))]
    for name, desc in data.get("figures", {}).items():
        lines += ["", f"![{desc}](img/{name})", "", f"*{desc}*"]
    return lines


def _inference(data: dict) -> list[str]:
    inf, meta = data.get("inference"), data["scene"]["meta"]
    if not inf:
        return []
    return ["", "## Inference (bench.inference, CPU)", "",
            "Full-scene classification of the benchmark scene "
            f"({meta['shape'][0]} × {meta['shape'][1]} px) with the full BDGF model of seed "
            f"{inf['seed']} (`{inf['model']}`), each run in a fresh process (bench.inference.run_child; "
            f"includes model loading); {inf.get('repeats', 1)} runs per backend, interleaved; the "
            "median run is shown (all times in the JSON). *Speed vs eager* = PyTorch eager's seconds / the "
            "backend's, both measured in this run. Short runs on a shared CPU are noisy.", "",
            *backend_table(inf), "",
            f"ONNX Runtime / PyTorch eager speed ratio {inf['speedup_onnx_vs_torch']:.2f}; the two class "
            f"maps agree on {100 * inf['class_map_agreement']:.3f} % of the pixels. For an Augsburg-size "
            "scene see `python -m bench.inference` (inference.md next to this page, from `make bench`)."]


def _claims(data: dict) -> list[str]:
    lines = ["", "## What the testbed says about the method's claims", "",
             "Automatic comparisons (metric named in brackets; Δ in points for OA / AA / confusion; "
             "*clear* = |Δ| > 2 standard errors over seeds, a rough rule with 3 seeds):", ""]
    for c in data.get("claims", []):
        if c.get("delta") is None:
            lines.append(f"- {c['claim']}: not measured ({c.get('why', 'rows missing')}).")
            continue
        plain = c["metric"] in ("spectral_share", "balance_index")
        unit, scale = ("", 1.0) if plain else (" points", 100.0)  # OA and confusion shares in points
        lines.append(f"- {c['claim']}: **{c['holds']}** — `{c['a']}` − `{c['b']}` = "
                     f"{scale * c['delta']:+.3g}{unit} ({c['metric']}, SE {scale * c['se']:.2g}; "
                     f"{c['verdict']}).")
    return lines


def _per_run(data: dict) -> list[str]:
    table = []
    for key in data["settings"]["rows"]:
        for s, r in sorted(data["results"].get(key, {}).items(), key=lambda kv: int(kv[0])):
            sel = r.get("selection") or {}
            sel_txt = "" if sel.get("val_oa") is None else f"{sel.get('epoch')} ({100 * sel['val_oa']:.1f})"
            cpu = r.get("cpu_s")
            table.append([key, s, f"{100 * r['oa']:.2f}", sel_txt, f"{r.get('wall_s', 0):.0f}",
                          "" if cpu is None else f"{cpu:.0f}", "yes" if r.get("cached") else ""])
    return ["", "## Per run", "",
            *md_table(["row", "seed", "OA", "selected epoch (val OA)", "wall (s)", "CPU (s)", "reused"],
                      table, "lrrrrrl")]


def render(data: dict) -> list[str]:
    """The page body (bench.report.write_results puts the title and the stamp above it)."""
    rows = [ROW_BY_KEY[k] for k in data["settings"]["rows"]]
    return [*_intro(data), *_setup(data), *_accuracy(data, rows), *_pairs(data, rows), *_balance(data),
            *_inference(data), *_claims(data), *_per_run(data),
            "", "## Notes", "", *(f"- {n}" for n in data.get("notes", []))]
