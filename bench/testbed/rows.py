"""What the testbed benchmark runs: its rows (ablations and baselines) and settings.

Two testbeds. *easy* (settings full, quick, gpu; docs/bench/testbed.*): 64 bands, 60 training pixels per
class in pure blobs, the CI smoke via --quick. *hard* (settings hard, hard-quick;
docs/bench/testbed_hard.*): a testbed where modality balance matters: many spectral bands (strong
spectral signal for most classes), a few auxiliary bands that alone separate the aux-only class pairs,
few labels per class, training / test pixels in spatially disjoint blocks and validation blocks apart
from the fitting pixels; the split seed is the run seed, so every row of a seed sees the same split.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    kind: str  # "bdgf" | "baseline"
    args: tuple[str, ...] = ()
    ddpm: str = "own"  # "own": pre-trains its DDPM; "shared": the full model's DDPM; "cross": other scene
    removes: str = ""  # what the ablation takes away from full BDGF (the component its verdict is about)


ROWS = (
    Row("bdgf", "BDGF full (adaptive masking, guidance, CNN+Mamba+Transformer, mutual learning)", "bdgf"),
    Row("mask_off", "masking off", "bdgf", ("--masking", "off"), removes="masking"),
    Row("mask_fixed", "masking fixed (no adaptation, no warm-up)", "bdgf", ("--masking", "fixed"),
        removes="the adaptation of the masking"),
    Row("no_guidance", "guidance off (all branches)", "bdgf",
        ("--no-guidance", "cnn", "--no-guidance", "mamba", "--no-guidance", "transformer"), "shared",
        removes="diffusion guidance"),
    Row("cnn", "CNN branch alone (guided)", "bdgf", ("--branches", "cnn"), "shared",
        removes="the Mamba and Transformer branches"),
    Row("mamba", "Mamba branch alone (guided)", "bdgf", ("--branches", "mamba"), "shared",
        removes="the CNN and Transformer branches"),
    Row("transformer", "Transformer branch alone (guided)", "bdgf", ("--branches", "transformer"), "shared",
        removes="the CNN and Mamba branches"),
    Row("no_mutual", "mutual learning off", "bdgf", ("--no-mutual",), "shared", removes="mutual learning"),
    Row("cross_model", "cross-model diffusion features (DDPM pre-trained on another scene)", "bdgf", (),
        "cross", removes="the DDPM pre-trained on this scene"),
    Row("rf", "Random Forest (stacked bands, per pixel)", "baseline"),
    Row("svm", "SVM RBF (stacked bands, standardised, per pixel)", "baseline"),
    Row("svm_spatial", "SVM RBF, spatial-spectral (each band + its 5 × 5 mean, standardised)", "baseline"),
)
ROW_BY_KEY = {r.key: r for r in ROWS}


@dataclass
class Settings:
    name: str
    size: tuple[int, int]  # scene H, W (HSI pixels)
    bands: int
    seeds: tuple[int, ...]
    rows: tuple[str, ...]
    preset: str
    training: dict  # [training] overrides appended to the scene config
    scene_seed: int = 0
    cross_scene_seed: int = 1
    train_per_class: int = 60
    device: str = "cpu"
    threads: int = 1  # torch threads per training run (1 is fastest on a busy CPU); 0 = PyTorch's default
    infer: bool = True
    testbed: str = "easy"  # "easy": blob labels (train.tif / test.tif); "hard": block split of labels.tif
    aux_bands: dict = dataclasses.field(default_factory=dict)  # hard: {aux name: 1-based bands kept}
    split: dict = dataclasses.field(default_factory=dict)  # hard: [labels.split] without seed (= run seed)


FULL = Settings(
    name="full", size=(128, 160), bands=64, seeds=(0, 1, 2), rows=tuple(r.key for r in ROWS), preset="quick",
    training={"tile_size": 128, "ddpm_steps": 1000, "epochs": 40, "tsne_points": 60})
QUICK = Settings(
    name="quick", size=(32, 40), bands=16, seeds=(0,), rows=("rf", "bdgf", "mask_off"), preset="quick",
    training={"tile_size": 64, "ddpm_steps": 12, "epochs": 2, "tsne_points": 60}, train_per_class=20)
GPU = Settings(
    name="gpu", size=(192, 256), bands=64, seeds=(0, 1, 2), rows=tuple(r.key for r in ROWS), preset="paper",
    training={"tile_size": 128, "ddpm_steps": 2000, "epochs": 40, "tsne_points": 1000}, device="cuda",
    threads=0)
# The hard testbed. 160 HSI bands (400-2500 nm): every class but the aux-only pairs is separable by its
# spectrum; SAR VV + VH and the nDSM (3 auxiliary bands) alone separate trees / grass and roof / paved
# ground. 10 labelled pixels per class, drawn in 16 x 16 px blocks (test = every labelled pixel outside
# the training blocks); validation pixels in 8 x 8 px blocks apart from the fitting pixels
# (training.val_block_size, used when the training code has it: see OPTIONAL_TRAINING_KEYS).
HARD = Settings(
    name="hard", testbed="hard", size=(96, 128), bands=160, seeds=(0, 1, 2, 3, 4),
    rows=tuple(r.key for r in ROWS), preset="quick",
    training={"tile_size": 128, "ddpm_steps": 800, "epochs": 30, "tsne_points": 60, "val_block_size": 8},
    aux_bands={"sar": [1, 2]}, split={"per_class": 10, "block_size": 16}, infer=False)
HARD_QUICK = Settings(
    name="hard-quick", testbed="hard", size=(48, 64), bands=150, seeds=(0,), rows=("rf", "bdgf", "mask_off"),
    preset="quick",
    training={"tile_size": 64, "ddpm_steps": 12, "epochs": 2, "tsne_points": 60, "val_block_size": 4},
    aux_bands={"sar": [1, 2]}, split={"per_class": 10, "block_size": 8}, infer=False)
# [training] keys the training code may not know yet (added in issue #11): dropped, with a note in the
# report, when training.config.TrainingConfig lacks them.
OPTIONAL_TRAINING_KEYS = ("val_block_size",)
TESTBEDS = ("easy", "hard")


def supported_training(training: dict) -> tuple[dict, list[str]]:
    """The [training] table the installed training code accepts, and the optional keys it had to drop."""
    from training.config import TrainingConfig

    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    dropped = [k for k in training if k in OPTIONAL_TRAINING_KEYS and k not in known]
    return {k: v for k, v in training.items() if k not in dropped}, dropped


def settings_from(args) -> Settings:
    """The settings the command line asks for (--testbed / --quick / --gpu / --rows / --seeds / --size /
    --no-infer)."""
    if args.quick and args.gpu:
        raise SystemExit("error: choose one of --quick and --gpu")
    testbed = getattr(args, "testbed", None) or "easy"
    if testbed == "hard":
        if args.gpu:
            raise SystemExit("error: --gpu runs the easy testbed; the hard testbed is sized for the CPU")
        st = dataclasses.replace(HARD_QUICK if args.quick else HARD)
    else:
        st = dataclasses.replace(QUICK if args.quick else GPU if args.gpu else FULL)
    if args.rows:
        rows = tuple(r.strip() for r in args.rows.split(",") if r.strip())
        bad = [r for r in rows if r not in ROW_BY_KEY]
        if bad:
            raise SystemExit(f"error: unknown row(s) {bad}; choose from {','.join(ROW_BY_KEY)}")
        st.rows = tuple(r for r in ROW_BY_KEY if r in rows)  # canonical order (bdgf before shared rows)
    if args.seeds:
        st.seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.size:
        st.size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.no_infer:
        st.infer = False
    return st
