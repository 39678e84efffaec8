"""Where things are in a synthetic scene: the classes, and the truth layout drawn on a fine grid.

    from training.synthetic.layout import synthetic_layout; lay = synthetic_layout(256, 320, 1.0, rng)

A `Layout` holds, per fine-grid cell, the class, the object id and the height, and per object its
material (spectral model) and structure (SAR model). `synthetic_layout` draws a road network (slightly
slanted straight roads), a river or a lake, and the blocks between roads, each turned into an urban
block (paved concrete ground, rectangular buildings, lawns, street trees), a field block (Voronoi
parcels of grass, bare soil or sand) or a park (grass with tree clusters); every class is then stamped
in at least once, so small scenes still hold all classes. `trento_layout` builds one from the real
Trento ground truth and nDSM instead. What each sensor sees of a layout is render.py's job.

Classes (values): 1 Trees, 2 Grass, 3 Roof (concrete), 4 Paved ground (concrete),
5 Asphalt road, 6 Bare soil, 7 Sand, 8 Water.
`AUX_ONLY_PAIRS`: trees/grass (one vegetation spectrum model; height and SAR volume
scattering separate them) and roof/paved ground (one concrete model; height, double bounce).
`SPECTRAL_ONLY_PAIRS`: bare soil/sand (same SAR roughness and height; spectra differ).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

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


class Layout:
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


def class_dicts(table=CLASSES) -> list[dict]:
    """[{value, name, color}] of a (value, name, colour, ...) class table."""
    return [{"value": c[0], "name": c[1], "color": c[2]} for c in table]


def _crown(lay: Layout, cy, cx, radius, h, allowed) -> None:
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


def _rect(lay: Layout, y0, x0, hh, ww):
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


def synthetic_layout(hf: int, wf: int, px: float, rng: np.random.Generator) -> Layout:
    lay = Layout(hf, wf, px)
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



def trento_layout(gt: np.ndarray, heights: np.ndarray, rng: np.random.Generator) -> Layout:
    """Layout on the real Trento grid (1 m): its ground truth `gt` (6 classes) and nDSM `heights`."""
    h, w = gt.shape
    lay = Layout(h, w, 1.0)
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
    return lay
