"""Rebuild the bundled demo: the synthetic scene in resources/demo and the model in resources/models.

Run with `make demo-assets`. The commands it runs are written to resources/models/README.md.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
MODELS = REPO / "resources" / "models"
TRAIN_OUT = REPO / "build" / "demo-train"
SCENE_CMD = ["-m", "training.synthetic", "--out", "resources/demo", "--size", "128x160", "--seed", "7",
             "--grids", "mixed"]
LABELS_CMD = ["-m", "scripts.demo_labels", "resources/demo"]  # label polygons for Train in the dock
TRAIN_CMD = ["-m", "training.run", "--config", "resources/demo/config.toml", "--out", "build/demo-train",
             "--preset", "quick"]
KEEP = ("report.md", "metrics.json", "confusion_matrix.png", "prediction_map.png", "training_curves.png",
        "tsne_features.png", "modality_balance.png", "train.log")


def run(args: list[str]) -> None:
    print("+ python " + " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.rmtree(TRAIN_OUT, ignore_errors=True)
    t0 = time.perf_counter()
    run(SCENE_CMD)
    run(LABELS_CMD)
    run(TRAIN_CMD)
    publish((time.perf_counter() - t0) / 60)
    return 0


def publish(minutes: float) -> None:
    """Copy the trained package and its report next to the demo, with the commands that made them."""
    MODELS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TRAIN_OUT / "model.bdgf", MODELS / "demo.bdgf")
    report_dir = MODELS / "demo_report"
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir()
    for name in KEEP:
        if (TRAIN_OUT / name).exists():
            shutil.copyfile(TRAIN_OUT / name, report_dir / name)
    (MODELS / "README.md").write_text(
        "# Demo model\n\n"
        "`demo.bdgf` was trained on the synthetic demo scene in `../demo/` by `make demo-assets`, "
        f"which ran (from the repository root, {minutes:.1f} min on a 2-core CPU):\n\n"
        "```\n"
        f"python {' '.join(SCENE_CMD)}\n"
        f"python {' '.join(LABELS_CMD)}\n"
        f"python {' '.join(TRAIN_CMD)}\n"
        "```\n\n"
        "Its training report (metrics on the scene's dense test labels, plots) is in "
        "[demo_report/report.md](demo_report/report.md). The scene is synthetic (see "
        "`training/synthetic/`): its accuracies say nothing about real benchmarks.\n"
    )
    print(f"demo assets rebuilt in {minutes:.1f} min: {MODELS / 'demo.bdgf'}")


if __name__ == "__main__":
    sys.exit(main())
