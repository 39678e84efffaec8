"""Data preparation: align every layer on the spectral grid (over the intersection), read labels,
split, fit normalisation (2-98 percentile -> [-1, 1]) and optional PCA.

Normalisation and PCA are fitted on a seeded sample of all valid pixels, not on the training pixels: they
use no labels (the DDPM sees every pixel too), a few labelled polygons do not span the scene's range (with
3 labels per class the percentiles came from 24 pixels), and the DDPM's input then does not depend on
which pixels are labelled.

Order of the input transform (as engine.normalise.Normaliser applies it): per-band normalisation
of the raw bands -> clip [-3, 3] -> PCA of the normalised spectral bands (`y = matrix @ (x - mean)`,
when enabled; components scaled to a standard deviation of 0.5, like a [-1, 1] band) -> nodata = 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, ogr

from engine.errors import BDGFError
from engine.normalise import Normaliser
from engine.raster import labels as label_io
from engine.raster import read as raster
from engine.raster.grid import Grid, intersection_window
from training.config import ClassConfig, ConfigError, LayerConfig, RunConfig, default_classes
from training.splits import check_training_classes, split_features, split_labels

gdal.UseExceptions()
ogr.UseExceptions()


@dataclass
class Prepared:
    """Everything the stages need, on the cropped reference grid."""
    x: np.ndarray  # (C, H, W) float32 normalised, nodata = 0
    valid: np.ndarray  # (H, W) bool, valid in every layer
    train: np.ndarray  # (H, W) int16 class index, -1 = none
    test: np.ndarray  # (H, W) int16
    grid: Grid  # the grid of x (the intersection window of the spectral grid)
    window: tuple[int, int, int, int]  # (row0, col0, h, w) of x on the spectral raster
    classes: list[ClassConfig]
    modalities: list[dict]  # model-card entries (bands before PCA)
    modality_channels: list[int]  # after PCA
    normalization: dict
    pca: dict | None
    summary: dict = field(default_factory=dict)


def _band_list(layer: LayerConfig, info: raster.RasterInfo) -> list[int]:
    bands = layer.bands or list(range(1, info.band_count + 1))
    bad = [b for b in bands if b > info.band_count]
    if bad:
        raise ConfigError(f"{layer.name}: band subset {layer.bands} asks for band(s) {bad}, but "
                          f"{layer.path.name} has {info.band_count} band(s)")
    for key in ("band_names", "wavelengths_nm"):
        values = getattr(layer, key)
        if values is not None and len(values) != len(bands):
            raise ConfigError(f"{layer.name}: {key} lists {len(values)} entries but {len(bands)} band(s) "
                              f"are used ({'subset ' + str(layer.bands) if layer.bands else 'all bands'} "
                              f"of {layer.path.name})")
    return bands


def _wavelengths(path, bands: list[int]) -> list[float] | None:
    """Band wavelengths in nm from GDAL metadata ("wavelength" + "wavelength_units"), when all known."""
    ds = raster.open_raster(str(path))
    out = []
    for b in bands:
        meta = {k.lower(): v for k, v in (ds.GetRasterBand(b).GetMetadata() or {}).items()}
        try:
            value = float(meta["wavelength"])
        except (KeyError, ValueError):
            return None
        units = meta.get("wavelength_units", "nm").lower()
        out.append(value * 1000.0 if units in ("um", "µm", "micrometers", "micrometer") else value)
    return out


def _modality_entry(layer: LayerConfig, info: raster.RasterInfo, bands: list[int]) -> dict:
    entry = {"name": layer.name, "role": layer.role, "bands": len(bands), "source_bands": bands}
    names = layer.band_names or [info.descriptions[b - 1] for b in bands]
    if all(names):
        entry["band_names"] = list(names)
    wavelengths = layer.wavelengths_nm or _wavelengths(layer.path, bands)
    if wavelengths:
        entry["wavelengths_nm"] = [round(float(v), 3) for v in wavelengths]
    if layer.units:
        entry["units"] = layer.units
    if layer.scale != 1.0:  # the engine applies it to the same layer unless the user gives another
        entry["input_scale"] = layer.scale
    return entry


def read_layers(cfg: RunConfig) -> tuple[list[np.ndarray], np.ndarray, Grid, tuple, list[dict]]:
    """(arrays per modality (b, h, w), valid mask, cropped grid, window, card entries)."""
    for layer in cfg.layers:
        if not layer.path.is_file():
            raise ConfigError(f"{layer.name}: raster not found: {layer.path}")
    ref = raster.reference_grid(str(cfg.spectral.path))
    infos = [raster.describe_raster(str(layer.path)) for layer in cfg.layers]
    bands = [_band_list(layer, info) for layer, info in zip(cfg.layers, infos)]
    window = intersection_window(ref, [info.grid for info in infos[1:]])
    r0, c0, h, w = window
    arrays, masks = [], []
    for layer, band_list in zip(cfg.layers, bands):
        ds = raster.aligned_vrt(str(layer.path), ref, "bilinear", band_list, layer.nodata)
        data, valid = raster.read_window(ds, r0, c0, h, w)
        if layer.scale != 1.0:
            data *= np.float32(layer.scale)
        if not valid.any():
            raise ConfigError(f"{layer.name}: every pixel of {layer.path.name} is nodata inside the area "
                              "shared by all layers")
        arrays.append(data)
        masks.append(valid)
    valid = raster.combine_valid(*masks)
    if not valid.any():
        raise ConfigError("no pixel is valid in all layers at once (their nodata areas cover the overlap)")
    entries = [_modality_entry(layer, info, b) for layer, info, b in zip(cfg.layers, infos, bands)]
    return arrays, valid, ref.window(r0, c0, h, w), window, entries


def _label_layer(path, field_name: str, layer_name: str | None):
    """(data source, OGR layer) of a label vector whose class field holds whole numbers."""
    if not path.is_file():
        raise ConfigError(f"label vector not found: {path}")
    try:
        src = ogr.Open(str(path))
    except RuntimeError as exc:
        raise ConfigError(f"cannot open label vector {path}: {exc}") from exc
    if src is None:
        raise ConfigError(f"cannot open label vector {path}: not a vector file GDAL can read")
    names = [src.GetLayer(i).GetName() for i in range(src.GetLayerCount())]
    if layer_name is not None and layer_name not in names:
        raise ConfigError(f"label vector {path.name} has no layer {layer_name!r}; layers: {', '.join(names)}")
    layer = src.GetLayerByName(layer_name) if layer_name else src.GetLayer(0)
    problem = label_io.class_field_problem(layer, field_name)
    if problem:
        raise ConfigError(f"label vector {path.name} (layer {layer.GetName()}): {problem}")
    return src, layer


def rasterize_vector(path, field_name: str, layer_name: str | None, grid: Grid) -> np.ndarray:
    """Burn a class field of polygons / points onto `grid`: int32 (H, W), 0 = no feature."""
    _src, layer = _label_layer(path, field_name, layer_name)
    return label_io.burn_field(layer, field_name, grid)


def rasterize_features(path, field_name: str, layer_name: str | None, grid: Grid) -> tuple[np.ndarray,
                                                                                            np.ndarray]:
    """(classes, 1-based feature numbers) of a label vector on `grid` (engine.raster.labels.burn_features)."""
    _src, layer = _label_layer(path, field_name, layer_name)
    return label_io.burn_features(layer, field_name, grid)


def _read_label_raster(path, grid_ref: Grid, window) -> np.ndarray:
    if not path.is_file():
        raise ConfigError(f"label raster not found: {path}")
    label_io.check_class_raster(str(path), "label raster")  # a BDGFError: exit 2 like a ConfigError
    ds = raster.aligned_vrt(str(path), grid_ref, "nearest", [1])
    return label_io.read_label_window(ds, *window)


def _is_raster(path) -> bool:
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        return gdal.OpenEx(str(path), gdal.OF_RASTER) is not None
    except RuntimeError:
        return False
    finally:
        gdal.PopErrorHandler()


def read_label_values(cfg: RunConfig, ref: Grid, window, grid: Grid) -> tuple[dict[str, np.ndarray],
                                                                               np.ndarray | None]:
    """Label values on the cropped grid, 0 / `unlabelled` = no label: ({"train", "test"} or {"all"}, plus
    "extra" with [[labels.extra]]), and each pixel's feature number when the split keeps features whole."""
    lab = cfg.labels
    features = None
    if lab.kind == "rasters":
        out = {"train": _read_label_raster(lab.train, ref, window),
               "test": _read_label_raster(lab.test, ref, window)}
    elif lab.kind == "raster":
        out = {"all": _read_label_raster(lab.raster, ref, window)}
    elif lab.test is not None:
        test = _read_label_raster(lab.test, ref, window) if _is_raster(lab.test) else \
            rasterize_vector(lab.test, lab.field, None, grid)
        out = {"train": rasterize_vector(lab.vector, lab.field, lab.layer, grid), "test": test}
    elif lab.split.by == "feature":
        classes, features = rasterize_features(lab.vector, lab.field, lab.layer, grid)
        out = {"all": classes}
    else:
        out = {"all": rasterize_vector(lab.vector, lab.field, lab.layer, grid)}
    if lab.extra:
        extra = np.zeros(grid.height * grid.width, np.int32).reshape(grid.height, grid.width)
        for more in lab.extra:
            values = rasterize_vector(more.path, more.field, more.layer, grid)
            extra = np.where(values > 0, values, extra)
        out["extra"] = extra
    for values in out.values():
        values[values == lab.unlabelled] = 0
    return out, features


