"""Self-training for few labels: unlabelled pixels the trained classifier is sure of become labels.

A pixel qualifies when every branch's class equals the fused class (the three branches look at the data
differently, so their agreement is a better filter than the fused confidence alone) and the fused
probability reaches `pseudo_threshold`. Up to `pseudo_per_class` qualifying pixels per class are drawn at
random (seeded), which spreads them over the scene instead of taking the most typical pixels next to the
training blocks. Validation pixels are never candidates: they stay an independent check.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.nn.bdgf import BDGFClassifier
from engine.trust.uncertainty import branch_agreement as agreement_share
from training.config import TrainingConfig
from training.context import RunContext
from training.stage_classifier import PatchSource, train_classifier

MAX_CANDIDATES = 20000  # pixels scored per round: enough for 50 per class, cheap on a CPU


@dataclass(frozen=True)
class PseudoLabels:
    flat: np.ndarray  # flat pixel indices on the training grid
    classes: np.ndarray  # class index of each
    candidates: int  # unlabelled pixels scored
    confident: int  # of those: branches agree and fused probability >= threshold
    per_class: list[int]  # pixels taken per class

    def summary(self, round_: int) -> dict:
        return {"round": round_, "candidates": self.candidates, "confident": self.confident,
                "per_class": self.per_class, "added": int(len(self.flat))}


@torch.no_grad()
def branches_agree(ctx: RunContext, model: BDGFClassifier, source: PatchSource, flat: np.ndarray,
                   batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(fused probabilities (N, K), every branch's argmax == the fused argmax (N,))."""
    was = model.training
    model.eval()
    probs, agree = [], []
    idx = torch.from_numpy(np.asarray(flat, np.int64)).to(source.x.device)
    for s in range(0, len(idx), batch):
        xp, dp = source.get(idx[s:s + batch])
        with ctx.autocast():
            out = model.forward_train(xp, dp)
        fused = out["probs"].float().cpu().numpy()
        branches = torch.stack([torch.softmax(lg.float(), 1) for lg in out["logits"]]).cpu().numpy()
        # the engine's agreement measure (share of branches voting for the fused class), all of them
        share = agreement_share(branches.transpose(0, 2, 1), fused.argmax(1))
        probs.append(fused)
        agree.append(share >= 1.0)
    model.train(was)
    if not probs:
        return np.zeros((0, model.cfg.n_classes), np.float32), np.zeros(0, bool)
    return np.concatenate(probs), np.concatenate(agree)


def select_pseudo_labels(ctx: RunContext, model: BDGFClassifier, source: PatchSource, valid: np.ndarray,
                         train: np.ndarray, tcfg: TrainingConfig, seed: int) -> PseudoLabels:
    """Pseudo-labels among the valid pixels that carry no training (or validation) label."""
    rng = np.random.default_rng([seed, 104729])
    n_classes = model.cfg.n_classes
    candidates = np.flatnonzero(valid.ravel() & (train.ravel() < 0))
    if len(candidates) > MAX_CANDIDATES:
        candidates = np.sort(rng.choice(candidates, MAX_CANDIDATES, replace=False))
    probs, agree = branches_agree(ctx, model, source, candidates)
    cls = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
    confident = agree & (probs.max(1) >= tcfg.pseudo_threshold) if len(probs) else np.zeros(0, bool)
    flat, classes, per_class = [], [], []
    for k in range(n_classes):
        pool = candidates[confident & (cls == k)]
        take = np.sort(rng.permutation(pool)[:tcfg.pseudo_per_class])
        flat.append(take)
        classes.append(np.full(len(take), k, np.int64))
        per_class.append(int(len(take)))
    return PseudoLabels(np.concatenate(flat), np.concatenate(classes), int(len(candidates)),
                        int(confident.sum()), per_class)


def self_train(ctx: RunContext, model: BDGFClassifier, source: PatchSource, valid: np.ndarray,
               train: np.ndarray, fit: np.ndarray, val: np.ndarray, tcfg: TrainingConfig, ckpt_dir: Path,
               seed: int, history: list[dict], selection: dict) -> tuple[BDGFClassifier, list[dict], dict]:
    """`tcfg.pseudo_rounds` rounds: pseudo-labels from the current model, then a classifier trained again
    from the same initialisation (seed + 1) on labels + pseudo-labels. Returns (model, history, selection)
    with `selection["self_training"]` listing what each round added."""
    rounds = []
    first_pass = selection.get("first_epoch_pixels")  # DDP shards: reported for the labelled round
    for r in range(1, tcfg.pseudo_rounds + 1):
        pseudo = select_pseudo_labels(ctx, model, source, valid, train, tcfg, seed + r)
        rounds.append(pseudo.summary(r))
        ctx.info(f"self-training round {r}: {pseudo.confident} of {pseudo.candidates} unlabelled pixels "
                 f"confident; added per class {pseudo.per_class}")
        if not len(pseudo.flat):
            break
        labels = train.copy()
        labels.ravel()[pseudo.flat] = pseudo.classes
        torch.manual_seed(seed + 1)
        model = BDGFClassifier(model.cfg)
        more, selection = train_classifier(ctx, model, source, labels, np.union1d(fit, pseudo.flat), val,
                                           tcfg, ckpt_dir, seed, name=f"classifier_r{r}")
        history = history + [{**row, "round": r} for row in more]
    return model, history, {**selection, "first_epoch_pixels": first_pass, "self_training": rounds}
