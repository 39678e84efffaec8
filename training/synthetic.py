"""Seeded procedural multimodal scenes: hyperspectral + quad-pol SAR + LiDAR nDSM + labels.

What is generated (`make_scene`)
--------------------------------
A truth layout is drawn on a fine grid (`FINE` x finer than the HSI pixel): a road network
(slightly slanted straight roads), a river or a lake, and the blocks between roads, each turned
into an urban block (paved concrete ground, rectangular buildings, lawns, street trees), a field
block (Voronoi parcels of grass, bare soil or sand) or a park (grass with tree clusters).
Every class is stamped in at least once, so small scenes still hold all classes.

* HSI: `n_bands` bands evenly spaced over 400-2500 nm, reflectance. Each object gets its own
  draw of a parametric material spectrum: vegetation (chlorophyll wells, red edge near 715 nm,
  leaf water absorption at ~970/1200/1450/1940 nm), concrete (carbonate feature at 2340 nm),
  asphalt (hydrocarbon features at 1730/2310 nm), iron-rich soil (Fe3+ feature near 900 nm,
  clay OH at 2200 nm), quartz sand (bright and flat), water (absorbing beyond 700 nm).
  Then: cast sun shadows from buildings and trees (diffuse, bluish light), averaging of the fine
  grid into HSI pixels (mixed pixels at every boundary), a sensor PSF, per-pixel illumination
  and shape variability, and band-dependent noise (large in the 940/1130/1400/1900 nm
  atmospheric water-vapour windows).
* SAR (VV, VH, HH, HV; linear sigma0): class-dependent backscatter per structure type (volume
  scattering from canopies, smooth pavement, rough soil, dark water), a per-object jitter,
  double bounce at the near-range wall of buildings (sensor looking east), radar shadow behind
  tall objects, power averaging into the pixel, 4-look gamma speckle.
* nDSM (metres): building heights 4-25 m (flat roofs), crowns 6-20 m (domed, with gaps),
  lawns a few cm, plus LiDAR noise.
* labels: the majority class of each pixel (0 = unlabelled), and its purity (0..1).

Classes (values): 1 Trees, 2 Grass, 3 Roof (concrete), 4 Paved ground (concrete),
5 Asphalt road, 6 Bare soil, 7 Sand, 8 Water.
`AUX_ONLY_PAIRS`: trees/grass (one vegetation spectrum model; height and SAR volume
scattering separate them) and roof/paved ground (one concrete model; height, double bounce).
`SPECTRAL_ONLY_PAIRS`: bare soil/sand (same SAR roughness and height; spectra differ).

`write_scene` writes GeoTIFFs (EPSG:32632 by default): hsi.tif, sar.tif, dsm.tif, labels.tif
(dense truth), train.tif (sparse blobs on pure pixels), test.tif (dense, disjoint from train
with a guard ring), scene.json and config.toml. `grids="mixed"` resamples the truth onto a
different grid per layer (SAR coarser, shifted extent, optionally another CRS; LiDAR finer and
cropped). `gaps=True` adds nodata: an HSI bad-scan-line segment (-9999), a NaN strip at the SAR
swath edge, LiDAR dropouts over water (-9999).

`make_semi_real_trento` keeps the real Trento nDSM and ground-truth layout (6 classes) and only
synthesises HSI and SAR from them.

What it tests honestly: I/O and grid alignment, nodata handling, that a model uses the auxiliary
modalities where only they separate classes (and the spectra where only they do), mixed pixels,
shadows, speckle, class imbalance, sparse training labels.
What it does not: real sensor physics (no radiative transfer, no SAR layover / geometry beyond
a simple shadow, no atmospheric correction errors beyond noise), real spatial statistics of
cities or crops, seasonal effects, co-registration errors between sensors (the layers are
exactly co-registered before resampling). Accuracies on it say nothing about real benchmarks.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal
from scipy import ndimage

from training.datasets import DATASETS, srs_wkt, write_config, write_geotiff

gdal.UseExceptions()

FINE = 2  # fine (truth) grid cells per HSI pixel along each axis
SAR_BANDS = ("VV", "VH", "HH", "HV")
NODATA = -9999.0

# value, name, colour, material, SAR structure
CLASSES = (
    (1, "Trees", "#1b7837", "vegetation", "canopy"),
    (2, "Grass", "#a6d96a", "vegetation", "lowveg"),
    (3, "Roof (concrete)", "#d73027", "concrete", "building"),
    (4, "Paved ground (concrete)", "#bababa", "concrete", "smooth"),
    (5, "Asphalt road", "#404040", "asphalt", "road"),
    (6, "Bare soil", "#a6611a", "soil", "rough"),
    (7, "Sand", "#f6e8c3", "sand", "rough"),
    (8, "Water", "#2166ac", "water", "water"),
)
AUX_ONLY_PAIRS = ((1, 2), (3, 4))
SPECTRAL_ONLY_PAIRS = ((6, 7),)

# mean sigma0 in dB (VV, VH, HH, HV) per structure type
SAR_DB = {
    "canopy": (-8.0, -14.0, -8.5, -14.0),
    "lowveg": (-12.0, -21.0, -13.0, -21.0),
    "building": (-6.0, -15.0, -7.0, -15.0),
    "smooth": (-14.0, -25.0, -15.0, -25.0),
    "road": (-17.0, -27.0, -18.0, -27.0),
    "rough": (-10.0, -19.0, -11.0, -19.0),
    "water": (-22.0, -30.0, -25.0, -30.0),
}
DOUBLE_BOUNCE_DB = (4.0, -8.0, 8.0, -8.0)
NESZ_DB = -24.0


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


# ----------------------------------------------------------------------------- spectra
def wavelengths(n_bands: int) -> np.ndarray:
    """Band centres evenly spaced over 400-2500 nm."""
    return np.linspace(400.0, 2500.0, n_bands)


def _g(wl, c, w):
    return np.exp(-0.5 * ((wl - c) / w) ** 2)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def material_spectrum(material: str, wl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random draw of a material's reflectance spectrum at wavelengths `wl` (nm)."""
    u = rng.uniform
    if material in ("vegetation", "conifer"):
        chl, water = u(0.8, 1.2), u(0.8, 1.2)
        nir = u(0.26, 0.34) if material == "conifer" else u(0.40, 0.50)
        vis = 0.03 + 0.06 * _g(wl, 555, 30) / chl - 0.01 * chl * _g(wl, 670, 20)
        edge = _sig((wl - (700 + 15 * chl)) / 14)
        plateau = nir * (1 - 0.25 * _sig((wl - 1300) / 60))
        absorb = water * (0.05 * _g(wl, 970, 30) + 0.12 * _g(wl, 1200, 50) + 0.9 * _g(wl, 1450, 70)
                          + 1.3 * _g(wl, 1940, 90) + 0.9 * np.clip((wl - 1100) / 1000, 0, None) ** 1.5)
        r = (np.clip(vis, 0.015, None) * (1 - edge) + plateau * edge) * np.exp(-absorb)
    elif material == "concrete":
        b = u(0.24, 0.32)
        r = b * (0.75 + 0.35 * (1 - np.exp(-(wl - 400) / 300)))
        r *= 1 - 0.08 * _g(wl, 1450, 60) - 0.1 * _g(wl, 1940, 70) - 0.12 * _g(wl, 2340, 40)
    elif material == "asphalt":
        b, age = u(0.05, 0.09), u(0.0, 1.0)
        r = b * (1 + 0.9 * (wl - 400) / 2100 * (0.5 + age))
        r *= 1 - 0.1 * _g(wl, 1730, 25) - 0.15 * _g(wl, 2310, 30)
    elif material == "soil":
        b, moist = u(0.2, 0.28), u(0.0, 0.4)
        r = b * (0.3 + 0.7 * _sig((wl - 580) / 50) + 0.35 * np.clip((wl - 800) / 1700, 0, None))
        r *= (1 - 0.15 * _g(wl, 900, 80) - 0.12 * _g(wl, 2200, 25) - 0.15 * moist * _g(wl, 1450, 60)
              - 0.2 * moist * _g(wl, 1940, 70)) * (1 - 0.3 * moist)
    elif material == "sand":
        b = u(0.32, 0.40)
        r = b * (0.75 + 0.25 * _sig((wl - 480) / 60) + 0.1 * (wl - 400) / 2100)
        r *= 1 - 0.04 * _g(wl, 1450, 60) - 0.05 * _g(wl, 1940, 70)
    elif material == "water":
        turb = u(0.0, 1.0)
        r = 0.02 + 0.03 * _g(wl, 480, 60) + 0.03 * turb * _g(wl, 580, 60) + 0.01 * turb * _g(wl, 810, 30)
        r = r * np.exp(-np.clip(wl - 700, 0, None) / 80) + 0.004
    else:
        raise ValueError(f"unknown material {material!r}")
    return r.astype(np.float32)


