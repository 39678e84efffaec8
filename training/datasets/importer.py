"""Importing a downloaded benchmark: checks (sha256, class counts), zip extraction, GeoTIFFs + config.toml.

    from training.datasets.importer import import_dataset; import_dataset("augsburg", "dl/aug", "data/aug")

Owns `import_dataset` (folder or .zip -> hsi.tif, one GeoTIFF per auxiliary modality, train.tif +
test.tif or labels.tif, config.toml), `check_counts` (known class counts: an error where they were
verified on the real files, a warning where they are only quoted from the literature) and the sha256
checks of released files. Reading is in readers.py, the catalogue in catalogue.py, the file writers in
training/geotiff.py and training/config_writer.py, the Trento split draw in training/splits.py.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from training.config_writer import write_config
from training.datasets.catalogue import DATASETS, SHA256, Spec, class_table
from training.datasets.readers import (
    DatasetError,
    class_counts,
    expected_message,
    find_file,
    label_sources,
    locate,
    read_source,
    to_labels,
)
from training.geotiff import write_geotiff
from training.splits import split_per_class


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):  # 1 MiB chunks: releases are GBs
            h.update(chunk)
    return h.hexdigest()


def check_counts(name: str, labels: dict[str, np.ndarray], log=print) -> None:
    """Compare class counts with the known ones: DatasetError (verified counts) or a warning."""
    spec = DATASETS[name]
    n = len(spec.classes) or int(max(a.max() for a in labels.values()))
    problems = []
    for part, arr in labels.items():
        want = spec.counts.get(part)
        if want is None:
            continue
        got = class_counts(arr, n)
        if isinstance(want, int):
            ok, got_s, want_s = int(got.sum()) == want, f"{int(got.sum())} px", f"{want} px"
        else:
            ok, got_s, want_s = tuple(got) == tuple(want), "/".join(map(str, got)), "/".join(map(str, want))
        extra = int((arr > n).sum())
        if not ok or extra:
            msg = f"{name} {part}: expected {want_s} per class, found {got_s}"
            msg += f" and {extra} px above class {n}" if extra else ""
            problems.append((part in spec.checked, msg))
    for fatal, msg in problems:
        log(("error: " if fatal else "warning: ") + msg)
    if any(f for f, _ in problems):
        raise DatasetError("; ".join(m for f, m in problems if f) +
                           " (wrong files or another release? --no-verify-counts skips this check)")


def _verify_hash(name: str, path: Path, log) -> None:
    want = SHA256.get((name, path.name))
    if want is None:
        return
    got = sha256_file(path)
    if got != want:
        raise DatasetError(f"{path}: sha256 {got} does not match the known release ({want}); "
                           "another copy? --no-verify-hash skips this check")
    log(f"sha256 ok: {path.name}")


def _extract_zip(zpath: Path, name: str, tmp: str, verify_hash: bool, log) -> Path:
    if verify_hash:
        _verify_hash(name, zpath, log)
    with zipfile.ZipFile(zpath) as z:
        z.extractall(tmp)
    log(f"extracted {zpath.name}")
    return Path(tmp)


def _image(path: Path, key: str | None, shape: tuple[int, int], what: str) -> np.ndarray:
    """(bands, H, W) view of an image file checked against the label shape."""
    arr = read_source(path, key)
    arr = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
    if arr.shape[1:] != shape:
        raise DatasetError(f"{what} {path.name}: {arr.shape[1]} x {arr.shape[2]} px, but the labels are "
                           f"{shape[0]} x {shape[1]} px")
    return arr


def import_dataset(name: str, src: str | os.PathLike, dst: str | os.PathLike, *, verify_hash: bool = True,
                   verify_counts: bool = True, log=print) -> dict:
    """Import benchmark `name` from folder / zip `src` into `dst`; returns a dict of written paths."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    spec, src = DATASETS[name], Path(src)
    if not src.exists():
        raise DatasetError(f"source {src} does not exist")
    with tempfile.TemporaryDirectory(prefix="bdgf_import_") as tmp:
        root = src
        if src.is_file() and src.suffix.lower() == ".zip":
            root = _extract_zip(src, name, tmp, verify_hash, log)
        elif spec.zip_name and not locate(spec.hsi, src) and find_file(src, spec.zip_name):
            # the release zip was saved into --src without unpacking it
            root = _extract_zip(find_file(src, spec.zip_name), name, tmp, verify_hash, log)
        return _import(spec, root, Path(dst), verify_hash, verify_counts, log)


