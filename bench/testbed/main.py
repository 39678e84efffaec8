"""`python -m bench.testbed`: run the rows for every seed, aggregate, write DOCS/testbed.{json,md} + img/."""
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
from bench.testbed.rows import ROW_BY_KEY, Row, settings_from
from bench.testbed.runs import NotFinished, bdgf_result, log, make_testbed, training_run
from bench.testbed.stats import aggregate, evaluate_claims

NAME = "testbed"
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


def parse_args(argv=None) -> argparse.Namespace:
    from bench import testbed

    ap = argparse.ArgumentParser(prog="python -m bench.testbed", description=testbed.__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: tiny scene, 1 seed, rf + 2 BDGF rows")
    ap.add_argument("--gpu", action="store_true", help="CUDA training on a bigger scene (default preset)")
    ap.add_argument("--rows", help=f"comma-separated subset of {','.join(ROW_BY_KEY)}")
    ap.add_argument("--seeds", help="comma-separated seeds (default 0,1,2; --quick: 0)")
    ap.add_argument("--size", help="scene HxW (default 128x160; --quick 32x40; --gpu 192x256)")
    ap.add_argument("--work", help="work folder for scenes and runs (default build/bench[-quick|-gpu])")
    ap.add_argument("--docs", help="where testbed.json / testbed.md / img/ go "
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
    work = Path(args.work) if args.work else REPO / "build" / {"full": "bench", "quick": "bench-quick",
                                                                "gpu": "bench-gpu"}[st.name]
    docs = Path(args.docs) if args.docs else (work / "docs" if st.name == "quick" else DOCS)
    work.mkdir(parents=True, exist_ok=True)
    command = command_line("bench.testbed", argv)
    started, t_start = time.strftime("%Y-%m-%d %H:%M:%S %Z"), time.perf_counter()
    stamp = make_stamp(command)  # at the start: the code the runs use
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
                                 fingerprint_extra={"settings": st.training}, reuse_only=reuse_only)
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
        log(f"{row.key} seed {seed}: OA {100 * r['oa']:.2f} AA {100 * r['aa']:.2f} kappa {r['kappa']:.4f} "
            f"({how})")

    state_path = work / "bench_state.json"
    state = {"command": command, "started": started, "start_epoch": time.time(), "load_start": _loadavg(),
             "stamp": stamp, "settings": dataclasses.asdict(st)}
    if args.report_only and state_path.is_file():  # render the runs of the invocation that made them
        state = json.loads(state_path.read_text(encoding="utf-8"))
    elif args.report_only and (docs / f"{NAME}.json").is_file():  # a report written by that invocation
        prev = json.loads((docs / f"{NAME}.json").read_text(encoding="utf-8"))
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

                if pixels is None:
                    pixels = load_pixels(scene["config"])
                results[key][str(seed)] = r = run_baseline(key, pixels, seed)
                r["wall_s"] = r["seconds"]["fit"] + r["seconds"]["predict"]
                log(f"{key} seed {seed}: OA {100 * r['oa']:.2f} AA {100 * r['aa']:.2f} "
                    f"kappa {r['kappa']:.4f}")
            checkpoint_results()

    from training.config import load_config

    modalities = [layer.name for layer in load_config(scene["config"]).layers]  # spectral first
    agg = aggregate(results, scene["meta"], modalities)
    ns = {k: {r["n"] for r in v.values()} for k, v in results.items() if v}
    test_pixels_match = len(set().union(*ns.values())) == 1 if ns else False
    if not test_pixels_match:
        notes.append(f"test pixel counts per row: { {k: sorted(v) for k, v in ns.items()} }")

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

    figures = write_figures(agg, results, work, docs / "img")
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
        "scene": {"config": repo_relative(scene["config"]), "meta": scene["meta"]},
        "results": results, "aggregate": agg, "claims": evaluate_claims(agg), "inference": inference,
        "not_run": not_run, "not_run_reason": "report-only" if args.report_only else "--max-minutes reached",
        "reductions": args.reductions, "test_pixels_match": test_pixels_match, "notes": notes + NOTES,
        "figures": figures,
        "cached_runs": any(r.get("cached") for v in results.values() for r in v.values()),
    }
    json_path, md_path = write_results(docs, NAME, TITLE, data, render(data))
    log(f"done in {(time.perf_counter() - t_start) / 60:.1f} min: {md_path}, {json_path}")
    return 0