def _noise_sigma(wl: np.ndarray) -> np.ndarray:
    """Per-band noise std: small, larger in the water-vapour absorption windows."""
    return (0.002 + 0.004 * _g(wl, 940, 20) + 0.004 * _g(wl, 1130, 25) + 0.02 * _g(wl, 1400, 35)
            + 0.03 * _g(wl, 1890, 45) + 0.004 * np.clip((wl - 2000) / 500, 0, None))


# ----------------------------------------------------------------------------- layout
class _Layout:
    """Truth on the fine grid: class, object id, height; object -> material / structure."""

    def __init__(self, h: int, w: int, px: float):
        self.h, self.w, self.px = h, w, px
        self.cls = np.zeros((h, w), np.uint8)
        self.obj = np.zeros((h, w), np.int32)
        self.height = np.zeros((h, w), np.float32)
        self.materials: list[str] = ["sand"]  # object 0: filler, never visible in practice
        self.structures: list[str] = ["rough"]
        yy, xx = np.mgrid[0:h, 0:w]
        self.y, self.x = (yy + 0.5) * px, (xx + 0.5) * px  # metres from the upper-left corner

    def new(self, material: str, structure: str) -> int:
        self.materials.append(material)
        self.structures.append(structure)
        return len(self.materials) - 1

    def paint(self, mask, value: int, height=None) -> int:
        _, _, mat, struct = _CLS[value]
        o = self.new(mat, struct)
        self.cls[mask], self.obj[mask] = value, o
        self.height[mask] = 0.0 if height is None else height
        return o