def class_table(cfg: RunConfig, values: dict[str, np.ndarray]) -> list[ClassConfig]:
    found = sorted(set().union(*(np.unique(v[v > 0]).tolist() for v in values.values())))
    if not found:
        raise ConfigError("the labels hold no labelled pixel inside the area shared by all layers")
    if cfg.classes is None:
        return default_classes(found)
    known = {c.value for c in cfg.classes}
    unknown = [v for v in found if v not in known]
    if unknown:
        raise ConfigError(f"label value(s) {unknown} are not in the [[classes]] table "
                          f"(values {sorted(known)}); add them or relabel")
    return cfg.classes


def to_indices(values: np.ndarray, classes: list[ClassConfig], valid: np.ndarray) -> np.ndarray:
    lut = {c.value: k for k, c in enumerate(classes)}
    out = np.full(values.shape, -1, dtype=np.int16)
    for value, k in lut.items():
        out[values == value] = k
    out[~valid] = -1
    return out


def fit_pca(spectral: np.ndarray, pixels: np.ndarray, components: int) -> dict:
    """PCA (numpy SVD) of the normalised spectral bands at `pixels` (flat indices)."""
    bands = spectral.shape[0]
    samples = spectral.reshape(bands, -1)[:, pixels].T.astype(np.float64)
    k = min(components, bands, samples.shape[0])
    mean = samples.mean(axis=0)
    _, s, vt = np.linalg.svd(samples - mean, full_matrices=False)
    explained = (s ** 2) / max(float((s ** 2).sum()), 1e-12)
    std = s[:k] / np.sqrt(max(samples.shape[0] - 1, 1))
    matrix = vt[:k] * (0.5 / np.maximum(std, 1e-6))[:, None]
    return {"components": int(k), "mean": mean.tolist(), "matrix": matrix.tolist(),
            "explained_variance_ratio": explained[:k].round(6).tolist(),
            "fitted_on": f"{samples.shape[0]} valid pixels (seeded sample)",
            "formula": "y = matrix @ (normalised spectral bands - mean); components scaled to std 0.5"}


