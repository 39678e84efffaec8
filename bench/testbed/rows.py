"""What the testbed benchmark runs: its rows (ablations and baselines) and settings (full, quick, gpu)."""
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


ROWS = (
    Row("bdgf", "BDGF full (adaptive masking, guidance, CNN+Mamba+Transformer, mutual learning)", "bdgf"),
    Row("mask_off", "masking off", "bdgf", ("--masking", "off")),
    Row("mask_fixed", "masking fixed (no adaptation, no warm-up)", "bdgf", ("--masking", "fixed")),
    Row("no_guidance", "guidance off (all branches)", "bdgf",
        ("--no-guidance", "cnn", "--no-guidance", "mamba", "--no-guidance", "transformer"), "shared"),
    Row("cnn", "CNN branch alone (guided)", "bdgf", ("--branches", "cnn"), "shared"),
    Row("mamba", "Mamba branch alone (guided)", "bdgf", ("--branches", "mamba"), "shared"),
    Row("transformer", "Transformer branch alone (guided)", "bdgf", ("--branches", "transformer"), "shared"),
    Row("no_mutual", "mutual learning off", "bdgf", ("--no-mutual",), "shared"),
    Row("cross_model", "cross-model diffusion features (DDPM pre-trained on another scene)", "bdgf", (),
        "cross"),
    Row("rf", "Random Forest (stacked bands, per pixel)", "baseline"),
    Row("svm", "SVM RBF (stacked bands, standardised, per pixel)", "baseline"),
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


FULL = Settings(
    name="full", size=(128, 160), bands=64, seeds=(0, 1, 2), rows=tuple(r.key for r in ROWS), preset="quick",
    training={"tile_size": 128, "ddpm_steps": 1000, "epochs": 40, "tsne_points": 60})
QUICK = Settings(
    name="quick", size=(32, 40), bands=16, seeds=(0,), rows=("rf", "bdgf", "mask_off"), preset="quick",
    training={"tile_size": 64, "ddpm_steps": 12, "epochs": 2, "tsne_points": 60}, train_per_class=20)
GPU = Settings(
    name="gpu", size=(192, 256), bands=64, seeds=(0, 1, 2), rows=tuple(r.key for r in ROWS), preset="default",
    training={"tile_size": 128, "ddpm_steps": 2000, "epochs": 40, "tsne_points": 1000}, device="cuda",
    threads=0)


def settings_from(args) -> Settings:
    """The settings the command line asks for (--quick / --gpu / --rows / --seeds / --size / --no-infer)."""
    if args.quick and args.gpu:
        raise SystemExit("error: choose one of --quick and --gpu")
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