_CLS = {c[0]: c[1:] for c in CLASSES}


def _crown(lay: _Layout, cy, cx, radius, h, allowed) -> None:
    r0, r1 = max(0, int((cy - radius) / lay.px)), min(lay.h, int((cy + radius) / lay.px) + 1)
    c0, c1 = max(0, int((cx - radius) / lay.px)), min(lay.w, int((cx + radius) / lay.px) + 1)
    if r0 >= r1 or c0 >= c1:
        return
    d2 = ((lay.y[r0:r1, c0:c1] - cy) ** 2 + (lay.x[r0:r1, c0:c1] - cx) ** 2) / radius ** 2
    m = (d2 <= 1) & allowed[r0:r1, c0:c1]
    prof = h * (1 - 0.35 * d2)
    m &= prof > lay.height[r0:r1, c0:c1]
    sub = np.zeros((lay.h, lay.w), bool)
    sub[r0:r1, c0:c1] = m
    lay.paint(sub, 1, prof[m])


def _rect(lay: _Layout, y0, x0, hh, ww):
    return (lay.y >= y0) & (lay.y < y0 + hh) & (lay.x >= x0) & (lay.x < x0 + ww)


def _urban(lay, block, rng):
    lay.paint(block, 4)
    area = block.sum() * lay.px ** 2
    ys, xs = np.nonzero(block)
    taken = np.zeros_like(block)
    for _ in range(int(area / 120) + 3):
        hh, ww = rng.uniform(8, 22, 2)
        i = rng.integers(len(ys))
        y0, x0 = lay.y[ys[i], xs[i]] - hh / 2, lay.x[ys[i], xs[i]] - ww / 2
        outer = _rect(lay, y0 - 3, x0 - 3, hh + 6, ww + 6)
        if (outer & ~block).any() or (outer & taken).any():
            continue
        inner = _rect(lay, y0, x0, hh, ww)
        if rng.random() < 0.15:
            lay.paint(inner, 2, rng.uniform(0.02, 0.1))  # lawn
        else:
            lay.paint(inner, 3, rng.uniform(4, 25))
        taken |= outer
    free = block & ~taken
    fy, fx = np.nonzero(free)
    for _ in range(min(len(fy), int(area / 600))):
        i = rng.integers(len(fy))
        _crown(lay, lay.y[fy[i], fx[i]], lay.x[fy[i], fx[i]], rng.uniform(2, 4), rng.uniform(6, 14), free)