STATISTICS_PIXELS = 100_000  # sample size for normalisation / PCA statistics


def statistics_pixels(valid: np.ndarray, limit: int = STATISTICS_PIXELS) -> np.ndarray:
    """Flat indices of the pixels normalisation and PCA are fitted on: every valid pixel, or a seeded
    sample of `limit` of them (fixed seed: the same scene gives the same statistics)."""
    flat = np.flatnonzero(valid.ravel())
    if len(flat) > limit:
        flat = np.sort(np.random.default_rng(0).choice(flat, limit, replace=False))
    return flat


def percentile_stats(array: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    samples = array.reshape(array.shape[0], -1)[:, pixels]
    low, high = np.percentile(samples, [2.0, 98.0], axis=1)
    flat = high - low < 1e-6 * np.maximum(np.abs(low), 1.0)
    high = np.where(flat, low + 1.0, high)  # constant band: avoid division by zero
    return low.astype(np.float64), high.astype(np.float64)


def normalised_stack(arrays: list[np.ndarray], valid: np.ndarray, lows, highs, pca) -> np.ndarray:
    """(C, H, W) network input, through the engine's own Normaliser so training and inference agree."""
    norm = Normaliser.from_stats(lows, highs, pca, [a.shape[0] for a in arrays])
    return norm.apply([a.astype(np.float32, copy=True) for a in arrays], valid)[0]


def prepare(cfg: RunConfig, pca_components: int = 0, log=print) -> Prepared:
    """Read, align, label, split and normalise a configured scene."""
    arrays, valid, grid, window, modalities = read_layers(cfg)
    ref = raster.reference_grid(str(cfg.spectral.path))
    values, features = read_label_values(cfg, ref, window, grid)
    classes = class_table(cfg, values)
    names = [c.name for c in classes]
    if "train" in values:
        train = to_indices(values["train"], classes, valid)
        test = to_indices(values["test"], classes, valid)
        test[train >= 0] = -1
    elif features is not None:
        train, test = split_features(to_indices(values["all"], classes, valid), features, cfg.labels.split,
                                     len(classes))
    else:
        labels = to_indices(values["all"], classes, valid)
        train, test = split_labels(labels, cfg.labels.split, len(classes))
    if "extra" in values:  # more training labels (e.g. labelled suggested samples): training side only
        extra = to_indices(values["extra"], classes, valid)
        train = np.where(extra >= 0, extra, train).astype(train.dtype)
        test[extra >= 0] = -1
    check_training_classes(train, names)
    fit_pixels = statistics_pixels(valid)
    stats = [percentile_stats(array, fit_pixels) for array in arrays]
    lows, highs = [low.tolist() for low, _ in stats], [high.tolist() for _, high in stats]
    x = normalised_stack(arrays, valid, lows, highs, None)
    pca = None
    if pca_components > 0:
        pca = fit_pca(x[:arrays[0].shape[0]], fit_pixels, pca_components)
        x = normalised_stack(arrays, valid, lows, highs, pca)
        log(f"PCA: {pca['components']} components keep "
            f"{100 * sum(pca['explained_variance_ratio']):.1f} % of the training variance")
    channels = [a.shape[0] for a in arrays]
    if pca is not None:
        channels[0] = pca["components"]
    counts = lambda a: np.bincount(a[a >= 0], minlength=len(classes)).tolist()  # noqa: E731
    summary = {"height": grid.height, "width": grid.width, "window": list(window),
               "valid_pixels": int(valid.sum()), "train_pixels_per_class": counts(train),
               "test_pixels_per_class": counts(test), "labels": cfg.labels.kind}
    log(f"data: {grid.height}x{grid.width} px, {int(valid.sum())} valid, channels "
        f"{channels}, train {summary['train_pixels_per_class']}, "
        f"test {summary['test_pixels_per_class']}")
    return Prepared(x=x, valid=valid, train=train, test=test, grid=grid, window=window, classes=classes,
                    modalities=modalities, modality_channels=channels,
                    normalization={"low": lows, "high": highs}, pca=pca, summary=summary)


__all__ = ["Prepared", "prepare", "BDGFError"]
