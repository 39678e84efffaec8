"""Command line of the benchmark importers: list the known data sets, import one into GeoTIFFs + config.

    python -m training.datasets import augsburg --src ~/Downloads/augsburg --dst data/augsburg

`list` prints every data set and the files (and .mat keys) it needs; `import` runs
`training.datasets.importer.import_dataset` and exits 2 with the reason on a `DatasetError`.
"""
from __future__ import annotations

import argparse
import sys

from training.datasets.catalogue import DATASETS
from training.datasets.importer import import_dataset
from training.datasets.readers import DatasetError


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
