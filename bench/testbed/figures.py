"""Figures of the testbed benchmark (matplotlib, Agg), written to DOCS/img/."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

BALANCE_FIGURE = "bench_modality_balance.png"


def balance_figure(agg: dict, path: Path) -> bool:
    """Grouped bars: relative feature change per modality (a panel per level), masking off/fixed/adaptive."""
    labels = (("mask_off", "masking off"), ("mask_fixed", "masking fixed"),
              ("bdgf", "masking adaptive (full)"))
    modes = [(k, lbl) for k, lbl in labels if "modality_balance" in agg.get(k, {})]
    if not modes:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = agg[modes[0][0]]["modality_balance"]
    mods, levels = list(first), list(next(iter(first.values())))
    fig, axes = plt.subplots(1, len(levels), figsize=(3.2 * len(levels), 3.0), sharey=True)
    axes = np.atleast_1d(axes)
    x = np.arange(len(mods))
    width = 0.8 / len(modes)
    for ax, lvl in zip(axes, levels):
        for i, (key, label) in enumerate(modes):
            bal = agg[key]["modality_balance"]
            ax.bar(x + (i - (len(modes) - 1) / 2) * width, [bal[m][lvl]["mean"] for m in mods], width,
                   yerr=[bal[m][lvl]["std"] for m in mods], capsize=2, label=label)
        ax.set_xticks(x, mods)
        ax.set_title(f"{lvl} features", fontsize=9)
    axes[0].set_ylabel("relative feature change\nwhen the modality is removed", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def write_figures(agg: dict, results: dict, work: Path, img: Path, prefix: str = "") -> dict[str, str]:
    """The balance figure plus training.run's own modality-balance figures of the first seed of the
    masking-off and full rows, copied; returns {file name: caption}. `prefix` starts every file name
    (two benchmarks share docs/bench/img)."""
    figures = {}
    if balance_figure(agg, img / f"{prefix}{BALANCE_FIGURE}"):
        figures[f"{prefix}{BALANCE_FIGURE}"] = ("Modality balance of the diffusion features with masking "
                                                "off, fixed and adaptive (mean ± std over seeds)")
    for key, label in (("mask_off", "masking off"), ("bdgf", "adaptive masking (full BDGF)")):
        if results.get(key):
            s = sorted(results[key], key=int)[0]
            src = work / "runs" / key / f"seed_{s}" / "modality_balance.png"
            if src.is_file():
                name = f"{prefix}modality_balance_{key}_seed{s}.png"
                img.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, img / name)
                figures[name] = f"training.run's modality-balance figure, {label}, seed {s}"
    return figures
