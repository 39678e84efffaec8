"""The hard testbed's Markdown page (the body under the title and stamp), rendered from its JSON: is the
testbed doing its job, one table per metric with the paired difference to full BDGF, its bootstrap interval
and verdict, the spectral share of the diffusion features, the masking controller's state."""
from __future__ import annotations

import json

import numpy as np

from bench.report import md_table, ratio
from bench.testbed.report import _pairs, _per_run, incomplete_lines, pm
from bench.testbed.rows import ROW_BY_KEY
from bench.testbed.runs import networks_line
from bench.testbed.stats import MIN_SEEDS

TITLE_HARD = "Benchmarks: BDGF ablations and baselines on the hard synthetic testbed (balance matters)"
METRICS = (("oa", "Overall accuracy (OA, %)"), ("aa", "Average accuracy (AA, %)"),
           ("kappa", "Cohen's Kappa (× 100)"))


def signed(x: float | None, scale: float = 100.0, digits: int = 2) -> str:
    return "–" if x is None else f"{scale * x:+.{digits}f}"


def interval(ci: dict | None, scale: float = 100.0, digits: int = 2) -> str:
    if not ci or ci.get("lo") is None:
        return "–"
    return f"[{signed(ci['lo'], scale, digits)}, {signed(ci['hi'], scale, digits)}]"


def _boot_text(data: dict) -> str:
    b = data["paired"]["bootstrap"]
    return (f"{100 * b['level']:.0f} % bootstrap interval ({b['method']}; {b['resamples']:,} resamples, "
            f"RNG seed {b['rng_seed']})")


def _intro(data: dict) -> list[str]:
    lines = [
        f"Total runtime **{data['total_s'] / 60:.1f} min**"
        + (" (finished runs reused from an earlier invocation: see the per-run table)" if data["cached_runs"]
           else "") + ". Nothing below is edited by hand."
        + (f" This page was re-rendered from the finished runs by `{data['report_rendered']['command']}` on "
           f"{data['report_rendered']['at']}." if data.get("report_rendered") else ""), "",
        "**Read this first.** A procedural scene (`training.synthetic`) made so that modality balance "
        "matters: many spectral bands carry strong signal for most classes, a few auxiliary bands are the "
        "only signal for two class pairs (trees / grass, roof / paved ground), labels are few and the "
        "training, validation and test pixels lie in separate blocks. Every row is compared with full BDGF "
        "on the same seeds, and a seed fixes the split, so the differences are paired. Accuracies say "
        "nothing about real data sets; the network and budget are far below the paper's.", ""]
    return lines + incomplete_lines(data)


def job_lines(paired: dict) -> list[str]:
    """"Is the testbed doing its job?", from the masking-off spectral share (stats.testbed_job)."""
    job = paired["job"]
    ci, even, thr, m = job["share"], job["even_share"], job["threshold"], job["modalities"]
    lines = ["## Is the testbed doing its job?", ""]
    if ci["n"] == 0:
        return lines + ["**Cannot say:** no masking-off run with a modality balance finished, so it is not "
                        "known whether the DDPM is spectral-dominated without masking. Run the `mask_off` "
                        "row.", ""]
    measured = (f"Without masking, the spectral modality drives **{ci['mean']:.3f}** of the diffusion "
                f"features' change (mean over {ci['n']} seed(s)"
                + (f"; {interval(ci, 1.0, 3)}" if ci["n"] >= MIN_SEEDS else "")
                + f"). An even share would be 1/M = {even:.3f} (M = {m} modalities); *spectral-dominated* "
                f"here means the whole interval above {thr / even:.1f}/M = {thr:.3f}.")
    if job["status"] == "yes":
        lines.append(f"**Yes.** {measured} Masking has something to correct on this testbed.")
    elif job["status"] == "no":
        lines.append(f"**No: the testbed is not doing its job.** {measured} The masking-off DDPM is not "
                     "spectral-dominated"
                     + (" (the auxiliaries dominate it: the whole interval lies below 1/M)"
                        if ci["hi"] < even else "")
                     + ", so there is no spectral dominance for masking to correct and the masking rows "
                     "cannot show what balancing does.")
    else:
        lines.append(f"**Not shown: the testbed is not (yet) shown to do its job** ({job['reason']}). "
                     f"{measured}")
    oa = paired["metrics"].get("oa", {})
    decided = [r for r, e in oa.items()
               if r != paired["reference"] and e.get("diff", {}).get("n", 0) >= MIN_SEEDS]
    if decided:
        sep = paired.get("separated_oa", [])
        lines += ["", f"Rows separated from full BDGF in OA (interval excludes 0): **{len(sep)} of "
                      f"{len(decided)}**" + (f" ({', '.join(f'`{r}`' for r in sep)})." if sep else ".")]
    return lines + [""]


