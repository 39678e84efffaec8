"""Synthetic scenes as objects and files: `Scene`, its builders and `write_scene` (GeoTIFFs + config).

    from training.synthetic import make_scene, write_scene; write_scene(make_scene(64, 80, seed=1), "out")

`make_scene` draws a layout (layout.py) on a grid `FINE` x finer than the HSI pixel and renders it
(render.py); `make_semi_real_trento` keeps the real Trento nDSM and ground-truth layout (6 classes)
and only synthesises HSI and SAR from them.

`write_scene` writes GeoTIFFs (EPSG:32632 by default): hsi.tif, sar.tif, dsm.tif, labels.tif
(dense truth), train.tif (sparse blobs on pure pixels), test.tif (dense, disjoint from train
with a guard ring; `training.splits.split_by_purity`), scene.json and config.toml. `grids="mixed"`
resamples the truth onto a different grid per layer (SAR coarser, shifted extent, optionally another
CRS; LiDAR finer and cropped). `gaps=True` adds nodata: an HSI bad-scan-line segment (-9999), a NaN
strip at the SAR swath edge, LiDAR dropouts over water (-9999).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal

from training.config_writer import write_config
from training.datasets.catalogue import DATASETS
from training.geotiff import srs_wkt, write_geotiff
from training.splits import split_by_purity
from training.synthetic.layout import (
    AUX_ONLY_PAIRS,
    CLASSES,
    SPECTRAL_ONLY_PAIRS,
    class_dicts,
    synthetic_layout,
    trento_layout,
)
from training.synthetic.render import render, smooth_field

gdal.UseExceptions()

FINE = 2  # fine (truth) grid cells per HSI pixel along each axis
SAR_BANDS = ("VV", "VH", "HH", "HV")
NODATA = -9999.0


@dataclass
class Scene:
    """A truth scene on the HSI grid; arrays are (bands, H, W) unless noted."""

    hsi: np.ndarray  # float32 reflectance
    sar: np.ndarray  # (4, H, W) float32 linear sigma0, VV VH HH HV
    ndsm: np.ndarray  # (1, H, W) float32 metres
    labels: np.ndarray  # (H, W) uint8 majority class, 0 = unlabelled
    purity: np.ndarray  # (H, W) float32 share of the majority class
    wavelengths: np.ndarray  # (bands,) nm
    classes: list[dict]  # value, name, color
    pixel_size: float = 2.0
    origin: tuple[float, float] = (664000.0, 5103000.0)  # upper-left x, y
    crs: int = 32632
    seed: int = 0
    ndsm_fine: np.ndarray | None = None  # (1, H*f, W*f) with f = fine_factor
    fine_factor: int = 1
    name: str = "synthetic"
    aux_only_pairs: tuple = ()
    spectral_only_pairs: tuple = ()
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape

    @property
    def geotransform(self) -> tuple[float, ...]:
        p = self.pixel_size
        return (self.origin[0], p, 0.0, self.origin[1], 0.0, -p)


def make_scene(height: int = 128, width: int = 160, seed: int = 0, n_bands: int = 64,
               pixel_size: float = 2.0) -> Scene:
    """Draw a procedural scene of `height` x `width` HSI pixels (deterministic in `seed`)."""
    if n_bands < 2 or height < 8 or width < 8:
        raise ValueError("need n_bands >= 2 and a scene of at least 8 x 8 pixels")
    rng = np.random.default_rng(seed)
    lay = synthetic_layout(height * FINE, width * FINE, pixel_size / FINE, rng)
    classes = class_dicts(CLASSES)
    r = render(lay, FINE, n_bands, rng, classes)
    return Scene(hsi=r["hsi"], sar=r["sar"], ndsm=r["ndsm"], labels=r["labels"], purity=r["purity"],
                 wavelengths=r["wavelengths"], classes=classes, pixel_size=pixel_size, seed=seed,
                 ndsm_fine=r["ndsm_fine"], fine_factor=FINE, aux_only_pairs=AUX_ONLY_PAIRS,
                 spectral_only_pairs=SPECTRAL_ONLY_PAIRS,
                 info={k: r[k] for k in ("water", "water_fine", "sun_shadow")})


def default_data_dir() -> Path:
    """`<repo>/../shared/data` (where the shared real files live, if anywhere)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def make_semi_real_trento(data_dir: str | os.PathLike | None = None, seed: int = 0,
                          n_bands: int = 63) -> Scene:
    """Real Trento nDSM + ground-truth layout (166 x 600, 1 m), synthetic HSI and SAR.

    `data_dir` is the shared data folder (holding `trento/`) or the trento folder itself;
    it needs Italy_lidar.mat (key `data`) and allgrd.mat (key `mask_test`).
    """
    from scipy.io import loadmat

    base = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = base / "trento" if (base / "trento").is_dir() else base
    need = [folder / "Italy_lidar.mat", folder / "allgrd.mat"]
    for p in need:
        if not p.is_file():
            raise FileNotFoundError(f"semi-real Trento needs {p} (not found)")
    lidar = np.asarray(loadmat(str(need[0]))["data"], np.float32)
    gt = np.asarray(loadmat(str(need[1]))["mask_test"], np.uint8)
    heights = np.clip(lidar[..., 0], 0, None)
    rng = np.random.default_rng(seed)
    lay = trento_layout(gt, heights, rng)
    classes = [dict(c) for c in DATASETS["trento"].classes]
    r = render(lay, 1, n_bands, rng, classes, heights_real=heights)
    return Scene(hsi=r["hsi"], sar=r["sar"], ndsm=r["ndsm"], labels=r["labels"], purity=r["purity"],
                 wavelengths=r["wavelengths"], classes=classes, pixel_size=1.0, seed=seed,
                 origin=(664000.0, 5104000.0), ndsm_fine=r["ndsm_fine"], fine_factor=1,
                 name="semi_real_trento", info={k: r[k] for k in ("water", "water_fine", "sun_shadow")})


