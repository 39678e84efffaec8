"""Every train/test(/validation) split of a label image: the one home for drawing training pixels.

    from training.splits import split_labels; train, test = split_labels(labels, cfg.labels.split, n_classes)

Three rules, all seeded:
* `split_labels` (the [labels.split] rule of a training config: a count or a ratio per class, pixel-wise
  or in spatially disjoint blocks), with `validation_split` and `check_training_classes` after it;
  `split_features` (the same rule by whole labelled features: a polygon is never on both sides);
* `split_per_class` (an explicit count per class, e.g. the common Trento split the importer writes);
  `split_labels` draws through it, so a config rule and an imported split agree for the same seed;
* `split_by_purity` (sparse blobs on pure pixels + a guard ring, for synthetic scenes where the
  purity of every pixel is known), built on `sample_sparse_labels`.
Label encodings differ by where the labels come from: `split_labels` and `validation_split` take the
training encoding (-1 = unlabelled, 0..n-1 = class k); the raster rules `split_per_class`,
`sample_sparse_labels` and `split_by_purity` take label rasters (0 = unlabelled, 1..K = class).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from training.config_checks import ConfigError
from training.label_config import SplitConfig


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
    counts = np.bincount(labels[labels >= 0], minlength=n_classes)[:n_classes]
    # via the raster encoding (0 = unlabelled): one draw, so a [labels.split] rule and split_per_class
    # pick the same pixels for the same seed and counts
    shifted = labels.astype(np.promote_types(labels.dtype, np.int32)) + 1
    train, _ = split_per_class(shifted, [_wanted(int(c), split) for c in counts], split.seed)
    train = (train - 1).astype(labels.dtype)
    test = np.where(train >= 0, -1, labels)
    return train, test


def split_features(labels: np.ndarray, features: np.ndarray, split: SplitConfig,
                   n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) keeping each labelled feature (polygon, point) whole on one side: per class, the
    features in a seeded order go to training until the class has its quota of pixels (`_wanted`), the
    rest to test; a class with two or more features keeps at least one for test. `features` holds each
    pixel's 1-based feature number (0 = none), `labels` the training encoding (-1 = unlabelled)."""
    rng = np.random.default_rng(split.seed)
    train = np.full_like(labels, -1)
    labelled = (labels >= 0) & (features > 0)
    flat_labels, flat_features = labels[labelled], features[labelled]
    train_features = []
    for k in range(n_classes):
        ids, sizes = np.unique(flat_features[flat_labels == k], return_counts=True)
        if not ids.size:
            continue
        order = rng.permutation(ids.size)
        need, taken = _wanted(int(sizes.sum()), split), 0
        for i in order[:max(ids.size - 1, 1)]:  # the last one stays for test
            if taken >= need:
                break
            train_features.append(int(ids[i]))
            taken += int(sizes[i])
    in_train = np.isin(features, train_features) & (labels >= 0)
    train[in_train] = labels[in_train]
    test = np.where(in_train, -1, labels)
    return train, test


def split_per_class(labels: np.ndarray, per_class: Sequence[int],
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) of a label raster (0 = unlabelled, 1..K): `per_class[k-1]` random pixels of class
    k for training (all of them when fewer), every other labelled pixel for testing."""
    rng = np.random.default_rng(seed)
    train = np.zeros(labels.shape, labels.dtype)  # C order, so ravel() below is a view
    flat = labels.ravel()
    for k, n in enumerate(per_class, 1):
        idx = np.flatnonzero(flat == k)
        if idx.size == 0:  # an absent class draws no random numbers: the others' pixels do not depend on it
            continue
        train.ravel()[rng.permutation(idx)[:n]] = k
    return train, np.where(train > 0, 0, labels).astype(labels.dtype)


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


def validation_fraction(train: np.ndarray, tcfg) -> float:
    """tcfg.val_fraction, or 0 when some class has fewer than tcfg.val_min_per_class training pixels."""
    if tcfg.val_min_per_class > 0:
        counts = np.bincount(train[train >= 0].ravel(), minlength=1)
        present = counts[counts > 0]
        if not len(present) or present.min() < tcfg.val_min_per_class:
            return 0.0
    return tcfg.val_fraction


def validation_split(train: np.ndarray, fraction: float, seed: int, n_classes: int,
                     block_size: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel indices (fit, val): about `fraction` of each class, >= 1 fit pixel per class.

    block_size > 0 draws whole blocks of that side, so no validation pixel shares a block with a fitting
    pixel: pixel-wise validation pixels sit next to fitting pixels of the same training blob, validate
    at ~100 % and cannot guide model selection.
    """
    rng = np.random.default_rng(seed + 7919)
    flat = train.ravel()
    if block_size > 0:
        return _validation_blocks(flat, block_ids(train.shape, block_size).ravel(), fraction, n_classes, rng)
    fit, val = [], []
    for k in range(n_classes):
        idx = rng.permutation(np.flatnonzero(flat == k))
        n_val = min(int(round(fraction * idx.size)), idx.size - 1) if fraction > 0 else 0
        val.append(idx[:n_val])
        fit.append(idx[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))


