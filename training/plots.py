"""PNG figures of a training run (matplotlib Agg; never opens a window)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402


def _save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion_matrix_png(cm: np.ndarray, names: list[str], path) -> None:
    """Row-normalised confusion matrix (rows = reference) with counts."""
    n = len(names)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n, 1.0 + 0.55 * n))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title("Confusion matrix (test pixels)")
    _save(fig, path)


def class_map_png(pred: np.ndarray, reference: np.ndarray, colors: list[str], names: list[str], path) -> None:
    """Predicted map (class index, -1 = nodata) next to the reference labels (test + train)."""
    cmap = ListedColormap(["#ffffff", *colors])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6 * pred.shape[0] / max(pred.shape[1], 1) + 1.2))
    for ax, image, title in zip(axes, (pred, reference), ("Prediction", "Reference labels")):
        ax.imshow(image + 1, cmap=cmap, vmin=0, vmax=len(colors), interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curves_png(ddpm_loss: list[dict], history: list[dict], path, modality_names: list[str]) -> None:
    """DDPM loss (balanced total and per modality), classifier loss, train / validation OA per epoch."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    if ddpm_loss:
        steps = [r["step"] for r in ddpm_loss]
        labels = {"loss": "balanced total", **{f"loss_{i}": n for i, n in enumerate(modality_names)}}
        for key, label in labels.items():
            if key in ddpm_loss[0]:
                axes[0].plot(steps, [r[key] for r in ddpm_loss], label=label, lw=1)
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=7)
    axes[0].set_title("DDPM pre-training loss")
    axes[0].set_xlabel("step")
    epochs = [h["epoch"] for h in history]
    axes[1].plot(epochs, [h["loss"] for h in history], label="train loss")
    axes[1].set_title("Classifier loss")
    axes[1].set_xlabel("epoch")
    axes[2].plot(epochs, [h["train_oa"] for h in history], label="train OA")
    axes[2].plot(epochs, [h["val_oa"] for h in history], label="validation OA")
    axes[2].set_ylim(0, 1.01)
    axes[2].legend(fontsize=8)
    axes[2].set_title("Accuracy")
    axes[2].set_xlabel("epoch")
    _save(fig, path)


def tsne_png(points: np.ndarray, labels: np.ndarray, colors: list[str], names: list[str], path) -> None:
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, (color, name) in enumerate(zip(colors, names)):
        sel = labels == k
        if sel.any():
            ax.scatter(points[sel, 0], points[sel, 1], s=5, c=color, label=name)
    ax.legend(fontsize=7, markerscale=2)
    ax.set_title("t-SNE of diffusion features (test pixels)")
    ax.set_xticks([])
    ax.set_yticks([])
    _save(fig, path)


def modality_balance_png(balance: dict[str, dict[str, float]], path) -> None:
    """Relative change of the diffusion features per level when each modality is zeroed."""
    modalities = list(balance)
    levels = list(next(iter(balance.values())))
    x = np.arange(len(modalities))
    width = 0.8 / len(levels)
    fig, ax = plt.subplots(figsize=(2 + 1.5 * len(modalities), 3.8))
    for i, level in enumerate(levels):
        ax.bar(x + i * width - 0.4 + width / 2, [balance[m][level] for m in modalities], width, label=level)
    ax.set_xticks(x, modalities)
    ax.set_ylabel("relative feature change")
    ax.set_title("Modality balance of the diffusion features")
    ax.legend(fontsize=8)
    _save(fig, path)


def masking_png(masking: dict, path) -> None:
    """The masking controller over pre-training: measured spectral share (and its target), r_s, p_m."""
    rows = [r for r in masking.get("history", []) if r.get("spectral_share") is not None]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    if rows:
        steps = [r["step"] for r in rows]
        ax.plot(steps, [r["spectral_share"] for r in rows], label="spectral share of the features", lw=1.5)
        ax.plot(steps, [r["structure_ratio"] for r in rows], label="structure mask ratio r_s", lw=1)
        ax.plot(steps, [r["sample_ratio"] for r in rows], label="sample mask ratio p_m", lw=1)
        ax.axhline(masking["target_share"], color="grey", ls="--", lw=1, label="target share")
    ax.set_ylim(0, 1)
    ax.set_xlabel("DDPM step")
    ax.set_title(f"Modality masking ({masking.get('mode', '?')})")
    ax.legend(fontsize=7)
    _save(fig, path)