def _fields(lay, block, rng):
    ys, xs = np.nonzero(block)
    n = max(2, int(block.sum() * lay.px ** 2 / 1500))
    pick = rng.choice(len(ys), size=min(n, len(ys)), replace=False)
    sy, sx = lay.y[ys[pick], xs[pick]], lay.x[ys[pick], xs[pick]]
    d = (lay.y[ys, xs, None] - sy) ** 2 + (lay.x[ys, xs, None] - sx) ** 2
    parcel = np.argmin(d, axis=1)
    for k in range(len(pick)):
        m = np.zeros_like(block)
        m[ys[parcel == k], xs[parcel == k]] = True
        c = rng.choice([2, 6, 7], p=[0.4, 0.3, 0.3])
        lay.paint(m, int(c), rng.uniform(0.02, 0.3) if c == 2 else None)


def _park(lay, block, rng):
    lay.paint(block, 2, rng.uniform(0.02, 0.3))
    ys, xs = np.nonzero(block)
    for _ in range(int(block.sum() * lay.px ** 2 / 2500) + 1):
        i = rng.integers(len(ys))
        cy, cx = lay.y[ys[i], xs[i]], lay.x[ys[i], xs[i]]
        for _ in range(rng.integers(4, 14)):
            _crown(lay, cy + rng.normal(0, 8), cx + rng.normal(0, 8), rng.uniform(2, 5),
                   rng.uniform(6, 20), block)


def _roads_and_water(lay, rng):
    hm, wm = lay.h * lay.px, lay.w * lay.px
    water = np.zeros((lay.h, lay.w), bool)
    if rng.random() < 0.65:  # meandering river
        y0, amp, lam = rng.uniform(0.2, 0.8) * hm, rng.uniform(3, 12), rng.uniform(80, 200)
        centre = y0 + amp * np.sin(2 * np.pi * lay.x / lam + rng.uniform(0, 6.3))
        water = np.abs(lay.y - centre) < rng.uniform(4, 8)
    else:  # lake
        cy, cx = rng.uniform(0.2, 0.8) * hm, rng.uniform(0.2, 0.8) * wm
        ry, rx = rng.uniform(8, 20, 2)
        water = ((lay.y - cy) / ry) ** 2 + ((lay.x - cx) / rx) ** 2 <= 1
    roads = []
    for along, size, other in ((lay.x, wm, lay.y), (lay.y, hm, lay.x)):
        n = max(1, int(round(size / rng.uniform(70, 110))))
        for i in range(n):
            pos = (i + 0.5 + rng.uniform(-0.15, 0.15)) * size / n
            slope = np.tan(np.radians(rng.uniform(-8, 8)))
            roads.append(np.abs(along - pos - slope * (other - other.mean())) < rng.uniform(3, 5))
    return water, roads


def _stamp_missing(lay, rng, min_px: int) -> None:
    """Stamp a patch (about 2 x `min_px` fine pixels) of every class that is missing or nearly so."""
    radius = np.sqrt(2 * min_px / np.pi) * lay.px
    for _ in range(3):
        for value in _CLS:
            if (lay.cls == value).sum() >= min_px:
                continue
            host = np.isin(lay.cls, (2, 4, 6, 7)) & (lay.height < 1)
            ys, xs = np.nonzero(host if host.any() else np.ones_like(host))
            i = rng.integers(len(ys))
            cy, cx = lay.y[ys[i], xs[i]], lay.x[ys[i], xs[i]]
            if value == 1:
                _crown(lay, cy, cx, radius, rng.uniform(8, 15), np.ones_like(host))
            elif value == 3:
                side = np.sqrt(2 * min_px) * lay.px
                lay.paint(_rect(lay, cy - side / 2 - 3, cx - side / 2 - 3, side + 6, side + 6), 4)
                lay.paint(_rect(lay, cy - side / 2, cx - side / 2, side, side), 3, rng.uniform(5, 15))
            else:
                disk = (lay.y - cy) ** 2 + (lay.x - cx) ** 2 <= radius ** 2
                lay.paint(disk, value, 0.1 if value == 2 else None)


