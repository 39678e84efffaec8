"""Reading benchmark files: MATLAB .mat (scipy, v7.3 via h5py), GDAL rasters, label images and class counts.

    from training.datasets.readers import load_labels; load_labels("trento", "data/trento")["raster"]

Owns finding a catalogue `Source` under a download folder (`find_file`, `locate`, `label_sources`),
turning whatever array a release holds into (H, W[, bands]) numpy arrays (`read_mat`, `read_raster`,
`read_source`), normalising label images (`to_labels`: uint8/uint16, 0 = unlabelled) and counting
classes (`class_counts`). Raises `DatasetError` with the file and what was expected.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from osgeo import gdal

from engine.errors import BDGFError
from training.datasets.catalogue import DATASETS, Source

gdal.UseExceptions()


class DatasetError(BDGFError):
    """A benchmark folder that cannot be imported (missing file, bad hash, wrong counts)."""


def find_file(root: str | os.PathLike, name: str) -> Path | None:
    """First file called `name` (case-insensitive) under `root`, shallowest first."""
    root = Path(root)
    if (root / name).is_file():
        return root / name
    # shallowest first: a release's own file wins over a copy nested in some sub-folder
    hits = sorted((p for p in root.rglob("*") if p.name.lower() == name.lower() and p.is_file()),
                  key=lambda p: (len(p.parts), str(p)))
    return hits[0] if hits else None


def _unwrap(v):
    """Strip MATLAB 1x1 cell / struct wrappers (and take the first element of struct arrays)."""
    while isinstance(v, np.ndarray) and (v.dtype == object or v.dtype.names) and v.size >= 1:
        v = v.reshape(-1)[0]
    return v


def _arrays(m: dict) -> dict:
    return {k: v for k, v in m.items() if not k.startswith("__") and isinstance(v, np.ndarray)}


def read_mat(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """An array from a .mat file. `key`: variable name, or a dotted path into structs
    ("hsi.Lidar.z"); None: the only variable. v7.3 (HDF5) files need h5py (transposed back)."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        m = loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3
        return _read_mat_h5(path, key)
    except Exception as e:
        raise DatasetError(f"cannot read {path} as a MATLAB file: {e}") from e
    found = _arrays(m)
    if key is None:
        if len(found) != 1:
            raise DatasetError(f"{path.name}: expected one variable, found {sorted(found) or 'none'}")
        return np.asarray(next(iter(found.values())))
    head, *rest = key.split(".")
    if head not in found:
        raise DatasetError(f"{path.name}: no variable {head!r} (found {sorted(found) or 'none'})")
    v = m[head]
    for part in rest:
        v = _unwrap(v)
        try:
            v = v[part]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise DatasetError(f"{path.name}: no field {part!r} in {key!r}") from e
    return np.asarray(_unwrap(v))


def _read_mat_h5(path: Path, key: str | None) -> np.ndarray:
    try:
        import h5py
    except ImportError as e:
        raise DatasetError(f"{path.name} is a MATLAB v7.3 (HDF5) file; reading it needs h5py "
                           "(pip install h5py), which is not installed") from e
    with h5py.File(path, "r") as f:
        names = [k for k in f.keys() if not k.startswith("#")]
        if key is None:
            if len(names) != 1:
                raise DatasetError(f"{path.name}: expected one variable, found {sorted(names)}")
            key = names[0]
        node = f.get(key.replace(".", "/"))
        if node is None or not hasattr(node, "shape") or node.dtype.kind == "O":
            raise DatasetError(f"{path.name}: cannot read {key!r} from this v7.3 file "
                               f"(found {sorted(names)})")
        # HDF5 stores MATLAB's column-major arrays with the axes reversed
        return np.asarray(node[()]).T


def read_raster(path: str | os.PathLike) -> np.ndarray:
    """A GeoTIFF (or any GDAL raster) as (H, W) for one band, else (H, W, bands) like a .mat."""
    ds = gdal.Open(str(path))
    arr = ds.ReadAsArray()
    return arr if arr.ndim == 2 else np.moveaxis(arr, 0, -1)


def read_source(path: Path, key: str | None) -> np.ndarray:
    return read_mat(path, key) if path.suffix.lower() == ".mat" else read_raster(path)


def to_labels(arr: np.ndarray, name: str = "labels") -> np.ndarray:
    """Integer label raster (uint8, or uint16 above 255); negative / NaN -> 0 (unlabelled)."""
    a = np.asarray(arr).squeeze()
    if a.ndim != 2:
        raise DatasetError(f"{name}: expected a 2-D label image, found shape {arr.shape}")
    if a.dtype.kind == "f":  # some releases store labels as float (Augsburg's TestImage)
        a = np.where(np.isfinite(a), a, 0)
        if not np.array_equal(a, np.round(a)):
            raise DatasetError(f"{name}: label values are not integers")
    a = np.where(a < 0, 0, a).astype(np.int64)
    return a.astype(np.uint8 if a.max(initial=0) <= 255 else np.uint16)


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Pixels per class 1..n_classes."""
    return np.bincount(labels.ravel(), minlength=n_classes + 1)[1:n_classes + 1]


def locate(spec_src: Source | None, root: Path) -> tuple[Path, str | None] | None:
    """(file, .mat key) of the first candidate of `spec_src` found under `root`, else None."""
    if spec_src is None:
        return None
    for fname, key in spec_src.candidates:
        p = find_file(root, fname)
        if p is not None:
            return p, key
    return None


def expected_message(src: Source, root: Path) -> str:
    """What the user should have put under `root` for `src` (for error messages)."""
    names = " or ".join(f for f, _ in src.candidates)
    return f"{src.what}: expected {names} under {root}"


def label_sources(name: str, src: str | os.PathLike) -> dict[str, tuple[Path, str | None]]:
    """Where the labels are: {"train", "test"} (standard split, preferred) or {"raster"}."""
    spec, root = DATASETS[name], Path(src)
    tr, te = locate(spec.train, root), locate(spec.test, root)
    if tr and te:
        return {"train": tr, "test": te}
    ras = locate(spec.raster, root)
    if ras:
        return {"raster": ras}
    need = [s for s in (spec.train, spec.test) if s is not None and not locate(s, root)] or [spec.raster]
    raise DatasetError("labels not found. " + "; ".join(expected_message(s, root) for s in need if s))


def load_labels(name: str, src: str | os.PathLike) -> dict[str, np.ndarray]:
    """The label images of a benchmark in `src`: {"train", "test"} (standard split) or {"raster"}."""
    return {part: to_labels(read_source(*at), at[0].name) for part, at in label_sources(name, src).items()}
