"""What each sensor sees of a synthetic layout: hyperspectral, quad-pol SAR and LiDAR nDSM, plus labels.

    from training.synthetic.render import render; r = render(layout, 2, 64, rng, classes)  # r["hsi"] ...

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
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from training.synthetic.layout import Layout

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


def render(lay: Layout, f: int, n_bands: int, rng: np.random.Generator, classes: list[dict],
           heights_real: np.ndarray | None = None) -> dict:
    """Render `lay` and average f x f fine cells into pixels: a dict of hsi, sar, ndsm, labels, purity,
    wavelengths, ndsm_fine, water_fine, water, sun_shadow. `heights_real`: a measured nDSM to use as is."""
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
    illum = 1 + 0.05 * smooth_field(rng, (h, w), 8) + rng.normal(0, 0.04, (h, w))
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


def smooth_field(rng, shape, sigma) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field smooth over about `sigma` px (periodic edges)."""
    f = ndimage.gaussian_filter(rng.normal(0, 1, shape), sigma, mode="wrap")
    return f / (f.std() + 1e-9)

