"""Classical baselines for the benchmark: Random Forest and RBF-SVM (scikit-learn), per pixel, and the
spatial-spectral SVM an expert builds in EnMAP-Box or SCP where labels are few and the data noisy.

Features: the stacked bands of every configured layer, aligned on the spectral grid with
`engine.raster.read.read_aligned_stack` (bilinear), SAR converted to dB (10 log10, floored at -40 dB),
then standardised with the mean / std of the training pixels. Training pixels: the config's
train raster; test pixels: its test raster minus training pixels, valid in every layer (the same
rule as training.prepare, so the test set equals the one BDGF is evaluated on when all layers share
the spectral grid). The SVM's C and gamma are chosen by 3-fold stratified cross-validation on
the training pixels only.

Spatial-spectral features (`load_pixels(..., spatial=True)`): every band, plus its mean over the 5 x 5
window around the pixel, over the window's valid pixels only (nodata-aware: invalid pixels and the area
past the scene edge are left out of the mean, not read as 0). Standardising after the mean is the same as
averaging standardised bands (an affine map commutes with a weighted mean).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.accuracy.metrics import compute_metrics, confusion_matrix
from engine.raster import labels as label_io
from engine.raster import read as raster
from training.config import ConfigError, RunConfig, load_config

BASELINES = ("rf", "svm")


@dataclass
class PixelData:
    x_train: np.ndarray  # (n_train, n_features) float32, not yet standardised
    y_train: np.ndarray  # (n_train,) class values
    x_test: np.ndarray
    y_test: np.ndarray
    values: list[int]  # class values, in config order
    names: list[str]
    feature_names: list[str]


SPATIAL_WINDOW = 5  # side of the spatial-spectral features' mean window (pixels)


def window_means(stack: np.ndarray, valid: np.ndarray, side: int = SPATIAL_WINDOW) -> np.ndarray:
    """(F, H, W) mean of each band over the side x side window around each pixel, counting only `valid`
    pixels (H, W); 0 where the window holds none."""
    from scipy.ndimage import uniform_filter

    weight = valid.astype(np.float64)
    count = uniform_filter(weight, side, mode="constant", cval=0.0)
    out = np.empty(stack.shape, np.float32)
    for i, band in enumerate(stack):
        total = uniform_filter(np.where(valid, band, 0.0).astype(np.float64), side, mode="constant", cval=0.0)
        out[i] = np.where(count > 0, total / np.maximum(count, 1e-12), 0.0)
    return out


def load_pixels(cfg: RunConfig | str, spatial: bool = False) -> PixelData:
    """Per-pixel features and labels of a config with train + test label rasters; with `spatial`, each
    band's 5 x 5 valid-pixel mean besides it (the spatial-spectral SVM's features)."""
    if not isinstance(cfg, RunConfig):
        cfg = load_config(cfg)
    if cfg.labels.kind != "rasters":
        raise ConfigError("the baselines need a config with train + test label rasters")
    ref = raster.reference_grid(str(cfg.spectral.path))
    arrays, valid = raster.read_aligned_stack([str(layer.path) for layer in cfg.layers], ref,
                                              bands=[layer.bands for layer in cfg.layers])
    feats, names = [], []
    for layer, array in zip(cfg.layers, arrays):
        if layer.role == "sar":
            array = 10.0 * np.log10(np.maximum(array, 1e-4))
        feats.append(array)
        names += [f"{layer.name}:{i + 1}" for i in range(array.shape[0])]
    stack = np.concatenate(feats, axis=0)  # (F, H, W)
    if spatial:
        stack = np.concatenate([stack, window_means(stack, valid)], axis=0)
        names = names + [f"{n}:mean{SPATIAL_WINDOW}x{SPATIAL_WINDOW}" for n in names]
    stack = stack.reshape(len(names), -1).T  # (H*W, F)
    train = label_io.read_labels(str(cfg.labels.train), ref).ravel()
    test = label_io.read_labels(str(cfg.labels.test), ref).ravel()
    for lab in (train, test):
        lab[lab == cfg.labels.unlabelled] = 0
    ok = valid.ravel()
    test = np.where(train > 0, 0, test)
    if cfg.classes is not None:
        values, class_names = [c.value for c in cfg.classes], [c.name for c in cfg.classes]
    else:
        values = sorted(set(np.unique(train[train > 0]).tolist()) | set(np.unique(test[test > 0]).tolist()))
        class_names = [f"Class {v}" for v in values]
    tr, te = (train > 0) & ok, (test > 0) & ok
    return PixelData(stack[tr].astype(np.float32), train[tr], stack[te].astype(np.float32), test[te],
                     values, class_names, names)


def _standardise(data: PixelData) -> tuple[np.ndarray, np.ndarray]:
    mean = data.x_train.mean(0)
    std = data.x_train.std(0)
    std[std < 1e-12] = 1.0
    return (data.x_train - mean) / std, (data.x_test - mean) / std


def make_model(name: str, seed: int, n_jobs: int = 1):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    if name == "rf":
        return RandomForestClassifier(n_estimators=300, max_features="sqrt", random_state=seed, n_jobs=n_jobs)
    if name == "svm":
        grid = {"C": [1.0, 10.0, 100.0, 1000.0], "gamma": ["scale", 0.003, 0.01, 0.03, 0.1, 0.3]}
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        return GridSearchCV(SVC(kernel="rbf"), grid, cv=cv, n_jobs=n_jobs)
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


def run_baseline(name: str, data: PixelData, seed: int = 0, n_jobs: int = 1) -> dict:
    """Fit on the training pixels, predict the test pixels; metrics as engine.accuracy.metrics.to_dict."""
    x_train, x_test = _standardise(data)
    model = make_model(name, seed, n_jobs)
    t0 = time.perf_counter()
    model.fit(x_train, data.y_train)
    t1 = time.perf_counter()
    pred = model.predict(x_test)
    t2 = time.perf_counter()
    metrics = compute_metrics(confusion_matrix(data.y_test, pred, data.values), data.values)
    out = metrics.to_dict(data.names)
    out["seconds"] = {"fit": t1 - t0, "predict": t2 - t1}
    if hasattr(model, "best_params_"):
        out["params"] = {k: v for k, v in model.best_params_.items()}
    out["n_train"] = int(len(data.y_train))
    out["n_features"] = int(data.x_train.shape[1])
    return out
