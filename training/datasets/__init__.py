"""Importers for public multimodal benchmarks (the user downloads them) -> GeoTIFF stacks + config.toml.

    python -m training.datasets import augsburg --src DIR_OR_ZIP --dst DIR [--no-verify-hash]

NAME: augsburg, berlin, houston2013, trento, muufl, yellow_river (`python -m training.datasets list`
shows the files each needs). Files are searched by name anywhere under --src (a .zip is extracted to a
temporary folder first). Known sha256 digests are checked (mismatch -> error unless --no-verify-hash)
and so are the known class counts (mismatch -> error for counts checked on the real files, a warning
for counts only quoted from the literature; --no-verify-counts skips them).
The benchmarks carry no georeferencing: rasters get a nominal pixel size, origin (0, 0), no CRS.

Outputs in --dst: hsi.tif (Float32, band metadata `wavelength` nm: nominal, evenly spaced over the
sensor range), sar.tif / dsm.tif / lidar.tif as applicable, train.tif + test.tif (standard split)
or labels.tif (+ a split rule), UInt8 with 0 = unlabelled, colour table; config.toml (schema in
training/config_writer.py and training/config.py).

Trento: when only allgrd.mat is there, the common 819-pixel split (129/125/105/154/184/122 per class)
is drawn at random (seed 0) into train.tif / test.tif; labels.tif keeps the full ground truth.

Modules: catalogue.py (the data sets: classes, files, counts, digests), readers.py (.mat / raster /
label reading), importer.py (checks and writing), __main__.py (the command line).
"""
from training.datasets.catalogue import (
    AUGSBURG_NAMES,
    BERLIN_NAMES,
    DATASETS,
    HOUSTON_NAMES,
    MUUFL_NAMES,
    SHA256,
    TRENTO_NAMES,
    Source,
    Spec,
    class_table,
)
from training.datasets.importer import check_counts, import_dataset, sha256_file
from training.datasets.readers import (
    DatasetError,
    class_counts,
    find_file,
    label_sources,
    load_labels,
    read_mat,
    read_raster,
    read_source,
    to_labels,
)

__all__ = [
    "AUGSBURG_NAMES", "BERLIN_NAMES", "DATASETS", "HOUSTON_NAMES", "MUUFL_NAMES", "SHA256", "TRENTO_NAMES",
    "DatasetError", "Source", "Spec", "check_counts", "class_counts", "class_table", "find_file",
    "import_dataset", "label_sources", "load_labels", "read_mat", "read_raster", "read_source",
    "sha256_file", "to_labels",
]
