"""`python -m bench.testbed`: run the rows for every seed, aggregate, write DOCS/testbed.{json,md} + img/
(the easy testbed) or DOCS/testbed_hard.{json,md} + img/testbed_hard_* (`--testbed hard`)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from bench.report import DOCS, repo_relative, write_results
from bench.stamp import REPO, command_line, make_stamp
from bench.testbed.figures import write_figures
from bench.testbed.report import TITLE, render
from bench.testbed.report_hard import TITLE_HARD, render_hard
from bench.testbed.rows import ROW_BY_KEY, TESTBEDS, Row, settings_from, supported_training
from bench.testbed.runs import (
    NotFinished,
    baseline_config,
    bdgf_result,
    fingerprint,
    log,
    make_testbed,
    seed_config,
    split_summary,
    training_run,
)
from bench.testbed.stats import aggregate, evaluate_claims, paired_analysis

NAMES = {"easy": "testbed", "hard": "testbed_hard"}
WORK = {"full": "bench", "quick": "bench-quick", "gpu": "bench-gpu", "hard": "bench-hard",
        "hard-quick": "bench-hard-quick"}
NOTES = [
    "Model selection (training.run): the epoch with the best validation OA (the first of ties) on 20 % "
    "of the training pixels; the selected epochs are listed per run. Validation pixels come from the "
    "same pure-pixel blobs as the training pixels, so validation OA saturates near 100 % and is a weak "
    "selector.",
    "The SVM is deterministic given its CV folds; its seed only changes the fold shuffling. RF seeds "
    "change the forest. BDGF seeds change network initialisation, DDPM pre-training, the validation "
    "split and the batch order; the scene and the train / test pixels are fixed.",
    "The inference figures use the CPU (bench.inference.run_child) even with --gpu.",
]
NOTES_HARD = [
    "Model selection (training.run): the epoch with the best validation OA (the first of ties); the "
    "validation pixels are a share of the training pixels (training.val_fraction), drawn in whole blocks "
    "of side training.val_block_size apart from the fitting pixels when the training code supports it "
    "(see Setup).",
    "Seeds: the run seed is also the split seed, so a seed changes the training / validation / test "
    "pixels as well as network initialisation, DDPM pre-training and batch order. Every row of one seed "
    "sees the same split, which is what makes the differences paired.",
    "The classical baselines fit on all training pixels of the seed's split (BDGF holds the validation "
    "share out for model selection); RF seeds change the forest, the SVM seed only its CV folds.",
    "Bootstrap intervals over 5 seeds are rough: the percentile interval of a mean of few values is too "
    "narrow (simulated with normal noise and a true difference of 0, the 95 % interval excludes 0 in about "
    "14 % of 5-seed cases; the paired-t interval shown beside it in about 5 %). A verdict says the interval "
    "excludes 0, not that the effect is large.",
]


def parse_args(argv=None) -> argparse.Namespace:
    from bench import testbed

    ap = argparse.ArgumentParser(prog="python -m bench.testbed", description=testbed.__doc__.split("\n")[0])
    ap.add_argument("--testbed", choices=TESTBEDS, default="easy",
                    help="easy (default; docs/bench/testbed.*) or hard (many bands, few block-split labels; "
                         "docs/bench/testbed_hard.*)")
    ap.add_argument("--quick", action="store_true", help="smoke test: tiny scene, 1 seed, rf + 2 BDGF rows")
    ap.add_argument("--gpu", action="store_true", help="CUDA training on a bigger scene (paper preset)")
    ap.add_argument("--rows", help=f"comma-separated subset of {','.join(ROW_BY_KEY)}")
    ap.add_argument("--seeds", help="comma-separated seeds (default 0,1,2; hard: 0-4; --quick: 0)")
    ap.add_argument("--size", help="scene HxW (default 128x160; --quick 32x40; --gpu 192x256; hard 96x128, "
                                   "hard --quick 48x64)")
    ap.add_argument("--work", help="work folder for scenes and runs "
                                   "(default build/bench[-quick|-gpu|-hard|-hard-quick])")
    ap.add_argument("--docs", help="where testbed[_hard].json / .md / img/ go "
                                   "(default docs/bench/; --quick: WORK/docs)")
    ap.add_argument("--no-infer", action="store_true", help="skip the ONNX Runtime vs PyTorch inference part")
    ap.add_argument("--max-minutes", type=float, help="start no new run after this many minutes")
    ap.add_argument("--report-only", action="store_true", help="only aggregate the finished runs in WORK")
    ap.add_argument("--reductions", help="free text recorded in the report (what was reduced and why)")
    return ap.parse_args(argv)


def _loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv=None) -> int:  # noqa: C901 - one linear script: scene, runs, aggregation, report
    args = parse_args(argv)
    st = settings_from(args)
    if st.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print(f"error: --gpu needs a CUDA GPU, but PyTorch {torch.__version__} sees none "
                  f"(CUDA build: {torch.version.cuda or 'no'}). Run `make bench` (CPU) instead.",
                  file=sys.stderr)
            return 2
    name = NAMES[st.testbed]
    work = Path(args.work) if args.work else REPO / "build" / WORK[st.name]
    docs = Path(args.docs) if args.docs else (work / "docs" if st.name.endswith("quick") else DOCS)
    work.mkdir(parents=True, exist_ok=True)
    command = command_line("bench.testbed", argv)
    started, t_start = time.strftime("%Y-%m-%d %H:%M:%S %Z"), time.perf_counter()
    stamp = make_stamp(command)  # at the start: the code the runs use
    log(f"{st.name}: scene {st.size[0]}x{st.size[1]}, {st.bands} bands, seeds {st.seeds}, "
        f"rows {','.join(st.rows)}, work {work}, docs {docs}")

    training, dropped = supported_training(st.training)
    notes: list[str] = []
    if dropped:
        notes.append(f"[training] key(s) {', '.join(dropped)} not supported by this training code: not used "
                     f"(asked for {', '.join(f'{k} = {st.training[k]}' for k in dropped)}).")
        log(notes[-1])
    scene = make_testbed(work / "scene", st, st.scene_seed, training)
    if st.testbed == "easy":
        log(f"scene: {scene['meta']['train_pixels']} train / {scene['meta']['test_pixels']} test px "
            f"({scene['config']})")
    else:
        log(f"scene: {scene['dir']}; labels.tif split per seed: {json.dumps(st.split)}, seed = run seed")
    results: dict[str, dict[str, dict]] = {k: {} for k in st.rows}
    not_run: list[tuple[str, int]] = []
    cache = work / "cache"
    deadline = None if args.max_minutes is None else t_start + 60 * args.max_minutes
    pixels: dict[tuple, object] = {}  # baseline pixels per (config, spatial-spectral)
    cross_pkg = None

    def run_extra(config: str) -> dict:
        """What a run's fingerprint holds beyond its command: the settings and, on the hard testbed, the
        config's content (scene, band selection, split)."""
        extra = {"settings": training, "size": st.size, "bands": st.bands}
        if st.testbed != "easy":
            extra["config_sha"] = fingerprint(Path(config).read_text(encoding="utf-8"))
        return extra

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
                                         {**training, "epochs": 1})
                    src = work / "runs" / "cross_source"
                    log(f"cross-model source: DDPM on scene seed {st.cross_scene_seed} -> {src}")
                    cross_config = seed_config(cross, 0)
                    extra = ({"settings": training} if st.testbed == "easy"
                             else {**run_extra(cross_config), "settings": {**training, "epochs": 1}})
                    training_run(src, cross_config, st, 0, [], cache, fingerprint_extra=extra,
                                 reuse_only=reuse_only)
                    cross_pkg = src / "model.bdgf"
                args_ += ["--cross-model-ddpm", str(cross_pkg)]
            shared = " (shared DDPM)" if ddpm_from else ""
            log(f"{row.key} seed {seed}: training.run {' '.join(args_)}{shared}")
            config = seed_config(scene, seed)
            info = training_run(run_dir, config, st, seed, args_, cache, ddpm_from, run_extra(config),
                                reuse_only=reuse_only)
        except NotFinished:
            log(f"{row.key} seed {seed}: not run ({'report only' if args.report_only else 'time budget'})")
            not_run.append((row.key, seed))
            return
        results[row.key][str(seed)] = r = bdgf_result(run_dir, info)
        how = "reused" if r["cached"] else f"{r['wall_s']:.0f} s"
        log(f"{row.key} seed {seed}: OA {100 * r['oa']:.2f} AA {100 * r['aa']:.2f} kappa {r['kappa']:.4f} "
            f"({how})")

    state_path = work / "bench_state.json"
    state = {"command": command, "started": started, "start_epoch": time.time(), "load_start": _loadavg(),
             "stamp": stamp, "settings": dataclasses.asdict(st)}
    if args.report_only and state_path.is_file():  # render the runs of the invocation that made them
        state = json.loads(state_path.read_text(encoding="utf-8"))
    elif args.report_only and (docs / f"{name}.json").is_file():  # a report written by that invocation
        prev = json.loads((docs / f"{name}.json").read_text(encoding="utf-8"))
        state = {"command": prev["stamp"]["command"], "started": prev["started"], "start_epoch": 0.0,
                 "last_epoch": prev["total_s"], "load_start": prev["load_start"],
                 "load_last": prev["load_end"], "stamp": prev["stamp"], "inference": prev.get("inference")}

    def checkpoint_results() -> None:
        (work / "results_partial.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        if not args.report_only:
            state.update(last_epoch=time.time(), load_last=_loadavg())
            state_path.write_text(json.dumps(state, indent=1), encoding="utf-8")

    checkpoint_results()
    for seed in st.seeds:
        for key in st.rows:
            row = ROW_BY_KEY[key]
            if row.kind == "bdgf":
                run_bdgf(row, seed)
            else:
                from training.baselines import load_pixels, run_baseline

                config = baseline_config(scene, seed)
                spatial = key == "svm_spatial"  # the same SVM on each band + its 5 x 5 mean
                if (config, spatial) not in pixels:
                    pixels[(config, spatial)] = load_pixels(config, spatial=spatial)
                data = pixels[(config, spatial)]
                results[key][str(seed)] = r = run_baseline("svm" if spatial else key, data, seed)
                r["wall_s"] = r["seconds"]["fit"] + r["seconds"]["predict"]
                log(f"{key} seed {seed}: OA {100 * r['oa']:.2f} AA {100 * r['aa']:.2f} "
                    f"kappa {r['kappa']:.4f}")
            checkpoint_results()

    from training.config import load_config

    modalities = [layer.name for layer in load_config(seed_config(scene, st.seeds[0])).layers]  # spectral 1st
    agg = aggregate(results, scene["meta"], modalities)
    # every row of a seed is tested on the same pixels (the split depends on the seed on the hard testbed)
    ns = {s: {k: v[s]["n"] for k, v in results.items() if s in v} for s in map(str, st.seeds)}
    ns = {s: v for s, v in ns.items() if v}
    test_pixels_match = bool(ns) and all(len(set(v.values())) == 1 for v in ns.values())
    if not test_pixels_match:
        notes.append(f"test pixel counts per seed and row: {ns}")

    inference = None
    if st.infer and results.get("bdgf") and not args.report_only:
        from bench.inference import compare_backends

        seed0 = sorted(results["bdgf"], key=int)[0]
        model = results["bdgf"][seed0]["package"]
        log(f"inference: ONNX Runtime vs PyTorch eager with {model}")
        try:
            inference = {**compare_backends(scene["inputs"], str(REPO / model), work / "infer", repeats=3),
                         "seed": int(seed0), "model": model}
            for s in inference["backends"].values():
                s["classes_tif"] = repo_relative(s["classes_tif"])
        except RuntimeError as exc:
            notes.append(f"inference benchmark failed: {str(exc)[:400]}")
        state["inference"] = inference
        checkpoint_results()
    elif st.infer and args.report_only:
        inference = state.get("inference")

    figures = write_figures(agg, results, work, docs / "img", "" if st.testbed == "easy" else f"{name}_")
    total = time.perf_counter() - t_start
    load_end = _loadavg()
    rendered = None
    if args.report_only:
        rendered = {"command": command, "at": started}
        started, stamp = state["started"], state.get("stamp", stamp)
        total = state.get("last_epoch", state["start_epoch"]) - state["start_epoch"]
        load_end = state.get("load_last", "?")
        for per_seed in results.values():
            for r in per_seed.values():
                r["cached"] = False
    data = {
        "stamp": stamp, "started": started, "total_s": total, "report_rendered": rendered,
        "settings": dataclasses.asdict(st), "load_start": state["load_start"], "load_end": load_end,
        "scene": {"config": repo_relative(scene["config"]) if scene["config"] else None,
                  "meta": scene["meta"]},
        "results": results, "aggregate": agg, "inference": inference,
        "not_run": not_run, "not_run_reason": "report-only" if args.report_only else "--max-minutes reached",
        "reductions": args.reductions, "test_pixels_match": test_pixels_match,
        "notes": notes + (NOTES if st.testbed == "easy" else NOTES_HARD), "figures": figures,
        "cached_runs": any(r.get("cached") for v in results.values() for r in v.values()),
        "training_used": training, "training_dropped": dropped,
    }
    if st.testbed == "easy":
        data["claims"] = evaluate_claims(agg)
        json_path, md_path = write_results(docs, name, TITLE, data, render(data))
    else:
        data["scene"]["configs"] = {str(s): repo_relative(seed_config(scene, s)) for s in st.seeds}
        data["scene"]["split"] = split_summary(work, results)
        data["paired"] = paired_analysis(results, {k: ROW_BY_KEY[k].kind for k in results}, modalities)
        json_path, md_path = write_results(docs, name, TITLE_HARD, data, render_hard(data))
    log(f"done in {(time.perf_counter() - t_start) / 60:.1f} min: {md_path}, {json_path}")
    return 0