def _import(spec: Spec, root: Path, dst: Path, verify_hash: bool, verify_counts: bool, log) -> dict:
    label_at = label_sources(spec.name, root)
    # labels first: they are small, and wrong labels make reading GBs of images pointless
    if verify_hash:
        for at in label_at.values():
            _verify_hash(spec.name, at[0], log)
    labels = {part: to_labels(read_source(*at), at[0].name) for part, at in label_at.items()}
    if verify_counts:
        check_counts(spec.name, labels, log)
    hsi_at = locate(spec.hsi, root)
    aux_at = [(a, locate(a[2], root)) for a in spec.aux]
    if hsi_at is None or not any(at for _, at in aux_at):
        missing = [spec.hsi] if hsi_at is None else [a[2] for a, _ in aux_at]
        raise DatasetError(f"{spec.title}: labels found, but import needs the images too. "
                           + "; ".join(expected_message(s, root) for s in missing))
    for a, at in aux_at:
        if at is None:
            log(f"warning: {expected_message(a[2], root)}; importing without it")
    if verify_hash:
        for p in {at[0] for at in [hsi_at] + [at for _, at in aux_at if at]}:
            _verify_hash(spec.name, p, log)
    shape = next(iter(labels.values())).shape
    dst.mkdir(parents=True, exist_ok=True)
    px = spec.pixel_size_m
    gt = (0.0, px, 0.0, 0.0, 0.0, -px)
    n_classes = len(spec.classes) or int(max(a.max() for a in labels.values()))
    classes = list(spec.classes) or class_table([f"Class {k}" for k in range(1, n_classes + 1)])
    paths: dict = {}

    hsi = _image(*hsi_at, shape, "HSI")
    wl = np.linspace(*spec.wavelength_range_nm, hsi.shape[0])
    meta = [{"wavelength": f"{v:.2f}", "wavelength_units": "nm"} for v in wl]
    paths["hsi"] = write_geotiff(str(dst / "hsi.tif"), hsi, gt, None, _nan_nodata(hsi),
                                 [f"{v:.1f} nm" for v in wl], meta, dtype=np.float32)
    log(f"wrote hsi.tif ({hsi.shape[0]} bands, {shape[0]} x {shape[1]} px)")
    del hsi  # the largest array; free it before reading the auxiliary images
    aux = []
    for (out, role, s, band_names), at in aux_at:
        if at is None:
            continue
        arr = _image(*at, shape, s.what)
        names = list(band_names) if len(band_names) == arr.shape[0] else [f"{out} {i + 1}" for i in
                                                                           range(arr.shape[0])]
        paths[out] = write_geotiff(str(dst / f"{out}.tif"), arr, gt, None, _nan_nodata(arr), names,
                                   dtype=np.float32)
        aux.append({"path": f"{out}.tif", "role": role, "name": out, "band_names": names})
        log(f"wrote {out}.tif ({arr.shape[0]} bands)")

    # a per-class tuple names a split the literature uses: materialise it, so every run shares it
    if "raster" in labels and isinstance(spec.train_per_class, tuple):
        labels["train"], labels["test"] = split_per_class(labels["raster"], spec.train_per_class, seed=0)
    for part, arr in labels.items():
        key = "labels" if part == "raster" else part
        paths[key] = write_geotiff(str(dst / f"{key}.tif"), arr, gt, None, 0, [key], classes=classes)
    if "train" in labels:
        lab_cfg = {"train": "train.tif", "test": "test.tif"}
    else:
        lab_cfg = {"raster": "labels.tif", "split": {"per_class": spec.train_per_class, "seed": 0}}
    lo, hi = spec.wavelength_range_nm
    notes = (f"no georeferencing: nominal {px:g} m pixels, no CRS; hsi.tif band wavelengths are nominal, "
             f"evenly spaced over {lo:g}-{hi:g} nm")
    paths["config"] = write_config(
        str(dst / "config.toml"), name=spec.name, spectral={"path": "hsi.tif", "name": "hsi"}, aux=aux,
        labels=lab_cfg, classes=classes,
        dataset={"description": spec.title, "source": f"python -m training.datasets import {spec.name}",
                 "citation": spec.citation or None, "license": "research use with citation", "notes": notes})
    log(f"wrote config.toml ({len(classes)} classes)")
    return paths


def _nan_nodata(arr: np.ndarray) -> float | None:
    """NaN as nodata when the data hold NaNs (benchmarks usually have no nodata)."""
    return float("nan") if arr.dtype.kind == "f" and any(np.isnan(b).any() for b in arr) else None
