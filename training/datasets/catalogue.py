"""The benchmark catalogue: which public multimodal data sets can be imported, and what their files hold.

    from training.datasets.catalogue import DATASETS; DATASETS["augsburg"].classes[0]["name"]  # "Forest"

Pure data, no I/O: per data set a `Spec` (class names and colours, where each input is found as
(file name, .mat key) candidates, expected class counts, nominal wavelength range and pixel size,
citation) plus the sha256 digests of the files as released. Colours of the published class tables
are kept as data here; classes without a table get `engine.palette.default_colour`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.palette import default_colour


def class_table(names: Sequence[str], colors: Sequence[str] | None = None) -> list[dict]:
    """[{value, name, color}] for classes 1..len(names); colours cycle through `colors` or the default."""
    pick = (lambda i: colors[i % len(colors)]) if colors else default_colour
    return [{"value": i + 1, "name": n, "color": pick(i)} for i, n in enumerate(names)]


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
    train_per_class: int | tuple[int, ...] = 100  # training pixels per class where no standard split
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
    Spec("augsburg", "Augsburg (S2FL)", tuple(class_table(AUGSBURG_NAMES, AUGSBURG_COLORS)),
         _src("HSI", ("data_HS_LR.mat", "data_HS_LR")),
         (("sar", "sar", _src("SAR", ("data_SAR_HR.mat", "data_SAR_HR")), SAR4),
          ("dsm", "lidar", _src("DSM", ("data_DSM.mat", "data_DSM")), ("DSM",))),
         train=_src("train labels", ("TrainImage.mat", "TrainImage")),
         test=_src("test labels", ("TestImage.mat", "TestImage")),
         counts={"train": (146, 264, 21, 248, 52, 7, 23),
                 "test": (13361, 30065, 3830, 26609, 523, 1638, 1507)},
         pixel_size_m=30.0, zip_name="augsburg-ouc.zip", citation=S2FL),
    Spec("berlin", "Berlin (S2FL)", tuple(class_table(BERLIN_NAMES, BERLIN_COLORS)),
         _src("HSI", ("data_HS_LR.mat", "data_HS_LR")),
         (("sar", "sar", _src("SAR", ("data_SAR_HR.mat", "data_SAR_HR")), SAR4),),
         train=_src("train labels", ("TrainImage.mat", "TrainImage")),
         test=_src("test labels", ("TestImage.mat", "TestImage")),
         counts={"train": 2820, "test": 461851}, checked=(),
         pixel_size_m=30.0, zip_name="berlin-ouc.zip", citation=S2FL),
    Spec("houston2013", "Houston 2013 (IEEE GRSS DFC)", tuple(class_table(HOUSTON_NAMES, HOUSTON_COLORS)),
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
    Spec("trento", "Trento", tuple(class_table(TRENTO_NAMES, TRENTO_COLORS)),
         _src("HSI", ("Italy_hsi.mat", "data"), ("HSI.mat", None)),
         (("lidar", "lidar", _src("LiDAR", ("Italy_lidar.mat", "data"), ("LiDAR.mat", None)),
           ("elevation", "intensity")),),
         train=_src("train labels", ("TRLabel.mat", None)), test=_src("test labels", ("TSLabel.mat", None)),
         raster=_src("ground truth", ("allgrd.mat", "mask_test")),
         train_per_class=(129, 125, 105, 154, 184, 122),  # the common 819-pixel split
         counts={"raster": (4034, 2903, 479, 9123, 10501, 3174),
                 "train": (129, 125, 105, 154, 184, 122), "test": (3905, 2778, 374, 8969, 10317, 3052)},
         checked=("raster",),
         wavelength_range_nm=(402.89, 989.09), pixel_size_m=1.0, citation="University of Trento"),
    Spec("muufl", "MUUFL Gulfport", tuple(class_table(MUUFL_NAMES, MUUFL_COLORS)),
         _src("HSI", ("muufl_gulfport_campus_1_hsi_220_label.mat", "hsi.Data")),
         (("lidar", "lidar", _src("LiDAR", ("muufl_gulfport_campus_1_hsi_220_label.mat", "hsi.Lidar.z")),
           ("first return", "last return")),),
         raster=_src("labels", ("muufl_gulfport_campus_1_hsi_220_label.mat", "hsi.sceneLabels.labels")),
         train_per_class=100, wavelength_range_nm=(375.0, 1050.0), pixel_size_m=1.0,
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