def _setup(data: dict) -> list[str]:
    st, meta, m = data["settings"], data["scene"]["meta"], data["stamp"].get("machine", {})
    split, training = st.get("split", {}), data.get("training_used", st["training"])
    aux = ", ".join(f"{k} bands {v}" for k, v in st.get("aux_bands", {}).items()) or "all bands"
    mods = data["paired"]["spectral_share"]["modalities"]
    lines = [
        "## Setup", "",
        f"- Scene: {meta['shape'][0]} × {meta['shape'][1]} px, **{len(meta['wavelengths_nm'])} HSI bands**; "
        f"auxiliaries SAR + nDSM with {aux} (SAR bands {', '.join(meta.get('sar_bands', []))}); modalities "
        f"{', '.join(mods)}; {len(meta['classes'])} classes; scene seed {st['scene_seed']}.",
        f"- Labels: `labels.tif` (every labelled pixel) with `[labels.split] per_class = "
        f"{split.get('per_class')}, block_size = {split.get('block_size')}, seed = run seed`: whole "
        f"{split.get('block_size')} × {split.get('block_size')} px blocks go to training until every class "
        "has its pixels; every labelled pixel outside the training blocks is a test pixel.",
        "- Validation: `val_fraction` of the training pixels"
        + (f", in {training['val_block_size']} × {training['val_block_size']} px blocks apart from the "
           "fitting pixels (`[training] val_block_size`)." if training.get("val_block_size") else
           ", drawn pixel-wise.")
        + (f" **Not used:** {', '.join(data['training_dropped'])} (this training code lacks it)."
           if data.get("training_dropped") else ""),
        f"- BDGF: `training.run --preset {st['preset']}` with `[training]` `{json.dumps(training)}`, device "
        f"{st['device']}, {st['threads'] or m.get('torch_threads', '?')} torch thread(s) per run; seeds "
        f"{', '.join(map(str, st['seeds']))}. Load average at start / end: {data['load_start']} / "
        f"{data['load_end']} (shared CPU; wall times include the contention).",
        networks_line(data["results"]),
        "- Rows marked *shared DDPM* start from the full model's finished DDPM of the same seed (and its "
        "cached features); the masking rows pre-train their own. *Masking adaptive* is the full BDGF row. "
        "Cross-model: the DDPM of a run on another scene (layout seed "
        f"{st['cross_scene_seed']}, same sensors and bands).",
        "- Baselines: `training.baselines` (RF 300 trees; RBF-SVM with 3-fold CV) on the same split, "
        "written per seed as train / test rasters from `training.prepare`"
        + (" (test pixel counts match BDGF's per seed)." if data.get("test_pixels_match") else
           " (**test pixel counts differ**: see the notes)."), ""]
    per_seed = data["scene"].get("split") or {}
    if per_seed:
        table = [[s, sum(e.get("train_per_class") or []), e.get("fit_pixels", "?"),
                  e.get("validation_pixels", "?"), sum(e.get("test_per_class") or []),
                  " ".join(map(str, e.get("train_per_class") or []))] for s, e in per_seed.items()]
        lines += ["Split per seed (from the full BDGF run of that seed):", "",
                  *md_table(["seed", "training px", "fit px", "validation px", "test px",
                             "training px per class"], table, "rrrrrl"), ""]
    return lines


