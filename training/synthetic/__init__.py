"""Seeded procedural multimodal scenes: hyperspectral + quad-pol SAR + LiDAR nDSM + labels.

    from training.synthetic import make_scene, write_scene; write_scene(make_scene(128, 160, seed=0), "out")

A testbed with known truth: `make_scene` draws a city / field / park layout and renders what each
sensor sees of it; `write_scene` writes it as GeoTIFFs + scene.json + config.toml (also from the
command line: `python -m training.synthetic --out DIR`). Modules: layout.py (where things are: classes,
roads, water, blocks, buildings, trees), render.py (what each sensor sees: spectra, shadows, SAR
backscatter and speckle, nDSM, majority labels and purity), scene.py (`Scene`, `make_scene`,
`make_semi_real_trento`, `write_scene`), __main__.py (the command line). Training labels are drawn by
`training.splits.split_by_purity`.

What it tests honestly: I/O and grid alignment, nodata handling, that a model uses the auxiliary
modalities where only they separate classes (`AUX_ONLY_PAIRS`) and the spectra where only they do
(`SPECTRAL_ONLY_PAIRS`), mixed pixels, shadows, speckle, class imbalance, sparse training labels.
What it does not: real sensor physics (no radiative transfer, no SAR layover / geometry beyond
a simple shadow, no atmospheric correction errors beyond noise), real spatial statistics of
cities or crops, seasonal effects, co-registration errors between sensors (the layers are
exactly co-registered before resampling). Accuracies on it say nothing about real benchmarks.
"""
from training.synthetic.layout import AUX_ONLY_PAIRS, CLASSES, SPECTRAL_ONLY_PAIRS
from training.synthetic.render import material_spectrum, wavelengths
from training.synthetic.scene import (
    FINE,
    NODATA,
    SAR_BANDS,
    Scene,
    default_data_dir,
    make_scene,
    make_semi_real_trento,
    write_scene,
)

__all__ = [
    "AUX_ONLY_PAIRS", "CLASSES", "FINE", "NODATA", "SAR_BANDS", "SPECTRAL_ONLY_PAIRS", "Scene",
    "default_data_dir", "make_scene", "make_semi_real_trento", "material_spectrum", "wavelengths",
    "write_scene",
]
