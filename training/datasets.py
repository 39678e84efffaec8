"""Importers for public multimodal benchmarks (users download them) -> GeoTIFF stacks + config.toml.

    python -m training.datasets list
    python -m training.datasets import NAME --src DIR_OR_ZIP --dst DIR [--no-verify-hash] [--no-verify-counts]

NAME: augsburg, berlin, houston2013, trento, muufl, yellow_river. Files are searched by name anywhere
under --src (a .zip is extracted to a temporary folder first). Known sha256 digests are checked
(mismatch -> error unless --no-verify-hash) and so are the known class counts (mismatch -> error for
counts checked on the real files, a warning for counts only quoted from the literature).
The benchmarks carry no georeferencing: rasters get a nominal pixel size, origin (0, 0), no CRS.

Outputs in --dst: hsi.tif (Float32, band metadata `wavelength` nm: nominal, evenly spaced over the
sensor range), sar.tif / dsm.tif / lidar.tif as applicable, train.tif + test.tif (standard split)
or labels.tif (+ a split rule), UInt8 with 0 = unlabelled, colour table; config.toml.

Config schema (TOML; the subset of training/config.py's schema that these writers use; paths are
relative to the config file):

    [dataset]                      # name, description, source, seed, grids, citation, license, notes
    name = "augsburg"
    description = "Augsburg (S2FL)"

    [data]
    spectral = "hsi.tif"           # or an inline table: {path = "hsi.tif", name = "hsi",
                                   #   wavelengths_nm = [...], units = "reflectance"}
    [[data.aux]]                   # auxiliary modalities, in model order (at least one)
    path = "sar.tif"
    role = "sar"                   # "sar" | "lidar"
    name = "sar"
    band_names = ["SAR1", "SAR2", "SAR3", "SAR4"]

    [labels]                       # either train + test label rasters ...
    train = "train.tif"
    test = "test.tif"
    # ... or one label raster and a split rule (MUUFL):
    # raster = "labels.tif"
    # [labels.split]
    # per_class = 100              # random training pixels per class; the rest is test
    # seed = 0

    [[classes]]                    # one per class, in model order; value = pixel value in the rasters
    value = 1
    name = "Forest"
    color = "#1b7837"

Trento: when only allgrd.mat is there, the common 819-pixel split (129/125/105/154/184/122 per class)
is drawn at random (seed 0) into train.tif / test.tif; labels.tif keeps the full ground truth.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

from engine.errors import BDGFError

gdal.UseExceptions()


class DatasetError(BDGFError):
    """A benchmark folder that cannot be imported (missing file, bad hash, wrong counts)."""


_GDAL_TYPES = {
    np.dtype("uint8"): gdal.GDT_Byte,
    np.dtype("uint16"): gdal.GDT_UInt16,
    np.dtype("int16"): gdal.GDT_Int16,
    np.dtype("int32"): gdal.GDT_Int32,
    np.dtype("float32"): gdal.GDT_Float32,
    np.dtype("float64"): gdal.GDT_Float64,
}

_PALETTE = ("#1b7837", "#d73027", "#7570b3", "#a6d96a", "#e6ab02", "#2166ac", "#e7298a", "#66a61e",
            "#a6761d", "#666666", "#1f78b4", "#fb9a99", "#b15928", "#fdbf6f", "#cab2d6", "#ffff99")


def _classes(names: Sequence[str], colors: Sequence[str] | None = None) -> list[dict]:
    colors = colors or _PALETTE
    return [{"value": i + 1, "name": n, "color": colors[i % len(colors)]} for i, n in enumerate(names)]


@dataclass(frozen=True)
class Source:
    """One input: candidate (file name, .mat key or None = the only array / a .tif) pairs."""

    what: str
    candidates: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    classes: tuple[dict, ...]
    hsi: Source
    aux: tuple[tuple[str, str, Source, tuple[str, ...]], ...]  # (out name, role, source, band names)
    train: Source | None = None
    test: Source | None = None
    raster: Source | None = None  # labels without a standard split
    split_per_class: int | tuple[int, ...] = 100
    counts: dict = field(default_factory=dict)  # "train"/"test"/"raster" -> per-class tuple or total int
    checked: tuple[str, ...] = ("train", "test")  # counts verified on the real files (others: warn only)
    wavelength_range_nm: tuple[float, float] = (400.0, 2500.0)
    pixel_size_m: float = 1.0
    zip_name: str | None = None
    citation: str = ""


def _src(what, *cands) -> Source:
    return Source(what, tuple(cands))


AUGSBURG_NAMES = ("Forest", "Residential Area", "Industrial Area", "Low Plants", "Allotment",
                  "Commercial Area", "Water")
BERLIN_NAMES = ("Forest", "Residential Area", "Industrial Area", "Low Plants", "Soil", "Allotment",
                "Commercial Area", "Water")
HOUSTON_NAMES = ("Healthy grass", "Stressed grass", "Synthetic grass", "Trees", "Soil", "Water",
                 "Residential", "Commercial", "Road", "Highway", "Railway", "Parking Lot 1",
                 "Parking Lot 2", "Tennis Court", "Running Track")
TRENTO_NAMES = ("Apple trees", "Buildings", "Ground", "Woods", "Vineyard", "Roads")
MUUFL_NAMES = ("Trees", "Mostly grass", "Mixed ground surface", "Dirt and sand", "Road", "Water",
               "Building shadow", "Building", "Sidewalk", "Yellow curb", "Cloth panels")
AUGSBURG_COLORS = ("#1b7837", "#e31a1c", "#7570b3", "#a6d96a", "#fdae61", "#f781bf", "#2166ac")
BERLIN_COLORS = ("#1b7837", "#e31a1c", "#7570b3", "#a6d96a", "#a6611a", "#fdae61", "#f781bf", "#2166ac")
HOUSTON_COLORS = ("#4dac26", "#b8e186", "#1a9850", "#00441b", "#a6611a", "#2166ac", "#e31a1c", "#f781bf",
                  "#636363", "#252525", "#8c510a", "#bdbdbd", "#969696", "#80cdc1", "#d6604d")
TRENTO_COLORS = ("#4dac26", "#d7191c", "#a6611a", "#1b7837", "#b8e186", "#404040")
MUUFL_COLORS = ("#1b7837", "#a6d96a", "#dfc27d", "#f6e8c3", "#404040", "#2166ac", "#542788", "#d7191c",
                "#bababa", "#ffff33", "#e7298a")
SAR4 = ("SAR1", "SAR2", "SAR3", "SAR4")
S2FL = "Hong et al., ISPRS J. Photogramm. Remote Sens. 178, 2021 (S2FL)"
HOUSTON_TR = "2013_IEEE_GRSS_DF_Contest_Samples_TR.tif"
HOUSTON_VA = "2013_IEEE_GRSS_DF_Contest_Samples_VA.tif"

DATASETS: dict[str, Spec] = {s.name: s for s in (
    Spec("augsburg", "Augsburg (S2FL)", tuple(_classes(AUGSBURG_NAMES, AUGSBURG_COLORS)),
         _src("HSI", ("data_HS_LR.mat", "data_HS_LR")),
         (("sar", "sar", _src("SAR", ("data_SAR_HR.mat", "data_SAR_HR")), SAR4),
          ("dsm", "lidar", _src("DSM", ("data_DSM.mat", "data_DSM")), ("DSM",))),
         train=_src("train labels", ("TrainImage.mat", "TrainImage")),
         test=_src("test labels", ("TestImage.mat", "TestImage")),
         counts={"train": (146, 264, 21, 248, 52, 7, 23),
                 "test": (13361, 30065, 3830, 26609, 523, 1638, 1507)},
         pixel_size_m=30.0, zip_name="augsburg-ouc.zip", citation=S2FL),
    Spec("berlin", "Berlin (S2FL)", tuple(_classes(BERLIN_NAMES, BERLIN_COLORS)),
         _src("HSI", ("data_HS_LR.mat", "data_HS_LR")),
         (("sar", "sar", _src("SAR", ("data_SAR_HR.mat", "data_SAR_HR")), SAR4),),
         train=_src("train labels", ("TrainImage.mat", "TrainImage")),
         test=_src("test labels", ("TestImage.mat", "TestImage")),
         counts={"train": 2820, "test": 461851}, checked=(),
         pixel_size_m=30.0, zip_name="berlin-ouc.zip", citation=S2FL),
    Spec("houston2013", "Houston 2013 (IEEE GRSS DFC)", tuple(_classes(HOUSTON_NAMES, HOUSTON_COLORS)),
         _src("HSI", ("HSI.mat", None), ("2013_IEEE_GRSS_DF_Contest_CASI.tif", None)),
         (("lidar", "lidar",
           _src("LiDAR", ("LiDAR.mat", None), ("2013_IEEE_GRSS_DF_Contest_LiDAR.tif", None)), ("DSM",)),),
         train=_src("train labels", (HOUSTON_TR, None), ("TRLabel.mat", None)),
         test=_src("test labels", (HOUSTON_VA, None), ("TSLabel.mat", None)),
         counts={"train": (198, 190, 192, 188, 186, 182, 196, 191, 193, 191, 181, 192, 184, 181, 187),
                 "test": (1053, 1064, 505, 1056, 1056, 143, 1072, 1053, 1059, 1036, 1054, 1041, 285,
                          247, 473)},
         wavelength_range_nm=(380.0, 1050.0), pixel_size_m=2.5,
         citation="Debes et al., IEEE JSTARS 7(6), 2014 (IEEE GRSS Data Fusion Contest 2013)"),
    Spec("trento", "Trento", tuple(_classes(TRENTO_NAMES, TRENTO_COLORS)),
         _src("HSI", ("Italy_hsi.mat", "data"), ("HSI.mat", None)),
         (("lidar", "lidar", _src("LiDAR", ("Italy_lidar.mat", "data"), ("LiDAR.mat", None)),
           ("elevation", "intensity")),),
         train=_src("train labels", ("TRLabel.mat", None)), test=_src("test labels", ("TSLabel.mat", None)),
         raster=_src("ground truth", ("allgrd.mat", "mask_test")),
         split_per_class=(129, 125, 105, 154, 184, 122),  # the common 819-pixel split
         counts={"raster": (4034, 2903, 479, 9123, 10501, 3174),
                 "train": (129, 125, 105, 154, 184, 122), "test": (3905, 2778, 374, 8969, 10317, 3052)},
         checked=("raster",),
         wavelength_range_nm=(402.89, 989.09), pixel_size_m=1.0, citation="University of Trento"),
    Spec("muufl", "MUUFL Gulfport", tuple(_classes(MUUFL_NAMES, MUUFL_COLORS)),
         _src("HSI", ("muufl_gulfport_campus_1_hsi_220_label.mat", "hsi.Data")),
         (("lidar", "lidar", _src("LiDAR", ("muufl_gulfport_campus_1_hsi_220_label.mat", "hsi.Lidar.z")),
           ("first return", "last return")),),
         raster=_src("labels", ("muufl_gulfport_campus_1_hsi_220_label.mat", "hsi.sceneLabels.labels")),
         split_per_class=100, wavelength_range_nm=(375.0, 1050.0), pixel_size_m=1.0,
         citation="Gader et al., MUUFL Gulfport hyperspectral and LiDAR data set, 2013"),
    Spec("yellow_river", "Yellow River Estuary (AsyFFNet layout)", (),
         _src("HSI", ("data_hsi.mat", "data")),
         (("sar", "sar", _src("SAR", ("data_sar.mat", "data")), ()),),
         train=_src("train labels", ("mask_train.mat", "mask_train")),
         test=_src("test labels", ("mask_test.mat", "mask_test"))),
)}

# sha256 of files as released (data README); a file not listed is not checked.
SHA256 = {
    ("trento", "HSI.mat"): "44a84b4fe8bab9b2f5ec11af32602436ccc97653b7ae8c3283334da7d221c053",
    ("trento", "LiDAR.mat"): "d99347532e7b18982c9537fd4de43574dd64f9b35ccab251459e7b483ddd43df",
    ("trento", "Italy_lidar.mat"): "a04dc90368d6a7b4f9d3936024ba9fef4105456c090daa14fff31b8b79e94ab1",
    ("trento", "allgrd.mat"): "7e3fb2a2ea22c2661dfc768db3cb93c9643b324e7e64fadedfa57f5edbf1818f",
    ("houston2013", "HSI.mat"): "6a0edba3c224df411623ed5774fc34e91929ab341709859b2f56cc38dbb3c6fd",
    ("houston2013", HOUSTON_TR): "c943016242f98a4c1e70fb35842562e654425de5364c58ceb5e1186029c193f7",
    ("houston2013", HOUSTON_VA): "9fd0093af69a8f91cc0f3ef7c67dd7f961445223c0a2497bdbed03e7f329a010",
    ("augsburg", "TrainImage.mat"): "b912b3807b703cbd511ba0e64fd8e5e040a59abc7ff6d51193dda0868c516d45",
    ("augsburg", "TestImage.mat"): "87f9c9e0436007768ca7738c300b7c7812541e7043c69addd81c48c3bdc3c9fd",
    ("augsburg", "augsburg-ouc.zip"): "4d853be609eca98a5fb23ccd711bcd0985b7db86a6e89f53f461e1643a7ab6ae",
    ("berlin", "berlin-ouc.zip"): "5fdd156b0283bddab3cf9916f34d3d6b3a2ceb68e7c38c3f8022292199aafcf8",
}


def srs_wkt(crs: int | str) -> str:
    """WKT of an EPSG code (int) or any user string GDAL understands."""
    srs = osr.SpatialReference()
    if isinstance(crs, int):
        srs.ImportFromEPSG(crs)
    else:
        srs.SetFromUserInput(crs)
    return srs.ExportToWkt()


def write_geotiff(path: str, array: np.ndarray, geotransform: Sequence[float] | None = None,
                  crs: int | str | None = None, nodata: float | None = None,
                  band_names: Sequence[str] | None = None,
                  band_metadata: Sequence[dict] | None = None,
                  classes: Sequence[dict] | None = None, dtype=None) -> str:
    """Write a (bands, H, W) or (H, W) array as a DEFLATE-compressed GeoTIFF.

    `classes` (dicts with value/name/color) adds a colour table and category names
    (single-band integer rasters). Without `geotransform` the raster has no georeferencing.
    `dtype` converts band by band (no full copy of a large array).
    """
    arr = array[None] if array.ndim == 2 else array
    dtype = np.dtype(dtype or arr.dtype)
    gtype = _GDAL_TYPES[dtype]
    pred = "3" if dtype.kind == "f" else "2"
    opts = ["COMPRESS=DEFLATE", f"PREDICTOR={pred}", "TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
    if arr.shape[0] > 1:
        opts.append("INTERLEAVE=BAND")
    ds = gdal.GetDriverByName("GTiff").Create(path, arr.shape[2], arr.shape[1], arr.shape[0], gtype, opts)
    if geotransform is not None:
        ds.SetGeoTransform(tuple(float(v) for v in geotransform))
    if crs is not None:
        ds.SetProjection(srs_wkt(crs))
    for i in range(arr.shape[0]):
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        if band_names is not None:
            band.SetDescription(str(band_names[i]))
        if band_metadata is not None:
            band.SetMetadata({k: str(v) for k, v in band_metadata[i].items()})
        band.WriteArray(np.ascontiguousarray(arr[i], dtype=dtype))
    if classes:
        _set_class_table(ds.GetRasterBand(1), classes)
    ds.FlushCache()
    ds = None
    return path


def _set_class_table(band, classes: Sequence[dict]) -> None:
    n = max(int(c["value"]) for c in classes) + 1
    ct = gdal.ColorTable()
    ct.SetColorEntry(0, (0, 0, 0, 0))
    names = ["unlabelled"] + [""] * (n - 1)
    for c in classes:
        col = c.get("color", "#808080").lstrip("#")
        ct.SetColorEntry(int(c["value"]), (int(col[0:2], 16), int(col[2:4], 16), int(col[4:6], 16), 255))
        names[int(c["value"])] = str(c["name"])
    band.SetRasterColorTable(ct)
    band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
    band.SetCategoryNames(names)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def write_config(path: str, *, name: str, spectral: str | dict, aux: Sequence[dict] = (),
                 labels: dict, classes: Sequence[dict], dataset: dict | None = None) -> str:
    """Write the training config TOML (schema in the module docstring). Paths relative to `path`.
    `labels` may hold a "split" dict, written as [labels.split]."""
    lines = ["# BDGF training config; paths are relative to this file.", "", "[dataset]",
             f"name = {_toml_value(name)}"]
    for k, v in (dataset or {}).items():
        if v is not None:
            lines.append(f"{k} = {_toml_value(v)}")
    lines += ["", "[data]", f"spectral = {_toml_value(spectral)}"]
    for a in aux:
        lines += ["", "[[data.aux]]"] + [f"{k} = {_toml_value(v)}" for k, v in a.items() if v is not None]
    lines += ["", "[labels]"] + [f"{k} = {_toml_value(v)}" for k, v in labels.items()
                                 if v is not None and k != "split"]
    if labels.get("split"):
        lines += ["", "[labels.split]"] + [f"{k} = {_toml_value(v)}" for k, v in labels["split"].items()]
    for c in classes:
        lines += ["", "[[classes]]", f"value = {int(c['value'])}", f"name = {_toml_value(c['name'])}",
                  f"color = {_toml_value(c['color'])}"]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- reading
def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_file(root: str | os.PathLike, name: str) -> Path | None:
    """First file called `name` (case-insensitive) under `root`, shallowest first."""
    root = Path(root)
    if (root / name).is_file():
        return root / name
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
    if a.dtype.kind == "f":
        a = np.where(np.isfinite(a), a, 0)
        if not np.array_equal(a, np.round(a)):
            raise DatasetError(f"{name}: label values are not integers")
    a = np.where(a < 0, 0, a).astype(np.int64)
    return a.astype(np.uint8 if a.max(initial=0) <= 255 else np.uint16)


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Pixels per class 1..n_classes."""
    return np.bincount(labels.ravel(), minlength=n_classes + 1)[1:n_classes + 1]