def _metric_tables(data: dict) -> list[str]:
    paired = data["paired"]
    rows = [ROW_BY_KEY[k] for k in data["settings"]["rows"]]
    base = ((data["aggregate"].get("bdgf") or {}).get("wall_s") or {}).get("mean")
    lines = ["## Accuracy: every row against full BDGF", "",
             "Δ = full BDGF − row on the same seed (points), averaged over the seeds both finished, with "
             f"its {_boot_text(data)}. Ablation rows (a component removed): **helps** = the interval lies "
             "above 0 (removing the component loses accuracy), **hurts** = below 0, otherwise **no effect**. "
             "Baselines: **BDGF better / BDGF worse / no difference**. Fewer than "
             f"{MIN_SEEDS} paired seeds decide nothing. The paired-t interval is a cross-check (marked "
             "*differs* where its verdict would differ): with 5 seeds the percentile bootstrap is too narrow "
             "(under normal noise it excludes a true 0 about 14 % of the time, the t interval about 5 %). "
             "± is the sample standard deviation over seeds (ddof = 1).", ""]
    for metric, title in METRICS:
        table = []
        for r in rows:
            e = paired["metrics"][metric].get(r.key)
            tag = " *(shared DDPM)*" if r.ddpm == "shared" and r.kind == "bdgf" else ""
            if e is None:
                table.append([f"{r.label}{tag}", "", "not run", "", "", "", "", 0])
                continue
            what = "reference" if r.key == paired["reference"] else (r.removes if r.kind == "bdgf"
                                                                      else "baseline")
            diff = e.get("diff")
            t_txt = ""
            if e.get("t_ci") and e["t_ci"].get("lo") is not None:
                t_txt = interval(e["t_ci"]) + ("" if e.get("t_verdict") == e.get("verdict") else " (differs)")
            table.append([f"{r.label}{tag}", what, pm(e["stat"]), signed((diff or {}).get("mean")),
                          interval(diff), f"**{e['verdict']}**" if e.get("verdict") else "", t_txt,
                          e["stat"]["n"]])
        lines += [f"### {title}", "",
                  *md_table(["row", "removes / compares", "mean ± std", "Δ full − row", "95 % CI (bootstrap)",
                             "verdict", "paired-t 95 % CI", "seeds"], table, "llrrrlrr"), ""]
    wall = []
    for r in rows:
        a = data["aggregate"].get(r.key)
        if a is not None and a["wall_s"]["mean"] is not None:
            wall.append([r.key, f"{a['wall_s']['mean']:.0f}", ratio(a["wall_s"]["mean"], base)])
    if wall:
        lines += ["Wall time per run (mean over seeds; shared-DDPM rows skip pre-training):", "",
                  *md_table(["row", "wall / run (s)", "vs BDGF full"], wall, "lrr"), ""]
    return lines


