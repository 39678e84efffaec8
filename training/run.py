"""Train a BDGF model: `python -m training.run --config C --out DIR [options]` (from the repository root).

Stages: (1) data preparation, statistics, PCA; (2) DDPM pre-training; (3) diffusion features (cached);
(4) classifier training; (5) evaluation (metrics.json, report.md, PNGs); (6) model package model.bdgf.
Every stage checkpoints atomically into DIR/ckpt; `--resume` continues a killed run and reaches the
same weights as an uninterrupted run. Multi-GPU / multi-node: launch with `torchrun` (DDP).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from engine.errors import BDGFError
from engine.exit_codes import CANCELLED, TERMINATED, leave
from engine.model.card import NETWORK_VERSION_NAMES
from engine.model.package import ModelPackage
from engine.model.tiling import card_halo, core_size
from engine.nn.bdgf import BDGFClassifier
from engine.nn.config import BRANCHES, MASKING_MODES, BDGFConfig
from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
from engine.raster.guard import check_outputs
from training import checkpoint as ckpt
from training import plots
from training.config import ConfigError, RunConfig, load_config, network_config, training_config
from training.context import RunContext, close_logging, make_context, setup_logging
from training.evaluate import (
    branch_oa,
    evaluation_pixels,
    fill_strided,
    masking_summary,
    modality_balance,
    test_metrics,
    tsne_points,
    write_metrics,
    write_report,
)
from training.export_model import export_package, trained_card
from training.interrupt import Interrupted, on_termination
from training.missing_modality import missing_inputs, missing_modality_metrics
from training.prepare import Prepared, prepare
from training.presets import PRESETS, preset
from training.progress_stream import ProgressWriter
from training.pseudo_labels import self_train
from training.splits import validation_fraction, validation_split
from training.stage_classifier import PatchSource, predict, train_classifier
from training.stage_ddpm import StopRequested, train_ddpm
from training.stage_features import cached_features
from training.summary import run_summary, write_summary

STOPPED_EXIT = 3


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.run", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="training config (TOML)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--preset", choices=PRESETS, default="cpu")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--seeds", default=None,
                    help="comma-separated seeds, e.g. 0,1,2 (default: the [training] seed)")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads for PyTorch (default: PyTorch's; 1 is fastest on a busy machine)")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    ap.add_argument("--cache-dir", default=None, help="diffusion feature cache (default: OUT/cache)")
    ab = ap.add_argument_group("ablations")
    ab.add_argument("--masking", choices=MASKING_MODES, help="spectral masking in DDPM pre-training")
    ab.add_argument("--no-guidance", action="append", default=[], choices=BRANCHES, metavar="BRANCH",
                    help="train BRANCH without diffusion guidance (repeatable)")
    ab.add_argument("--branches", help=f"comma-separated subset of {','.join(BRANCHES)}")
    ab.add_argument("--no-mutual", action="store_true", help="plain cross-entropies, no mutual learning")
    ab.add_argument("--cross-model-ddpm", metavar="OTHER_RUN_DIR",
                    help="use the DDPM of another run (its model.bdgf) instead of pre-training one")
    ap.add_argument("--progress-stream", action="store_true",
                    help="print machine-readable progress lines on stdout (training/progress_stream.py)")
    ap.add_argument("--stop-after", metavar="STAGE:N", help=argparse.SUPPRESS)  # ddpm:N | classifier:N
    return ap.parse_args(argv)


def parse_seeds(text: str | None, default: int) -> list[int]:
    if text is None:
        return [default]
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ConfigError(f"--seeds must be comma-separated integers, found {text!r}") from exc
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds must list distinct integers, found {text!r}")
    return seeds


def apply_ablations(net: BDGFConfig, args) -> BDGFConfig:
    net = BDGFConfig.from_dict(net.to_dict())
    if args.masking:
        net.masking.mode = args.masking
    if args.branches:
        net.classifier.branches = [b.strip() for b in args.branches.split(",") if b.strip()]
    for branch in args.no_guidance:
        net.classifier.guidance[branch] = False
    if args.no_mutual:
        net.mutual.enabled = False
    try:
        return net.validate()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_configs(cfg: RunConfig, prep: Prepared, args) -> tuple[BDGFConfig, object]:
    base_net, base_train = preset(args.preset, prep.modality_channels, len(prep.classes))
    net = network_config(base_net.to_dict(), cfg.network)
    if net.modality_channels != prep.modality_channels or net.n_classes != len(prep.classes):
        raise ConfigError(f"[network] modality_channels / n_classes are set by the data "
                          f"({prep.modality_channels}, {len(prep.classes)} classes); remove them")
    return apply_ablations(net, args), training_config(cfg.training, base_train)


def version_note(version: int, chosen_by_user: bool) -> str:
    """The log line that says which network version this run trains, and why."""
    if chosen_by_user:
        return f"network version {version}, as [network.classifier] version asks"
    return f"network version {version}: {NETWORK_VERSION_NAMES.get(version, 'unknown')}"


def load_cross_model(run_dir: str, net: BDGFConfig) -> tuple[MultimodalDDPM, BDGFConfig, dict]:
    """The DDPM of another run's package; the returned config takes that DDPM's settings."""
    path = Path(run_dir)
    path = path / "model.bdgf" if path.is_dir() else path
    package = ModelPackage(path)
    other = BDGFConfig.from_dict(package.card["network"])
    if other.modality_channels != net.modality_channels:
        raise ConfigError(f"--cross-model-ddpm: {path} was trained on modality channels "
                          f"{other.modality_channels}, this data has {net.modality_channels}")
    if other.feature_channels() != net.feature_channels():
        raise ConfigError(f"--cross-model-ddpm: feature channels {other.feature_channels()} differ from "
                          f"this network's {net.feature_channels()}; set [network.ddpm] to match")
    ddpm = MultimodalDDPM(other)
    ddpm.load_state_dict({k: torch.tensor(v) for k, v in package.tensors("ddpm.").items()})
    net = dataclasses.replace(net, ddpm=other.ddpm, masking=other.masking)
    return ddpm.eval(), net, {"package": str(path), "content_hash": package.content_hash,
                              "masking": other.masking.mode}


def _stop_limits(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    stage, _, n = text.partition(":")
    if stage not in ("ddpm", "classifier") or not n.isdigit():
        raise ConfigError(f"--stop-after must be ddpm:N or classifier:N, found {text!r}")
    return {stage: int(n)}


def check_settings(ctx: RunContext, ckpt_dir: Path, settings: dict) -> None:
    """Checkpoints belong to one set of settings: --resume with other settings is an error."""
    path = ckpt_dir / "settings.json"
    settings = json.loads(json.dumps(settings))
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(k for k in settings if old.get(k) != settings[k])
        if changed:
            raise ConfigError(f"--resume: the checkpoints in {ckpt_dir} were made with other settings "
                              f"({', '.join(changed)} differ); resume with the same config, preset and "
                              "switches, or start afresh without --resume")
    elif ctx.is_main:
        ckpt.atomic_write_json(path, settings)
    ctx.barrier()


def run_seed(ctx: RunContext, args, cfg: RunConfig, prep: Prepared, seed: int, out: Path,
             cache_dir: Path) -> dict:
    """Stages 2-6 for one seed into `out`; returns the metrics dict."""
    timings: dict[str, float] = {}
    net, tcfg = build_configs(cfg, prep, args)
    tcfg = dataclasses.replace(tcfg, seed=seed)
    stops = _stop_limits(args.stop_after)
    ckpt_dir = out / "ckpt"
    stride = net.ddpm.stride()
    tile = core_size(tcfg.tile_size, tcfg.tile_size, stride)
    ctx.info(f"seed {seed}: preset {args.preset}, network {json.dumps(net.to_dict())}")
    ctx.info(version_note(net.classifier.version, "version" in (cfg.network.get("classifier") or {})))
    ctx.info(f"seed {seed}: training {json.dumps(dataclasses.asdict(tcfg))}")

    check_settings(ctx, ckpt_dir, {"network": net.to_dict(), "training": dataclasses.asdict(tcfg),
                                   "data": prep.summary, "cross_model_ddpm": args.cross_model_ddpm})

    # (2) DDPM
    ctx.start_stage("ddpm")
    t0 = time.perf_counter()
    cross = None
    ddpm_history: list[dict] = []
    if args.cross_model_ddpm:
        ddpm, net, cross = load_cross_model(args.cross_model_ddpm, net)
        ctx.info(f"DDPM: cross-model features from {cross['package']}")
    else:
        torch.manual_seed(seed)
        ddpm = MultimodalDDPM(net)
        final = ckpt.load_checkpoint(ckpt_dir / "ddpm_final")
        if final is not None:
            ddpm.load_state_dict(ckpt.unprefixed("model.", final[0]))
            ddpm.masking.load_state_dict(final[1]["masking"])
            ddpm_history = final[1]["history"]
            ctx.info("DDPM: loaded the finished pre-training checkpoint")
        else:
            ddpm_history = train_ddpm(ctx, ddpm, prep.x, prep.valid, tcfg, ckpt_dir, seed, stops.get("ddpm"))
            if ctx.is_main:
                ckpt.save_checkpoint(ckpt_dir / "ddpm_final", ckpt.prefixed("model.", ddpm.state_dict()),
                                     {"masking": ddpm.masking.state_dict(), "history": ddpm_history})
            ctx.barrier()
    ddpm.to(ctx.device).eval()
    halo = tcfg.halo or card_halo(ddpm.receptive_radius(), stride)
    timings["ddpm"] = time.perf_counter() - t0
    ctx.info(f"seed {seed}: stage 2 (DDPM pre-training): {timings['ddpm']:.1f} s")

    # (3) diffusion features
    ctx.start_stage("features")
    t0 = time.perf_counter()
    extractor = DiffusionFeatureExtractor(ddpm)
    feats, feat_path = cached_features(ctx, extractor, prep.x, prep.window, net.patch_size, tile, halo,
                                       net.ddpm.noise_seed, cache_dir)
    timings["features"] = time.perf_counter() - t0
    ctx.info(f"seed {seed}: stage 3 (diffusion features): {timings['features']:.1f} s")

    # (4) classifier
    ctx.start_stage("classifier")
    t0 = time.perf_counter()
    fit, val = validation_split(prep.train, validation_fraction(prep.train, tcfg), seed, len(prep.classes),
                                tcfg.val_block_size)
    missing = []  # inputs with one modality missing (modality dropout, the card's figures): aux, then hsi
    if tcfg.modality_dropout > 0 or tcfg.spectral_dropout > 0:
        missing = missing_inputs(ctx, extractor, prep, net.patch_size, tile, halo, net.ddpm.noise_seed,
                                 cache_dir, spectral=tcfg.spectral_dropout > 0)
    source = PatchSource(prep.x, feats, net.patch_size, ctx.device,
                         [(m.channels, m.features) for m in missing],
                         spectral_variant=len(missing) if tcfg.spectral_dropout > 0 else 0)
    n_aux = len(missing) - (1 if tcfg.spectral_dropout > 0 else 0)
    torch.manual_seed(seed + 1)
    classifier = BDGFClassifier(net)
    final = ckpt.load_checkpoint(ckpt_dir / "classifier_final")
    if final is not None:
        classifier.load_state_dict(ckpt.unprefixed("model.", final[0]))
        history, selection = final[1]["history"], final[1]["selection"]
        ctx.info("classifier: loaded the finished training checkpoint")
    else:
        history, selection = train_classifier(ctx, classifier, source, prep.train, fit, val, tcfg, ckpt_dir,
                                              seed, stops.get("classifier"))
        if tcfg.pseudo_rounds > 0:
            classifier, history, selection = self_train(ctx, classifier, source, prep.valid, prep.train, fit,
                                                        val, tcfg, ckpt_dir, seed, history, selection)
        shards = selection.pop("first_epoch_pixels")
        if ctx.distributed:
            gathered = [None] * ctx.world
            dist.all_gather_object(gathered, shards)
            selection["ddp_shards"] = {str(r): g for r, g in enumerate(gathered)}
        if ctx.is_main:
            ckpt.save_checkpoint(ckpt_dir / "classifier_final",
                                 ckpt.prefixed("model.", classifier.state_dict()),
                                 {"history": history, "selection": selection})
        ctx.barrier()
    classifier.to(ctx.device).eval()
    timings["classifier"] = time.perf_counter() - t0
    ctx.info(f"seed {seed}: stage 4 (classifier): {timings['classifier']:.1f} s")
    if not ctx.is_main:
        return {}

    # (5) evaluation
    ctx.start_stage("evaluation")
    t0 = time.perf_counter()
    valid_flat, evaluated = evaluation_pixels(prep, tcfg.eval_stride, tcfg.eval_test_pixels, seed)
    probs, per_branch = predict(ctx, classifier, source, valid_flat, desc="prediction map", branches=True)
    pred_map = np.full(prep.valid.shape, -1, np.int16)
    pred_map.ravel()[valid_flat] = probs.argmax(1)
    metrics = test_metrics(prep, pred_map, evaluated)
    metrics["branch_oa"] = branch_oa(prep, valid_flat, per_branch, list(classifier.branch_names), evaluated)
    del per_branch
    missing_metrics = missing_modality_metrics(ctx, classifier, source, prep, evaluated,
                                               [m.name for m in missing[:n_aux]])
    names, colors = [c.name for c in prep.classes], [c.color for c in prep.classes]
    plots.confusion_matrix_png(np.array(metrics["confusion_matrix"]), names, out / "confusion_matrix.png")
    reference = np.where(prep.test >= 0, prep.test, prep.train)
    plots.class_map_png(fill_strided(pred_map, prep.valid, tcfg.eval_stride), reference, colors, names,
                        out / "prediction_map.png")
    plots.curves_png(ddpm_history, history, out / "training_curves.png", [m["name"] for m in prep.modalities])
    r = net.patch_size // 2
    test_flat = np.flatnonzero(prep.test.ravel() >= 0)
    rows, cols = np.divmod(test_flat, prep.x.shape[2])
    emb, lab = tsne_points(feats[:, rows + r, cols + r].T, prep.test.ravel()[test_flat],
                           tcfg.tsne_points, seed)
    plots.tsne_png(emb, lab, colors, names, out / "tsne_features.png")
    balance, shares = modality_balance(ctx, extractor, prep, net.ddpm.noise_seed)
    plots.modality_balance_png(balance, out / "modality_balance.png")
    masking = masking_summary(ddpm.masking, ddpm_history)
    plots.masking_png(masking, out / "masking_controller.png")
    timings["evaluation"] = time.perf_counter() - t0
    ctx.info(f"seed {seed}: stage 5 (evaluation): {timings['evaluation']:.1f} s")

    # (6) model package
    ctx.start_stage("export")
    t0 = time.perf_counter()
    # oa = OA over the classified test pixels, always next to the coverage and the OA over all of them
    card_metrics = {"oa": metrics["oa"], "coverage": metrics["coverage"],
                    "oa_all_reference": metrics["oa_all_reference"], "aa": metrics["aa"],
                    "kappa": metrics["kappa"],
                    "per_class_accuracy": {c["name"]: c["producers_accuracy"] for c in metrics["classes"]},
                    "branch_oa": metrics["branch_oa"], "test_pixels": metrics["n"]}
    if missing_metrics:
        card_metrics["missing_modality"] = missing_metrics
    training_info = {
        "config": _relative(cfg.source, Path.cwd()) if cfg.source else None, "dataset": cfg.dataset,
        "preset": args.preset,
        "seed": seed, "hyperparameters": dataclasses.asdict(tcfg), "data": prep.summary,
        "validation_pixels": int(len(val)), "fit_pixels": int(len(fit)), "selected_epoch": selection["epoch"],
        "best_val_oa": selection["val_oa"], "epochs": tcfg.epochs, "ddpm_steps": tcfg.ddpm_steps,
        "self_training": selection.get("self_training", []),
        "ablations": {"masking": net.masking.mode, "branches": net.classifier.branches,
                      "guidance": net.classifier.guidance, "mutual": net.mutual.enabled,
                      "cross_model_ddpm": cross},
        "device": str(ctx.device), "world_size": ctx.world, "modality_balance": balance,
        "modality_shares": shares,
        "masking": {k: v for k, v in masking.items() if k != "history"},  # the controller's final state
    }
    card = trained_card(cfg.name, cfg.description, prep, net, tile, halo, stride, training_info, card_metrics)
    content_hash = export_package(out / "model.bdgf", card, extractor, ddpm, classifier, tile)
    timings["export"] = time.perf_counter() - t0
    ctx.info(f"seed {seed}: stage 6 (model package): {timings['export']:.1f} s")
    extra = {"seed": seed, "selection": selection, "missing_modality": missing_metrics,
             "modality_balance": balance, "modality_shares": shares,
             "masking": masking, "timings": timings,
             "package": _relative(out / "model.bdgf", out), "content_hash": content_hash,
             "feature_cache": _relative(feat_path, out), "class_names": names}
    write_metrics(out, metrics, extra)
    write_report(out, cfg.name, metrics, balance, selection, prep.summary, timings,
                 [f"Package: `model.bdgf` ({content_hash})"], shares=shares, masking=masking)
    ctx.info(f"seed {seed}: test OA {metrics['oa']:.4f}, AA {metrics['aa']:.4f}, "
             f"kappa {metrics['kappa']:.4f} "
             f"(majority baseline {metrics['majority_baseline_oa']:.4f}); package {out / 'model.bdgf'}")
    return {**metrics, **extra}


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
        with contextlib.suppress(RuntimeError):  # only allowed before any parallel work
            torch.set_num_interop_threads(args.threads)
    ctx = make_context(args.device)
    if args.progress_stream:
        ctx.stream = ProgressWriter(lambda line: print(line, flush=True))
    if ctx.is_main and not args.resume and (out / "ckpt").exists():
        shutil.rmtree(out / "ckpt")  # fresh run: old checkpoints must not leak in
    log = setup_logging(ctx, out)  # the main process makes the run folder here
    # every process checks the outputs (check_outputs below), so none may pass before the folder exists:
    # a second process that got there first stopped with "Output folder does not exist" (torchrun, loaded CPU)
    ctx.barrier()
    started = time.perf_counter()
    restore_signals = on_termination()
    try:
        cfg = load_config(args.config)
        seeds = parse_seeds(args.seeds, training_config(cfg.training).seed)
        if ctx.stream is not None:
            ctx.stream.seeds = len(seeds)
        ctx.info(f"BDGF training: config {args.config}, out {out}, device {ctx.device}"
                 f"{f' (AMP {ctx.amp_dtype})' if ctx.amp_dtype else ''}, world {ctx.world}, seeds {seeds}")
        ctx.start_stage("prepare")
        t0 = time.perf_counter()
        pca = training_config(cfg.training, preset(args.preset, [1, 1], 2)[1]).pca_components
        check_outputs({"model package": str(out / "model.bdgf")},  # the one guard of every writer
                      inputs={layer.name: str(layer.path) for layer in cfg.layers if layer.path.is_file()})
        prep = prepare(cfg, pca_components=pca, log=ctx.info)
        ctx.info(f"stage 1 (data, statistics{', PCA' if pca else ''}): {time.perf_counter() - t0:.1f} s")
        if ctx.is_main:
            ckpt.atomic_write_json(out / "data_summary.json", {**prep.summary, "modalities": prep.modalities,
                                                                "normalization": prep.normalization})
        cache_dir = Path(args.cache_dir) if args.cache_dir else out / "cache"
        results = {}
        for index, seed in enumerate(seeds):
            if ctx.stream is not None:
                ctx.stream.seed_started(index)
            seed_out = out if len(seeds) == 1 else out / f"seed_{seed}"
            results[seed] = run_seed(ctx, args, cfg, prep, seed, seed_out, cache_dir)
        if ctx.is_main and len(seeds) > 1:
            summary = write_summary(out, results)
            oa = summary["oa"]
            ctx.info(f"seeds {seeds}: OA {100 * oa['mean']:.2f} ± {100 * oa['std']:.2f} %")
        ctx.info(f"done in {time.perf_counter() - started:.1f} s")
        if ctx.stream is not None and ctx.is_main:
            ctx.stream.done(run_summary(out, results))
        return 0
    except StopRequested as exc:
        ctx.info(str(exc))
        return STOPPED_EXIT
    except BDGFError as exc:
        log.error(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as exc:  # Ctrl+C, a scheduler's SIGTERM, QGIS's Cancel
        signal_name = "SIGTERM" if isinstance(exc, Interrupted) else "Ctrl+C"
        packages = sorted(str(p) for p in out.rglob("model.bdgf"))
        written = f"model package(s) already written: {', '.join(packages)}" if packages else \
            "no model package was written"
        message = (f"cancelled ({signal_name}): {written}; the checkpoints in {out / 'ckpt'} are kept: rerun "
                   "with --resume to continue")
        log.warning(message)
        print(message, file=sys.stderr)
        return CANCELLED if signal_name == "Ctrl+C" else TERMINATED
    finally:
        restore_signals()
        close_logging(ctx)
        if ctx.distributed and dist.is_initialized():
            dist.destroy_process_group()


def _relative(path: Path, base: Path) -> str:
    """A path inside `base` relative to it, so metrics.json and the card stay true when a run folder
    moves (the demo is published from a build folder) and carry no machine paths; else as given."""
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return str(path)


if __name__ == "__main__":
    leave(main())