def locate(spec_src: Source | None, root: Path) -> tuple[Path, str | None] | None:
    if spec_src is None:
        return None
    for fname, key in spec_src.candidates:
        p = find_file(root, fname)
        if p is not None:
            return p, key
    return None


def _expected(src: Source, root: Path) -> str:
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
    raise DatasetError("labels not found. " + "; ".join(_expected(s, root) for s in need if s))


def load_labels(name: str, src: str | os.PathLike) -> dict[str, np.ndarray]:
    """The label images of a benchmark in `src`: {"train", "test"} (standard split) or {"raster"}."""
    return {part: to_labels(read_source(*at), at[0].name) for part, at in label_sources(name, src).items()}


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


def split_per_class(labels: np.ndarray, per_class: Sequence[int],
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): `per_class[k-1]` random pixels of class k for training, the rest for testing."""
    rng = np.random.default_rng(seed)
    train = np.zeros_like(labels)
    for k, n in enumerate(per_class, 1):
        idx = np.flatnonzero(labels == k)
        pick = rng.choice(idx, size=min(n, idx.size), replace=False)
        train.flat[pick] = k
    return train, np.where(train > 0, 0, labels).astype(labels.dtype)


# ----------------------------------------------------------------------------- import
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
            root = _extract_zip(find_file(src, spec.zip_name), name, tmp, verify_hash, log)
        return _import(spec, root, Path(dst), verify_hash, verify_counts, log)


def _import(spec: Spec, root: Path, dst: Path, verify_hash: bool, verify_counts: bool, log) -> dict:
    label_at = label_sources(spec.name, root)
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
                           + "; ".join(_expected(s, root) for s in missing))
    for a, at in aux_at:
        if at is None:
            log(f"warning: {_expected(a[2], root)}; importing without it")
    if verify_hash:
        for p in {at[0] for at in [hsi_at] + [at for _, at in aux_at if at]}:
            _verify_hash(spec.name, p, log)
    shape = next(iter(labels.values())).shape
    dst.mkdir(parents=True, exist_ok=True)
    px = spec.pixel_size_m
    gt = (0.0, px, 0.0, 0.0, 0.0, -px)
    n_classes = len(spec.classes) or int(max(a.max() for a in labels.values()))
    classes = list(spec.classes) or _classes([f"Class {k}" for k in range(1, n_classes + 1)])
    paths: dict = {}

    hsi = _image(*hsi_at, shape, "HSI")
    wl = np.linspace(*spec.wavelength_range_nm, hsi.shape[0])
    meta = [{"wavelength": f"{v:.2f}", "wavelength_units": "nm"} for v in wl]
    paths["hsi"] = write_geotiff(str(dst / "hsi.tif"), hsi, gt, None, _nan_nodata(hsi),
                                 [f"{v:.1f} nm" for v in wl], meta, dtype=np.float32)
    log(f"wrote hsi.tif ({hsi.shape[0]} bands, {shape[0]} x {shape[1]} px)")
    del hsi
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

    if "raster" in labels and isinstance(spec.split_per_class, tuple):  # materialise a standard split
        labels["train"], labels["test"] = split_per_class(labels["raster"], spec.split_per_class, seed=0)
    for part, arr in labels.items():
        key = "labels" if part == "raster" else part
        paths[key] = write_geotiff(str(dst / f"{key}.tif"), arr, gt, None, 0, [key], classes=classes)
    if "train" in labels:
        lab_cfg = {"train": "train.tif", "test": "test.tif"}
    else:
        lab_cfg = {"raster": "labels.tif", "split": {"per_class": spec.split_per_class, "seed": 0}}
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


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.datasets", description="Import public benchmarks.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the datasets and the files each needs")
    imp = sub.add_parser("import", help="convert a downloaded benchmark to GeoTIFFs + config.toml")
    imp.add_argument("name", choices=sorted(DATASETS))
    imp.add_argument("--src", required=True, help="folder (or .zip) holding the downloaded files")
    imp.add_argument("--dst", required=True, help="output folder")
    imp.add_argument("--no-verify-hash", action="store_true", help="skip the sha256 checks")
    imp.add_argument("--no-verify-counts", action="store_true", help="skip the class-count checks")
    a = ap.parse_args(argv)
    if a.cmd == "list":
        for s in DATASETS.values():
            srcs = [s.hsi] + [x[2] for x in s.aux] + [x for x in (s.train, s.test, s.raster) if x]
            print(f"{s.name}: {s.title}")
            for x in srcs:
                print(f"    {x.what}: " + " or ".join(f + (f"['{k}']" if k else "") for f, k in x.candidates))
        return 0
    try:
        paths = import_dataset(a.name, a.src, a.dst, verify_hash=not a.no_verify_hash,
                               verify_counts=not a.no_verify_counts)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"config: {paths['config']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
