"""`python -m bench.scarcity`: the label-scarcity curve on the hard testbed.

OA of BDGF (the `cpu` preset with its few-label recipe), of BDGF without that recipe and of the classical
baselines (RF, RBF-SVM) at 3, 5, 10 and 20 labelled pixels per class, drawn in 16 x 16 px blocks
(`[labels.split] block_size`), tested on every labelled pixel outside the training blocks, for several
seeds (the seed draws the split, initialises the networks and the forest). Writes
docs/bench/scarcity.{json,md} and docs/bench/img/scarcity.png.

The DDPM does not see labels (normalisation statistics come from all valid pixels), so one DDPM per
seed is pre-trained by the first BDGF run of that seed and reused by the others; seeds run in parallel
(`--jobs`, one torch thread per run).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.report import DOCS, md_table, repo_relative, write_results
from bench.stamp import REPO, command_line, make_stamp
from bench.testbed.rows import HARD, HARD_QUICK
from bench.testbed.runs import (
    NotFinished,
    baseline_config,
    bdgf_result,
    fingerprint,
    log,
    make_testbed,
    seed_config,
    training_run,
)
from bench.testbed.stats import bootstrap_ci, t_interval
from engine.nn.config import NETWORK_VERSION

NAME = "scarcity"
TITLE = "Label scarcity: BDGF against RF and SVM with 3 to 20 labelled pixels per class"
# Every BDGF row: metrics on all test pixels (the baselines' test set), a coarse report map, validation
# in blocks apart from the fitting pixels when the recipe keeps a validation split.
BASE_TRAINING = {"tsne_points": 60, "val_block_size": 8, "eval_test_pixels": 0, "eval_stride": 4}
# The few-label recipe of the cpu preset (training/presets.py) switched off piece by piece.
RECIPE_OFF = {"min_steps": 0, "val_min_per_class": 0, "pseudo_rounds": 0}


@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    label: str
    kind: str  # "bdgf" | "baseline"
    training: tuple[tuple[str, object], ...] = ()  # [training] overrides on BASE_TRAINING
    only: tuple[int, ...] = ()  # label counts the row runs at (empty: all); ablations where the issue decides
    classifier: tuple[tuple[str, object], ...] = ()  # [network.classifier] overrides (the network version)
    # [network.masking] overrides: the DDPM's pre-training changes, so the row pre-trains its own per seed
    masking: tuple[tuple[str, object], ...] = ()


ROWS = (
    Row("bdgf", "BDGF, cpu preset (few-label recipe)", "bdgf"),
    Row("bdgf_v1", "BDGF, old network (version 1, patch tokens), same recipe", "bdgf",
        classifier=(("version", 1),)),
    Row("bdgf_plain", "BDGF, cpu preset without the few-label recipe", "bdgf", tuple(RECIPE_OFF.items())),
    Row("no_pseudo", "BDGF recipe without self-training", "bdgf", (("pseudo_rounds", 0),), (5, 10)),
    Row("no_steps", "BDGF recipe without the minimum step count", "bdgf", (("min_steps", 0),), (5, 10)),
    Row("no_dropout", "BDGF recipe without modality dropout", "bdgf", (("modality_dropout", 0.0),), (5, 10)),
    # the hard-testbed ablation (testbed_hard.md) had fixed masking level with adaptive in OA and above it in
    # AA: does that hold where labels are few?
    Row("mask_fixed", "BDGF recipe, DDPM with fixed masking (no adaptation, no warm-up)", "bdgf",
        only=(5, 10), masking=(("mode", "fixed"),)),
    Row("rf", "Random Forest (stacked bands, per pixel)", "baseline"),
    Row("svm", "SVM RBF (stacked bands, standardised, per pixel)", "baseline"),
    Row("svm_spatial", "SVM RBF, spatial-spectral (each band + its 5 × 5 mean, standardised)", "baseline"),
)
ROW_BY_KEY = {r.key: r for r in ROWS}
BASELINE_ROWS = tuple(r.key for r in ROWS if r.kind == "baseline")
LABELS = (3, 5, 10, 20)
SEEDS = (0, 1, 2, 3, 4)
DEFAULT_ROWS = tuple(ROW_BY_KEY)
DDPM_KEYS = ("tile_size", "halo", "pca_components")  # [training] keys besides ddpm_* the DDPM depends on


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.scarcity", description=__doc__.split("\n")[0])
    ap.add_argument("--labels", default=",".join(map(str, LABELS)), help="labelled pixels per class")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"subset of {','.join(ROW_BY_KEY)}")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--jobs", type=int, default=2, help="seeds trained in parallel (one thread each)")
    ap.add_argument("--quick", action="store_true", help="smoke test: small scene, tiny budgets")
    ap.add_argument("--work", help="scenes and runs (default build/bench-scarcity[-quick])")
    ap.add_argument("--docs", help="where scarcity.json / .md / img go "
                                   "(default docs/bench; --quick: WORK/docs)")
    ap.add_argument("--report-only", action="store_true", help="only aggregate finished runs")
    ap.add_argument("--name", default=NAME, help="file name of the results: DOCS/NAME.json, .md, "
                                                 "img/NAME.png (a run of some rows beside the full one)")
    return ap.parse_args(argv)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def summarise(results: dict, labels: tuple[int, ...], rows: tuple[str, ...]) -> dict:
    """Per label count: each row's OA (mean, bootstrap CI, t interval) and BDGF − row paired over seeds;
    the better baseline by mean OA and the verdicts the issue asks for."""
    out = {}
    for n in labels:
        per = results.get(str(n), {})
        entry = {"rows": {}, "paired": {}}
        for key in rows:
            seeds = per.get(key, {})
            entry["rows"][key] = {**bootstrap_ci([r["oa"] * 100 for r in seeds.values()]),
                                  "t": t_interval([r["oa"] * 100 for r in seeds.values()])}
        ref = per.get("bdgf", {})
        entry["paired_aa"] = {}
        for key in rows:
            if key == "bdgf":
                continue
            entry["paired"][key] = paired_difference(ref, per.get(key, {}), "oa")
            entry["paired_aa"][key] = paired_difference(ref, per.get(key, {}), "aa")
        entry["branches"] = branch_summary(per, rows)
        baselines = [k for k in BASELINE_ROWS if entry["rows"].get(k, {}).get("mean") is not None]
        if baselines and entry["rows"].get("bdgf", {}).get("mean") is not None:
            best = max(baselines, key=lambda k: entry["rows"][k]["mean"])
            p = entry["paired"][best]
            svm_diffs = entry["paired"].get("svm", {}).get("diffs", [])
            entry["verdict"] = {
                "better_baseline": best,
                "margin": p["mean"],
                "ci_excludes_zero": p["n"] >= 3 and p["lo"] > 0 and (p["t"]["lo"] or 0) > 0,
                "worst_seed_vs_svm": min(svm_diffs) if svm_diffs else None,
                "not_worse_than_either": all(
                    entry["paired"][k]["n"] >= 3 and entry["paired"][k]["hi"] >= 0 for k in baselines),
            }
        out[str(n)] = entry
    return out


def paired_difference(ref: dict, other: dict, metric: str) -> dict:
    """ref − other in points of `metric` ("oa", "aa"), paired over the seeds both have (that recorded it)."""
    common = sorted((s for s in set(ref) & set(other) if metric in ref[s] and metric in other[s]), key=int)
    diffs = [100 * (ref[s][metric] - other[s][metric]) for s in common]
    return {"seeds": [int(s) for s in common], "diffs": diffs, **bootstrap_ci(diffs), "t": t_interval(diffs)}


def branch_summary(per: dict, rows: tuple[str, ...]) -> dict:
    """Each classifier branch scored alone (metrics.json's branch_oa, runs from 0d7fbfd on): per BDGF row and
    branch, the OA over the seeds that recorded it; and the new network (bdgf) − the old (bdgf_v1) per
    branch, paired by seed. Which branch carries a network's fusion and which drags it."""
    alone: dict[str, dict] = {}
    for key in rows:
        if ROW_BY_KEY[key].kind != "bdgf":
            continue
        seeds = {s: r["branch_oa"] for s, r in per.get(key, {}).items() if r.get("branch_oa")}
        names = list(next(iter(seeds.values()), {}))
        alone[key] = {b: bootstrap_ci([100 * v[b] for v in seeds.values() if b in v]) for b in names}
    paired = {}
    new, old = per.get("bdgf", {}), per.get("bdgf_v1", {})
    for b in alone.get("bdgf", {}):
        common = sorted(s for s in set(new) & set(old)
                        if b in (new[s].get("branch_oa") or {}) and b in (old[s].get("branch_oa") or {}))
        diffs = [100 * (new[s]["branch_oa"][b] - old[s]["branch_oa"][b]) for s in common]
        if diffs:
            paired[b] = {"seeds": [int(s) for s in common], "diffs": diffs, **bootstrap_ci(diffs),
                         "t": t_interval(diffs)}
    return {"alone": alone, "new_minus_old": paired}


def render_branches(data: dict) -> list[str]:
    """The per-branch tables, where the runs recorded branch_oa (else nothing)."""
    labels, summary = data["labels"], data["summary"]
    branches = {n: summary[str(n)]["branches"] for n in labels}  # branch_summary's, per label count
    names = list(dict.fromkeys(b for e in branches.values() for per in e["alone"].values() for b in per))
    if not names:
        return []
    lines = ["## Each branch alone", "",
             "OA % of each branch's softmax without the fusion, on the same test pixels (mean over the seeds "
             "that recorded it [95 % bootstrap]):", ""]
    table = [[str(n), key] + [_ci(per.get(b)) for b in names]
             for n in labels for key, per in branches[n]["alone"].items() if per]
    lines += md_table(["labels", "row"] + names, table, "ll" + "r" * len(names)) + [""]
    paired = [(n, branches[n]["new_minus_old"]) for n in labels]
    if any(p for _, p in paired):
        lines += ["New network (bdgf) − old (bdgf_v1), per branch, OA points paired by seed (mean [bootstrap "
                  "95 %]; seeds):", ""]
        table = [[str(n)] + [_paired(p.get(b)) for b in names] for n, p in paired if p]
        lines += md_table(["labels / class"] + names, table, "l" + "r" * len(names)) + [""]
    return lines


def render(data: dict) -> list[str]:
    rows, labels, summary = data["rows"], data["labels"], data["summary"]
    lines = [
        f"Hard testbed ({data['scene']['size'][0]} × {data['scene']['size'][1]} px, {data['scene']['bands']} "
        f"HSI bands + SAR VV/VH + nDSM, {data['scene']['classes']} classes). Training pixels drawn in "
        f"{data['split']['block_size']} × {data['split']['block_size']} px blocks; test = every labelled "
        "pixel outside the training blocks (spatially disjoint). BDGF: `training.run --preset "
        f"{data['preset']} --threads 1`, metrics on all test pixels; RF / SVM: `training.baselines` on the "
        "same split and test pixels. Seeds "
        f"{', '.join(map(str, data['seeds']))}: the seed draws the split and initialises the models.",
        "",
        "OA % (mean over seeds [95 % percentile bootstrap interval]):",
        "",
    ]
    header = ["labels / class"] + [ROW_BY_KEY[k].label for k in rows]
    table = []
    for n in labels:
        e = summary[str(n)]["rows"]
        table.append([str(n)] + [_ci(e.get(k)) for k in rows])
    lines += md_table(header, table, "l" + "r" * len(rows)) + [""]
    lines += ["BDGF − row, OA points, paired by seed (mean [bootstrap 95 %] (t-interval); seeds):", ""]
    others = [k for k in rows if k != "bdgf"]
    table = []
    for n in labels:
        p = summary[str(n)]["paired"]
        table.append([str(n)] + [_paired(p.get(k)) for k in others])
    lines += md_table(["labels / class"] + [ROW_BY_KEY[k].label for k in others], table,
                      "l" + "r" * len(others)) + [""]
    if any(summary[str(n)].get("paired_aa") for n in labels):  # pages written before AA was paired lack it
        lines += ["BDGF − row, AA points (average accuracy: the mean of the per-class accuracies), paired by "
                  "seed (mean [bootstrap 95 %] (t-interval); seeds):", ""]
        table = [[str(n)] + [_paired(summary[str(n)].get("paired_aa", {}).get(k)) for k in others]
                 for n in labels]
        lines += md_table(["labels / class"] + [ROW_BY_KEY[k].label for k in others], table,
                          "l" + "r" * len(others)) + [""]
    lines += ["## What the issue asks", ""]
    for n in labels:
        v = summary[str(n)].get("verdict")
        if not v:
            continue
        worst = v["worst_seed_vs_svm"]
        lines.append(
            f"- **{n} per class**: better baseline {v['better_baseline'].upper()}; BDGF − it "
            f"{v['margin']:+.2f} points, interval excludes 0: {'yes' if v['ci_excludes_zero'] else 'no'}; "
            f"worst seed against the SVM {worst:+.2f}" if worst is not None else "")
        lines[-1] += f"; not worse than either baseline: {'yes' if v['not_worse_than_either'] else 'no'}."
    lines += [""] + render_branches(data)
    lines += ["## Per seed (OA %)", ""]
    table = []
    for n in labels:
        for key in rows:
            seeds = data["results"].get(str(n), {}).get(key, {})
            table.append([str(n), key] + [f"{100 * seeds[str(s)]['oa']:.2f}" if str(s) in seeds else "–"
                                          for s in data["seeds"]])
    lines += md_table(["labels", "row"] + [f"seed {s}" for s in data["seeds"]], table,
                      "ll" + "r" * len(data["seeds"])) + [""]
    st = data.get("self_training") or {}
    if st:
        lines += ["## Self-training (BDGF row): pseudo-labels added per run", ""]
        lines += [f"- {n} per class: " + ", ".join(f"seed {s}: {v}" for s, v in sorted(st[n].items()))
                  for n in sorted(st, key=int)]
        lines.append("")
    lines += ["## Notes", ""] + [f"- {n}" for n in data["notes"]] + [""]
    if data.get("figure"):
        lines += [f"![label-scarcity curve]({data['figure']})", ""]
    return lines


def _ci(e: dict | None) -> str:
    if not e or e.get("mean") is None:
        return "–"
    return f"{e['mean']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]"


def _paired(p: dict | None) -> str:
    if not p or p.get("mean") is None:
        return "–"
    t = p["t"]
    tt = f" ({t['lo']:+.2f}, {t['hi']:+.2f})" if t.get("lo") is not None else ""
    return f"{p['mean']:+.2f} [{p['lo']:+.2f}, {p['hi']:+.2f}]{tt}; {p['n']}"


def plot(summary: dict, labels: tuple[int, ...], rows: tuple[str, ...], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, key in enumerate(rows):
        xs, ys, lo, hi = [], [], [], []
        for n in labels:
            e = summary[str(n)]["rows"].get(key) or {}
            if e.get("mean") is None:
                continue
            xs.append(n * (1 + 0.03 * (i - len(rows) / 2)))  # small offsets so the intervals do not overlap
            ys.append(e["mean"])
            lo.append(e["mean"] - e["lo"])
            hi.append(e["hi"] - e["mean"])
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=ROW_BY_KEY[key].label)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # only the measured counts labelled
    ax.set_xticks(labels)
    ax.set_xticklabels([str(n) for n in labels])
    ax.set_xlabel("labelled pixels per class (16 × 16 px blocks)")
    ax.set_ylabel("OA % (mean, 95 % bootstrap interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:  # noqa: C901 - one linear script: scene, runs per seed, report
    args = parse_args(argv)
    labels, seeds = _ints(args.labels), _ints(args.seeds)
    rows = tuple(k for k in ROW_BY_KEY if k in {r.strip() for r in args.rows.split(",")})
    unknown = {r.strip() for r in args.rows.split(",")} - set(ROW_BY_KEY)
    if unknown:
        raise SystemExit(f"error: unknown row(s) {sorted(unknown)}; choose from {','.join(ROW_BY_KEY)}")
    base = HARD_QUICK if args.quick else HARD
    budget = {"ddpm_steps": 12, "epochs": 2, "min_steps": 4, "pseudo_per_class": 5} if args.quick else {}
    st = dataclasses.replace(base, preset=args.preset, seeds=seeds, training={**BASE_TRAINING, **budget})
    work = Path(args.work) if args.work else REPO / "build" / ("bench-scarcity-quick" if args.quick
                                                               else "bench-scarcity")
    docs = Path(args.docs) if args.docs else (work / "docs" if args.quick else DOCS)
    work.mkdir(parents=True, exist_ok=True)
    command = command_line("bench.scarcity", argv)
    stamp, started, t0 = make_stamp(command), time.strftime("%Y-%m-%d %H:%M:%S %Z"), time.perf_counter()
    scene = make_testbed(work / "scene", st, st.scene_seed, st.training)
    log(f"scarcity: labels {labels}, seeds {seeds}, rows {rows}, preset {st.preset}, work {work}")
    results: dict[str, dict[str, dict]] = {str(n): {k: {} for k in rows} for n in labels}
    lock = threading.Lock()
    notes: list[str] = []
    self_training: dict[str, dict[str, list]] = {}

    from training.presets import preset

    net, tcfg = preset(st.preset, [1, 1], 2)
    preset_settings = {"network": net.to_dict(), "training": dataclasses.asdict(tcfg)}

    def ddpm_store(seed: int, masking: tuple = ()) -> Path:
        """Where a seed's finished DDPM is kept, keyed by what it depends on (no labels, no classifier
        settings; the masking, with a row's overrides), so a changed recipe re-trains classifiers only."""
        ddpm_keys = {k: v for k, v in st.training.items() if k.startswith("ddpm") or k in DDPM_KEYS}
        network = {"ddpm": preset_settings["network"]["ddpm"],
                   "masking": {**preset_settings["network"]["masking"], **dict(masking)}}
        key = fingerprint({"preset": st.preset, "seed": seed, "size": st.size, "bands": st.bands,
                           "aux": st.aux_bands, "training": ddpm_keys, "network": network})
        return work / "ddpm" / f"seed_{seed}_{key}"

    def bdgf_runs(seed: int) -> None:
        firsts: dict[Path, Path | None] = {}  # per DDPM store: itself once it holds a finished DDPM
        for n in labels:
            for key in (k for k in rows if ROW_BY_KEY[k].kind == "bdgf"):
                row = ROW_BY_KEY[key]
                if row.only and n not in row.only:
                    continue
                store = ddpm_store(seed, row.masking)
                if store not in firsts:
                    firsts[store] = store if (store / "ckpt" / "ddpm_final.json").is_file() else None
                first = firsts[store]
                training = {**st.training, **dict(row.training)}
                tag = f"_{key}_n{n}"
                # the network version is pinned (the current one unless the row says): a row's runs keep the
                # network they were trained with when a later version becomes the default
                network = {"classifier": {"version": NETWORK_VERSION, **dict(row.classifier)},
                           **({"masking": dict(row.masking)} if row.masking else {})}
                config = seed_config(scene, seed, tag, {"per_class": n}, training, network)
                run_dir = work / "runs" / f"n{n}" / key / f"seed_{seed}"
                extra = {"config_sha": fingerprint(Path(config).read_text(encoding="utf-8")),
                         "preset": preset_settings}  # a changed preset re-runs the classifiers
                try:
                    info = training_run(run_dir, config, st, seed, [], work / "cache", first, extra,
                                        reuse_only=args.report_only, ddpm_key=store.name)
                except NotFinished:
                    continue
                r = bdgf_result(run_dir, info)
                card = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
                with lock:
                    results[str(n)][key][str(seed)] = r
                    if key == "bdgf":
                        st_rounds = (card.get("selection") or {}).get("self_training") or []
                        self_training.setdefault(str(n), {})[str(seed)] = [x["per_class"] for x in st_rounds]
                took = "reused" if r["cached"] else f"{r['wall_s']:.0f} s"
                log(f"n={n} {key} seed {seed}: OA {100 * r['oa']:.2f} ({took})")
                if first is None:
                    (store / "ckpt").mkdir(parents=True, exist_ok=True)
                    for suffix in (".safetensors", ".json"):  # the .json last: it marks a complete copy
                        shutil.copy2(run_dir / "ckpt" / f"ddpm_final{suffix}", store / "ckpt")
                    firsts[store] = store

    from training.baselines import load_pixels, run_baseline

    for seed in seeds:  # baselines first: cheap, and they tell early what BDGF must beat
        for n in labels:
            config = baseline_config(scene, seed, f"_n{n}", {"per_class": n})
            data = {}  # per-pixel features, and the spatial-spectral ones only when a row needs them
            for key in (k for k in rows if ROW_BY_KEY[k].kind == "baseline"):
                spatial = key == "svm_spatial"
                if spatial not in data:
                    data[spatial] = load_pixels(config, spatial=spatial)
                r = run_baseline("svm" if spatial else key, data[spatial], seed)
                results[str(n)][key][str(seed)] = r
                log(f"n={n} {key} seed {seed}: OA {100 * r['oa']:.2f}")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for f in [pool.submit(bdgf_runs, s) for s in seeds]:
            f.result()

    ns = {(n, s): {k: v[s]["n"] for k, v in results[n].items() if s in v} for n in results for s in
          map(str, seeds)}
    mismatch = {f"{n}/{s}": v for (n, s), v in ns.items() if len(set(v.values())) > 1}
    if mismatch:
        notes.append(f"test pixel counts differ between rows: {mismatch}")
    summary = summarise(results, labels, rows)
    figure = docs / "img" / f"{args.name}.png"
    plot(summary, labels, rows, figure)
    meta = scene["meta"]
    notes += [
        "Paired intervals: the percentile bootstrap of 5 seeds is too narrow; the t-interval is shown beside "
        "it, and 'interval excludes 0' below requires both to exclude it.",
        "The BDGF rows of one seed share its DDPM (pre-trained once, on all pixels: it sees no labels).",
        "RF / SVM fit on all training pixels; the SVM picks C and gamma by 3-fold CV on them.",
    ]
    data = {"stamp": stamp, "started": started, "total_s": time.perf_counter() - t0, "preset": st.preset,
            "labels": list(labels), "seeds": list(seeds), "rows": list(rows),
            "row_labels": {k: ROW_BY_KEY[k].label for k in rows},
            "row_training": {k: dict(ROW_BY_KEY[k].training) for k in rows},
            "training": st.training, "split": dict(st.split),
            "scene": {"size": list(st.size), "bands": st.bands,
                      "classes": len(meta.get("classes", [])) or None,
                      "dir": repo_relative(scene["dir"])},
            "results": results, "summary": summary, "self_training": self_training, "notes": notes,
            "figure": os.path.relpath(figure, docs)}
    json_path, md_path = write_results(docs, args.name, TITLE, data, render(data))
    log(f"done in {(time.perf_counter() - t0) / 60:.1f} min: {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