def _validation_blocks(flat: np.ndarray, ids: np.ndarray, fraction: float, n_classes: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Greedy: blocks in random order go to validation while they bring a class still short of its
    quota and leave every class they hold at least one fitting pixel."""
    labelled = np.flatnonzero(flat >= 0)
    counts = np.bincount(flat[labelled], minlength=n_classes)
    quota = np.minimum(np.round(fraction * counts), np.maximum(counts - 1, 0)) if fraction > 0 \
        else np.zeros(n_classes)
    taken = np.zeros(n_classes, np.int64)
    block_of = ids[labelled]
    val_blocks = []
    for b in rng.permutation(np.unique(block_of)):
        inside = np.bincount(flat[labelled[block_of == b]], minlength=n_classes)
        held = inside > 0
        if (taken[held] < quota[held]).any() and (taken + inside <= counts - 1)[held].all():
            val_blocks.append(b)
            taken += inside
    in_val = np.isin(block_of, val_blocks)
    return np.sort(labelled[~in_val]), np.sort(labelled[in_val])


def check_training_classes(train: np.ndarray, class_names: list[str]) -> None:
    counts = np.bincount(train[train >= 0], minlength=len(class_names))
    empty = [f"{name!r}" for name, c in zip(class_names, counts) if c == 0]
    if empty:
        raise ConfigError(f"class(es) {', '.join(empty)} have no training pixels inside the valid area "
                          "of all layers; add samples, change the split or remove the class from [[classes]]")


def sample_sparse_labels(labels: np.ndarray, purity: np.ndarray, rng: np.random.Generator,
                         per_class: int = 60, fraction: float | None = None,
                         max_share: float = 0.2) -> np.ndarray:
    """Sparse training labels: small blobs (radius 1-2 px) on pure pixels of each class.

    Target per class: `fraction` of its pixels when given, else `per_class`; never more
    than `max_share` of the class (at least one blob).
    """
    train = np.zeros_like(labels)
    h, w = labels.shape
    for c in np.unique(labels[labels > 0]):
        m = labels == c
        pure = m & (purity >= 0.999)
        # blob centres away from class edges, so blobs stay pure; small classes fall back to any pixel
        cand = ndimage.binary_erosion(pure)
        if not cand.any():
            cand = pure if pure.any() else m
        total = int(m.sum())
        target = int(round(fraction * total)) if fraction is not None else per_class
        target = max(1, min(target, int(max_share * total)))
        idx = np.flatnonzero(cand)
        rng.shuffle(idx)
        got = 0
        for i in idx:
            if got >= target:
                break
            r, col = divmod(int(i), w)
            if train[r, col]:
                continue
            rad = int(rng.integers(1, 3))
            r0, r1, c0, c1 = max(0, r - rad), min(h, r + rad + 1), max(0, col - rad), min(w, col + rad + 1)
            yy, xx = np.ogrid[r0 - r:r1 - r, c0 - col:c1 - col]
            blob = (yy ** 2 + xx ** 2 <= rad ** 2 + 1) & pure[r0:r1, c0:c1] & (train[r0:r1, c0:c1] == 0)
            if not blob.any():
                blob = np.zeros_like(blob)
                blob[r - r0, col - c0] = True
            train[r0:r1, c0:c1][blob] = c
            got += int(blob.sum())
    return train


def split_by_purity(labels: np.ndarray, purity: np.ndarray, rng: np.random.Generator, guard: int = 1,
                    **kw) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) of a label raster with a per-pixel `purity` (0..1): sparse blobs on pure pixels
    (`sample_sparse_labels`, which takes `kw`), and every other labelled pixel at least `guard` px away.

    Blobs and the guard ring mimic hand-digitised samples: the test set never touches a training pixel,
    so neighbouring (spatially correlated) pixels cannot inflate the test accuracy.
    """
    train = sample_sparse_labels(labels, purity, rng, **kw)
    near = ndimage.binary_dilation(train > 0, iterations=guard) if guard > 0 else train > 0
    test = np.where(near, 0, labels).astype(np.uint8)
    return train, test