def _share(data: dict) -> list[str]:
    sh = data["paired"]["spectral_share"]
    if not sh["rows"]:
        return []
    m, agg = len(sh["modalities"]), data["aggregate"]

    def change(key: str, mod: str) -> str:
        bal = (agg.get(key) or {}).get("modality_balance") or {}
        return "–" if mod not in bal else f"{np.mean([s['mean'] for s in bal[mod].values()]):.3f}"

    table = [[ROW_BY_KEY[k].label.split(" (")[0] if k != "bdgf" else "masking adaptive (full BDGF)",
              *(change(k, mod) for mod in sh["modalities"]), pm(v["stat"], 1.0, 3), v["stat"]["n"],
              " ".join(f"{x:.3f}" for x in v["values"].values())]
             for k, v in sh["rows"].items() if k in ("mask_off", "mask_fixed", "bdgf")]
    lines = ["## Spectral share of the diffusion features", "",
             "Share of modality m = its relative feature change ‖f − f_m‖ / ‖f‖ when m's content is "
             "swapped for its content elsewhere in the scene (`engine.nn.balance`, all feature levels; "
             "metrics.json `modality_shares`, the measure the masking controller steers by), over the sum "
             f"of the modalities' changes (M = {m}: {', '.join(sh['modalities'])}; even share {1 / m:.3f}). "
             f"The spectral share is the {sh['spectral']} modality's. The modality columns are the relative "
             "changes (metrics.json `modality_balance`, mean over levels and seeds).", "",
             *md_table(["DDPM", *(f"change {mod}" for mod in sh["modalities"]), "spectral share (mean ± std)",
                        "seeds", "per seed"], table, "l" + "r" * (m + 2) + "l"), ""]
    if sh["paired"]:
        ptable = [[k.replace(" - ", " − "), signed(v["diff"]["mean"], 1.0, 3), interval(v["diff"], 1.0, 3),
                   f"**{v['reading']}**", v["diff"]["n"]] for k, v in sh["paired"].items()]
        lines += [f"Paired difference of the spectral share (same seed), with its {_boot_text(data)}:", "",
                  *md_table(["difference", "Δ share", "95 % CI", "reading", "seeds"], ptable, "lrrlr"), ""]
        adaptive = sh["paired"].get("bdgf - mask_off")
        if adaptive and adaptive["reading"] in ("lower", "higher", "no clear change"):
            lines += [{"lower": "Adaptive masking **lowers** the spectral share of the diffusion features "
                                "against no masking (the direction balancing intends).",
                       "higher": "Adaptive masking **raises** the spectral share of the diffusion features "
                                 "against no masking: the opposite of balancing a spectral-dominated DDPM.",
                       "no clear change": "Adaptive masking does not measurably change the spectral share "
                                          "against no masking."}[adaptive["reading"]], ""]
    return lines


def _controller(data: dict) -> list[str]:
    ms = data["paired"].get("masking") or {}
    if not ms:
        return []
    table = []
    for key in ("mask_off", "mask_fixed", "bdgf"):
        if key not in ms:
            continue
        label = "masking adaptive (full BDGF)" if key == "bdgf" else ROW_BY_KEY[key].label.split(" (")[0]
        s = ms[key]
        if s is None:
            table.append([label, "–", "–", "–", "–", "–", "–", "–", "–", "–"])
            continue
        gap = s["structure_above_floor"]
        table.append([label, "/".join(s["mode"]), pm(s["target_share"], 1.0, 3),
                      pm(s["final_factor"], 1.0, 3), pm(s["mean_structure_ratio"], 1.0, 3),
                      pm(s["floor_structure_ratio"], 1.0, 3),
                      f"{signed(gap['mean'], 1.0, 3)} {interval(gap, 1.0, 3)}",
                      pm(s["mean_sample_ratio"], 1.0, 3), pm(s["last_probe_share"], 1.0, 3),
                      f"{len(s['seeds'])} / {s['runs']}"])
    return ["## Masking controller (metrics.json `masking`)", "",
            "State of the DDPM's masking controller at the end of pre-training, mean ± std over seeds: "
            "target spectral share, final masking factor, mean structure-mask ratio r_s over pre-training vs "
            "its floor (`floor_structure_ratio`) and their paired difference with its interval (above 0: the "
            "controller raised masking above its floor), mean sample-mask ratio p_m, the spectral share its "
            "last probe measured. – = not recorded by the training code that ran.", "",
            *md_table(["DDPM", "mode", "target share", "final factor", "mean r_s", "floor r_s",
                       "mean r_s − floor [95 % CI]", "mean p_m", "last probe share", "runs with state"],
                      table, "llrrrrrrrr"), ""]


def render_hard(data: dict) -> list[str]:
    """The page body (bench.report.write_results puts the title and the stamp above it)."""
    rows = [ROW_BY_KEY[k] for k in data["settings"]["rows"]]
    figures = []
    for name, desc in data.get("figures", {}).items():
        figures += ["", f"![{desc}](img/{name})", "", f"*{desc}*"]
    return [*_intro(data), *job_lines(data["paired"]), *_setup(data), *_metric_tables(data), *_share(data),
            *_controller(data), *_pairs(data, rows), *figures, *_per_run(data),
            "", "## Notes", "", *(f"- {n}" for n in data.get("notes", []))]
