"""Command line of the synthetic scenes: draw one (or the semi-real Trento one) and write it to a folder.

    python -m training.synthetic --out data/synthetic --size 128x160 --seed 0 --grids mixed

Prints the scene size, band and class counts, train / test pixel counts and the config.toml path;
the files written are those of `training.synthetic.scene.write_scene`.
"""
from __future__ import annotations

import argparse
import json

from training.synthetic.scene import make_scene, make_semi_real_trento, write_scene

DESCRIPTION = "Seeded procedural multimodal scenes: hyperspectral + quad-pol SAR + LiDAR nDSM + labels."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.synthetic", description=DESCRIPTION)
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