def _mem(array: np.ndarray, gt, crs, nodata) -> gdal.Dataset:
    """In-memory Float32 dataset of `array`: gdal.Warp needs a dataset, not an array, as its source."""
    arr = array[None] if array.ndim == 2 else array
    ds = gdal.GetDriverByName("MEM").Create("", arr.shape[2], arr.shape[1], arr.shape[0], gdal.GDT_Float32)
    ds.SetGeoTransform(tuple(gt))
    ds.SetProjection(srs_wkt(crs))
    for i in range(arr.shape[0]):
        ds.GetRasterBand(i + 1).SetNoDataValue(nodata)
        ds.GetRasterBand(i + 1).WriteArray(arr[i])
    return ds


def _warp(array, gt, crs, bounds, res, alg, nodata, dst_crs=None) -> tuple[np.ndarray, tuple, object]:
    """Resample (bands, H, W) onto a north-up grid `bounds` (xmin, ymin, xmax, ymax) at `res`,
    then (optionally) reproject it to `dst_crs` (nearest, GDAL's suggested resolution)."""
    src = _mem(array, gt, crs, nodata)
    out = gdal.Warp("", src, format="MEM", outputBounds=bounds, xRes=res, yRes=res, resampleAlg=alg,
                    srcNodata=nodata, dstNodata=nodata, targetAlignedPixels=False)
    crs_out: object = crs
    if dst_crs is not None:
        out = gdal.Warp("", out, format="MEM", dstSRS=srs_wkt(dst_crs), resampleAlg="near",
                        srcNodata=nodata, dstNodata=nodata)
        crs_out = dst_crs
    return out.ReadAsArray().reshape(-1, out.RasterYSize, out.RasterXSize), out.GetGeoTransform(), crs_out


def _select_classes(scene: Scene, classes) -> tuple[np.ndarray, list[dict]]:
    """Keep `classes` (values or names) renumbered 1..K in that order; others become 0."""
    if classes is None:
        return scene.labels.copy(), [dict(c) for c in scene.classes]
    by_name = {c["name"]: c for c in scene.classes}
    by_value = {c["value"]: c for c in scene.classes}
    chosen = [by_name[c] if isinstance(c, str) else by_value[int(c)] for c in classes]
    lut = np.zeros(256, np.uint8)
    out = []
    for k, c in enumerate(chosen, 1):
        lut[c["value"]] = k
        out.append({"value": k, "name": c["name"], "color": c["color"]})
    return lut[scene.labels], out


