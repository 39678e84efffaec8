"""Train/test/validation splits of a label image (seeded; optionally spatially disjoint blocks).

Labels are class indices: -1 = unlabelled, 0..n-1 = class k.
"""
from __future__ import annotations

import numpy as np

from training.config import ConfigError, SplitConfig


def _wanted(count: int, split: SplitConfig) -> int:
    """Training pixels wanted for a class with `count` labelled pixels (at least 1, leaving 1 for test)."""
    if split.per_class is not None:
        want = split.per_class
    else:
        want = int(round(split.ratio * count))
    return int(min(max(want, 1), max(count - 1, 1)))


def split_labels(labels: np.ndarray, split: SplitConfig, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) label images from one label image; pixel-wise or block-wise (disjoint)."""
    if split.block_size > 0:
        return _split_blocks(labels, split, n_classes)
    rng = np.random.default_rng(split.seed)
    train = np.full_like(labels, -1)
    flat = labels.ravel()
    for k in range(n_classes):
        idx = np.flatnonzero(flat == k)
        if idx.size == 0:
            continue
        chosen = rng.permutation(idx)[:_wanted(idx.size, split)]
        train.ravel()[chosen] = k
    test = np.where(train >= 0, -1, labels)
    return train, test


def block_ids(shape: tuple[int, int], block: int) -> np.ndarray:
    rows, cols = np.indices(shape)
    n_cols = -(-shape[1] // block)
    return (rows // block) * n_cols + cols // block


def _split_blocks(labels: np.ndarray, split: SplitConfig, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole blocks go to training until every class has its quota; the rest is test.

    A training block's pixels beyond a class quota are dropped (neither train nor test), so no
    test pixel shares a block with a training pixel.
    """
    rng = np.random.default_rng(split.seed)
    ids = block_ids(labels.shape, split.block_size)
    labelled = labels >= 0
    counts = np.bincount(labels[labelled], minlength=n_classes)
    need = np.array([_wanted(c, split) if c else 0 for c in counts])
    train = np.full_like(labels, -1)
    block_of = ids[labelled]
    cls_of = labels[labelled]
    order = rng.permutation(np.unique(block_of))
    taken = np.zeros(n_classes, dtype=np.int64)
    train_blocks = []
    by_block = {}
    sort = np.argsort(block_of, kind="stable")
    bounds = np.searchsorted(block_of[sort], order)
    ends = np.searchsorted(block_of[sort], order, side="right")
    for b, lo, hi in zip(order, bounds, ends):
        by_block[b] = np.bincount(cls_of[sort[lo:hi]], minlength=n_classes)
    for b in order:
        if (taken >= need).all():
            break
        present = by_block[b]
        if ((present > 0) & (taken < need)).any():
            train_blocks.append(b)
            taken += present
    in_train_block = np.isin(ids, train_blocks)
    quota = need.copy()
    flat_idx = np.flatnonzero((in_train_block & labelled).ravel())
    flat_idx = rng.permutation(flat_idx)
    for k in range(n_classes):
        idx = flat_idx[labels.ravel()[flat_idx] == k][:quota[k]]
        train.ravel()[idx] = k
    test = np.where(in_train_block, -1, labels)
    return train, test


def validation_split(train: np.ndarray, fraction: float, seed: int,
                     n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel indices (fit, val): a stratified `fraction` of each class, >= 1 fit pixel per class."""
    rng = np.random.default_rng(seed + 7919)
    fit, val = [], []
    flat = train.ravel()
    for k in range(n_classes):
        idx = rng.permutation(np.flatnonzero(flat == k))
        n_val = min(int(round(fraction * idx.size)), idx.size - 1) if fraction > 0 else 0
        val.append(idx[:n_val])
        fit.append(idx[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))


def check_training_classes(train: np.ndarray, class_names: list[str]) -> None:
    counts = np.bincount(train[train >= 0], minlength=len(class_names))
    empty = [f"{name!r}" for name, c in zip(class_names, counts) if c == 0]
    if empty:
        raise ConfigError(f"class(es) {', '.join(empty)} have no training pixels inside the valid area "
                          "of all layers; add samples, change the split or remove the class from [[classes]]")