def _synthetic_layout(hf: int, wf: int, px: float, rng: np.random.Generator) -> _Layout:
    lay = _Layout(hf, wf, px)
    water, roads = _roads_and_water(lay, rng)
    road = np.logical_or.reduce(roads)
    blocks, nb = ndimage.label(~road & ~water)
    sizes = ndimage.sum(np.ones_like(blocks), blocks, index=np.arange(1, nb + 1))
    order = np.argsort(-sizes)
    uses = list(rng.permutation(["urban", "fields", "park"]))
    for rank, b in enumerate(order):
        use = uses[rank] if rank < 3 else rng.choice(["urban", "fields", "park"], p=[0.4, 0.35, 0.25])
        mask = blocks == b + 1
        {"urban": _urban, "fields": _fields, "park": _park}[str(use)](lay, mask, rng)
    lay.paint(water, 8)
    for r in roads:
        lay.paint(r, 5)
    _stamp_missing(lay, rng, min_px=max(160, hf * wf // 150))
    return lay


# ----------------------------------------------------------------------------- rendering
def _shadow(height: np.ndarray, px: float, step: tuple[int, int], tan_elev: float) -> np.ndarray:
    """Pixels hidden from a source along `step` (rows, cols) at elevation atan(tan_elev)."""
    out = np.zeros(height.shape, bool)
    h, w = height.shape
    dist = px * np.hypot(*step)
    for k in range(1, int(height.max() / (tan_elev * dist)) + 2):
        dr, dc = step[0] * k, step[1] * k
        if abs(dr) >= h or abs(dc) >= w:
            break
        src = height[max(0, dr):h + min(0, dr), max(0, dc):w + min(0, dc)]
        dst = (slice(max(0, -dr), h + min(0, -dr)), slice(max(0, -dc), w + min(0, -dc)))
        out[dst] |= src - height[dst] > k * dist * tan_elev
    return out


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Average f x f blocks over the first two axes."""
    if f == 1:
        return a
    h, w = a.shape[0] // f, a.shape[1] // f
    return a.reshape(h, f, w, f, *a.shape[2:]).mean(axis=(1, 3))


def _render(lay: _Layout, f: int, n_bands: int, rng: np.random.Generator, classes: list[dict],
            heights_real: np.ndarray | None = None) -> dict:
    wl = wavelengths(n_bands)
    n_obj = len(lay.materials)
    spectra = np.stack([material_spectrum(m, wl, rng) for m in lay.materials])
    # HSI on the fine grid: object spectra, sun shadows (sun in the south-west, 60 deg up)
    fine = spectra[lay.obj]
    shade = _shadow(lay.height, lay.px, (1, -1), np.tan(np.radians(60)))
    fine[shade] *= (0.12 + 0.25 * (450.0 / wl) ** 1.5).astype(np.float32)
    hsi = _block_mean(fine, f)
    hsi = ndimage.gaussian_filter(hsi, sigma=(0.4, 0.4, 0))  # sensor PSF
    h, w = hsi.shape[:2]
    illum = 1 + 0.05 * _smooth_field(rng, (h, w), 8) + rng.normal(0, 0.04, (h, w))
    basis = np.stack([(wl - 1450) / 1050, _g(wl, 700, 150)])  # slope + visible/NIR bump
    shape = 1 + rng.normal(0, 0.02, (h, w, 2)) @ basis
    hsi = hsi * (illum[..., None] * shape) + rng.normal(0, 1, hsi.shape) * _noise_sigma(wl)
    hsi = np.clip(hsi, 0, None).astype(np.float32).transpose(2, 0, 1)

    # SAR on the fine grid (linear power), then averaged and speckled
    db = np.array([SAR_DB[s] for s in lay.structures]) + rng.normal(0, 1.0, (n_obj, 1)) \
        + rng.normal(0, 0.5, (n_obj, 4))
    sar_f = (10 ** (db / 10)).astype(np.float32)[lay.obj]
    bld = np.array([s == "building" for s in lay.structures])[lay.obj] & (lay.height > 2)
    wall = ~bld & np.pad(bld[:, 1:], ((0, 0), (0, 1)))  # ground just west of a building
    strength = rng.uniform(0.3, 1.5, n_obj)[np.pad(lay.obj[:, 1:], ((0, 0), (0, 1)))]
    sar_f[wall] += (10 ** (np.array(DOUBLE_BOUNCE_DB) / 10) * strength[wall][:, None]).astype(np.float32)
    rshadow = _shadow(lay.height, lay.px, (0, -1), 1 / np.tan(np.radians(35)))  # sensor to the west
    sar_f[rshadow] = np.minimum(sar_f[rshadow], 10 ** (NESZ_DB / 10))
    sar = _block_mean(sar_f, f)
    sar = sar * rng.gamma(4.0, 1 / 4.0, sar.shape) + 10 ** (NESZ_DB / 10) * rng.exponential(1, sar.shape)
    sar = sar.astype(np.float32).transpose(2, 0, 1)

    # nDSM
    if heights_real is not None:
        ndsm_f = heights_real.astype(np.float32)
    else:
        canopy = np.array([s == "canopy" for s in lay.structures])[lay.obj]
        noise = np.where(canopy, 0.4, np.where(bld, 0.1, 0.05))
        ndsm_f = lay.height + rng.normal(0, 1, lay.height.shape) * noise
        gaps = canopy & (rng.random(lay.height.shape) < 0.05)
        ndsm_f[gaps] *= rng.uniform(0, 0.5, gaps.sum())
        ndsm_f = ndsm_f.astype(np.float32)
    ndsm = _block_mean(ndsm_f, f).astype(np.float32)

    # labels: majority class per pixel and its share
    values = [0] + [c["value"] for c in classes]
    counts = np.stack([_block_mean((lay.cls == v).astype(np.float32), f) for v in values])
    labels = np.asarray(values, np.uint8)[counts[1:].argmax(0) + 1]
    purity = counts[1:].max(0)
    labels[counts[0] > purity] = 0  # mostly unlabelled
    water_f = np.array([s == "water" for s in lay.structures])[lay.obj]
    return dict(hsi=hsi, sar=sar, ndsm=ndsm[None], labels=labels, purity=purity.astype(np.float32),
                wavelengths=wl, ndsm_fine=ndsm_f[None], water_fine=water_f,
                water=_block_mean(water_f.astype(np.float32), f) > 0.5,
                sun_shadow=_block_mean(shade.astype(np.float32), f))


def _smooth_field(rng, shape, sigma) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.normal(0, 1, shape), sigma, mode="wrap")
    return f / (f.std() + 1e-9)


def _class_dicts(table) -> list[dict]:
    return [{"value": c[0], "name": c[1], "color": c[2]} for c in table]


def make_scene(height: int = 128, width: int = 160, seed: int = 0, n_bands: int = 64,
               pixel_size: float = 2.0) -> Scene:
    """Draw a procedural scene of `height` x `width` HSI pixels (deterministic in `seed`)."""
    if n_bands < 2 or height < 8 or width < 8:
        raise ValueError("need n_bands >= 2 and a scene of at least 8 x 8 pixels")
    rng = np.random.default_rng(seed)
    lay = _synthetic_layout(height * FINE, width * FINE, pixel_size / FINE, rng)
    classes = _class_dicts(CLASSES)
    r = _render(lay, FINE, n_bands, rng, classes)
    return Scene(hsi=r["hsi"], sar=r["sar"], ndsm=r["ndsm"], labels=r["labels"], purity=r["purity"],
                 wavelengths=r["wavelengths"], classes=classes, pixel_size=pixel_size, seed=seed,
                 ndsm_fine=r["ndsm_fine"], fine_factor=FINE, aux_only_pairs=AUX_ONLY_PAIRS,
                 spectral_only_pairs=SPECTRAL_ONLY_PAIRS,
                 info={k: r[k] for k in ("water", "water_fine", "sun_shadow")})


# ----------------------------------------------------------------------------- semi-real Trento
def default_data_dir() -> Path:
    """`<repo>/../shared/data` (where the shared real files live, if anywhere)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
    h, w = gt.shape
    heights = np.clip(lidar[..., 0], 0, None)
    rng = np.random.default_rng(seed)
    lay = _Layout(h, w, 1.0)
    lay.cls[:] = gt
    lay.height[:] = heights
    # unlabelled background: Voronoi parcels of grass / soil / sand / pavement
    n = max(4, h * w // 2500)
    sy, sx = rng.uniform(0, h, n), rng.uniform(0, w, n)
    parcel = np.argmin((lay.y[..., None] - sy) ** 2 + (lay.x[..., None] - sx) ** 2, axis=-1)
    kinds = rng.choice(["grass", "soil", "sand", "paved"], size=n, p=[0.45, 0.3, 0.1, 0.15])
    mat = {"grass": ("vegetation", "lowveg"), "soil": ("soil", "rough"), "sand": ("sand", "rough"),
           "paved": ("concrete", "smooth")}
    ids = np.array([lay.new(*mat[k]) for k in kinds])
    lay.obj[:] = ids[parcel]
    tall = heights > 1.0
    # labelled objects: connected components per class; vegetation split by height
    rules = {1: [("vegetation", "canopy", tall), ("vegetation", "lowveg", ~tall)],
             2: [("concrete", "building", None)], 3: [("soil", "rough", None)],
             4: [("conifer", "canopy", None)],
             5: [("vegetation", "canopy", heights > 0.8), ("soil", "rough", heights <= 0.8)],
             6: [("asphalt", "road", None)]}
    for value, parts in rules.items():
        comps, nc = ndimage.label(gt == value)
        for material, structure, sel in parts:
            m = comps > 0 if sel is None else (comps > 0) & sel
            start = len(lay.materials)
            for _ in range(nc):
                lay.new(material, structure)
            lay.obj[m] = start + comps[m] - 1
    classes = [dict(c) for c in DATASETS["trento"].classes]
    r = _render(lay, 1, n_bands, rng, classes, heights_real=heights)
    return Scene(hsi=r["hsi"], sar=r["sar"], ndsm=r["ndsm"], labels=r["labels"], purity=r["purity"],
                 wavelengths=r["wavelengths"], classes=classes, pixel_size=1.0, seed=seed,
                 origin=(664000.0, 5104000.0), ndsm_fine=r["ndsm_fine"], fine_factor=1,
                 name="semi_real_trento", info={k: r[k] for k in ("water", "water_fine", "sun_shadow")})


# ----------------------------------------------------------------------------- label splits
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


def split_labels(labels: np.ndarray, purity: np.ndarray, rng: np.random.Generator, guard: int = 1,
                 **kw) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): sparse blobs, and every other labelled pixel at least `guard` px away."""
    train = sample_sparse_labels(labels, purity, rng, **kw)
    near = ndimage.binary_dilation(train > 0, iterations=guard) if guard > 0 else train > 0
    test = np.where(near, 0, labels).astype(np.uint8)
    return train, test


# ----------------------------------------------------------------------------- writing
def _mem(array: np.ndarray, gt, crs, nodata) -> gdal.Dataset:
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
    train, test = split_labels(labels, scene.purity, rng, guard=guard, per_class=train_per_class,
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
        drop = water_f & (_smooth_field(rng, water_f.shape, 2) > -0.3)
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


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.synthetic", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--size", default="128x160", help="HxW in HSI pixels (default 128x160)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bands", type=int, default=None, help="HSI bands (default 64; Trento 63)")
    ap.add_argument("--grids", choices=("same", "mixed"), default="same")
    ap.add_argument("--other-crs", default=None, help="SAR CRS with --grids mixed, e.g. EPSG:4326")
    ap.add_argument("--train-per-class", type=int, default=60)
    ap.add_argument("--no-gaps", action="store_true", help="do not insert nodata pixels")
    ap.add_argument("--semi-real-trento", metavar="DATA_DIR", default=None,
                    help="build on the real Trento nDSM + labels from DATA_DIR (holding trento/)")
    a = ap.parse_args(argv)
    if a.semi_real_trento:
        scene = make_semi_real_trento(a.semi_real_trento, seed=a.seed, n_bands=a.bands or 63)
    else:
        hh, ww = (int(v) for v in a.size.lower().split("x"))
        scene = make_scene(hh, ww, seed=a.seed, n_bands=a.bands or 64)
    paths = write_scene(scene, a.out, a.grids, train_per_class=a.train_per_class, gaps=not a.no_gaps,
                        other_crs=a.other_crs)
    with open(paths["meta"], encoding="utf-8") as fh:
        meta = json.load(fh)
    print(f"{scene.name}: {scene.shape[0]}x{scene.shape[1]} px, {len(scene.wavelengths)} bands, "
          f"{len(meta['classes'])} classes, train {meta['train_pixels']} px, test {meta['test_pixels']} px")
    print(f"config: {paths['config']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