def write_scene(scene: Scene, out_dir: str | os.PathLike, grids: str = "same", *,
                train_per_class: int = 60, train_fraction: float | None = None, guard: int = 1,
                classes=None, gaps: bool = True, other_crs: int | str | None = None) -> dict:
    """Write a scene as GeoTIFFs + scene.json + config.toml; returns a dict of paths (+ classes).

    grids: "same" (every layer on the HSI grid) or "mixed" (SAR 1.5x coarser on a shifted,
    larger extent, in `other_crs` when given; DSM at half the HSI pixel on a cropped extent).
    classes: optional subset (values or names) written renumbered 1..K, others unlabelled.
    """
    if grids not in ("same", "mixed"):
        raise ValueError(f"grids must be 'same' or 'mixed', not {grids!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([scene.seed, 7])
    h, w = scene.shape
    gt, crs, px = scene.geotransform, scene.crs, scene.pixel_size
    labels, class_table = _select_classes(scene, classes)

    hsi = scene.hsi.copy()
    if gaps:  # bad scan-line segment
        r, c0 = int(rng.integers(h // 4, 3 * h // 4)), int(rng.integers(0, w // 2))
        hsi[:, r, c0:c0 + max(2, w // 3)] = NODATA
    hsi_gap = (hsi == NODATA).all(0)
    labels[hsi_gap] = 0
    train, test = split_by_purity(labels, scene.purity, rng, guard=guard, per_class=train_per_class,
                                  fraction=train_fraction)

    paths = {k: str(out / f"{k}.tif") for k in ("hsi", "sar", "dsm", "labels", "train", "test")}
    wl_meta = [{"wavelength": f"{v:.2f}", "wavelength_units": "nm"} for v in scene.wavelengths]
    write_geotiff(paths["hsi"], hsi, gt, crs, NODATA, [f"{v:.0f} nm" for v in scene.wavelengths], wl_meta)

    sar = scene.sar.copy()
    f = scene.fine_factor
    ndsm_f = scene.ndsm_fine if scene.ndsm_fine is not None else scene.ndsm
    water_f = scene.info.get("water_fine")
    if gaps and water_f is not None:  # LiDAR dropouts over water
        ndsm_f = ndsm_f.copy()
        drop = water_f & (smooth_field(rng, water_f.shape, 2) > -0.3)
        ndsm_f[0][drop] = NODATA
    gt_f = (gt[0], px / f, 0.0, gt[3], 0.0, -px / f)
    x0, y1 = gt[0], gt[3]
    x1, y0 = x0 + w * px, y1 - h * px
    if grids == "same":
        sar_gt, sar_crs = gt, crs
        dsm, dsm_gt, dsm_crs = _warp(ndsm_f, gt_f, crs, (x0, y0, x1, y1), px, "average", NODATA)
    else:
        sar_b = (x0 - 2.5 * px, y0 + 3.5 * px, x1 - 4.0 * px, y1 + 2.0 * px)
        sar, sar_gt, sar_crs = _warp(sar, gt, crs, sar_b, 1.5 * px, "average", np.nan, other_crs)
        dsm_b = (x0 + 3 * px, y0 + 2 * px, x1, y1 - 1.5 * px)
        dsm, dsm_gt, dsm_crs = _warp(ndsm_f, gt_f, crs, dsm_b, px / 2, "average" if f >= 2 else "bilinear",
                                     NODATA)
    if gaps:  # NaN strip at the far swath edge
        valid_cols = np.nonzero(np.isfinite(sar).any(axis=(0, 1)))[0]
        if valid_cols.size:
            sar[:, :, valid_cols[-1] - 1:valid_cols[-1] + 1] = np.nan
    write_geotiff(paths["sar"], sar.astype(np.float32), sar_gt, sar_crs, np.nan, list(SAR_BANDS))
    write_geotiff(paths["dsm"], dsm.astype(np.float32), dsm_gt, dsm_crs, NODATA, ["nDSM"])
    for key, arr in (("labels", labels), ("train", train), ("test", test)):
        write_geotiff(paths[key], arr.astype(np.uint8), gt, crs, 0, [key], classes=class_table)

    meta = {"name": scene.name, "seed": scene.seed, "grids": grids, "shape": [h, w], "pixel_size": px,
            "crs": f"EPSG:{crs}", "wavelengths_nm": [round(float(v), 3) for v in scene.wavelengths],
            "sar_bands": list(SAR_BANDS), "classes": class_table,
            "aux_only_pairs": [list(p) for p in scene.aux_only_pairs] if classes is None else [],
            "spectral_only_pairs": [list(p) for p in scene.spectral_only_pairs] if classes is None else [],
            "train_pixels": int((train > 0).sum()), "test_pixels": int((test > 0).sum())}
    paths["meta"] = str(out / "scene.json")
    with open(paths["meta"], "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=1)
    paths["config"] = write_config(
        str(out / "config.toml"), name=scene.name,
        spectral={"path": "hsi.tif", "name": "hsi", "units": "reflectance",
                  "wavelengths_nm": [round(float(v), 2) for v in scene.wavelengths]},
        aux=[{"path": "sar.tif", "role": "sar", "name": "sar", "band_names": list(SAR_BANDS)},
             {"path": "dsm.tif", "role": "lidar", "name": "dsm", "band_names": ["nDSM"]}],
        labels={"train": "train.tif", "test": "test.tif"}, classes=class_table,
        dataset={"description": f"synthetic multimodal scene ({scene.name})", "source": "training.synthetic",
                 "seed": scene.seed, "grids": grids})
    paths["classes"] = class_table
    return paths

