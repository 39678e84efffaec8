"""Which project layer each dock picker proposes: the one rule, on (name, band count) pairs only.

No QGIS or Qt here, so the rule is tested without widgets (tests/ui/test_layer_matching.py). The dock
feeds it the project's raster layers in layer-tree order and the card's band count per role.

A layer fits a role, best first, when:
  1. its band count equals the card's and its name names the modality (hsi, sar, dsm, ...),
  2. its band count equals the card's,
  3. its name names the modality,
  4. its band count is plausible for the modality (SAR 1-4 bands, LiDAR/DSM 1; the spectral picker,
     which is required, takes any layer).
Within a tier the band count orders the candidates (spectral: most bands first; SAR: most bands first;
LiDAR: fewest first), then the layer order. A layer fills at most one picker; the roles are served
tier by tier (spectral, then LiDAR, then SAR within a tier), so a 64-band "hsi" layer never ends in
the SAR picker because of its name. With a card, roles the card does not have get no layer. When
every layer is taken, the spectral picker shares the one with the most bands.
"""
from __future__ import annotations

import re

ROLES = ("spectral", "sar", "lidar")  # the dock's three fixed pickers, in the order of SLOT_ROLES
SERVE_ORDER = ("spectral", "lidar", "sar")  # within a tier: most specific band rules first

NAME_HINTS = {
    "spectral": ("hsi", "hyperspectral", "hyper", "spectral", "msi", "multispectral", "aviris", "enmap",
                 "prisma", "casi", "hyspex"),
    "sar": ("sar", "vv", "vh", "hh", "hv", "s1", "sentinel1", "radar", "polsar"),
    "lidar": ("dsm", "ndsm", "lidar", "chm", "dem", "dtm", "height", "elevation", "nhm"),
}
_SUBSTRING_MIN = 5  # hints this long also match inside a word ("hyperspectral" in "aug_hyperspectral2")


def name_fits(role: str, name: str) -> bool:
    """Whether a layer name names the role's modality (word match; long hints also inside words)."""
    lowered = name.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered))
    return any(hint in words or (len(hint) >= _SUBSTRING_MIN and hint in lowered)
               for hint in NAME_HINTS[role])


def bands_plausible(role: str, bands: int) -> bool:
    """Band counts a layer of this modality usually has (used when nothing better is known)."""
    if role == "spectral":
        return True  # the required picker: any layer, most bands first
    if role == "sar":
        return 1 <= bands <= 4
    return bands == 1


def bands_fit(expected: int | None, found: int) -> bool:
    """The card's rule for a layer's band count (engine.classify.inputs.check_inputs): equal, when known."""
    return expected is None or int(expected) == int(found)


def expected_bands(card: dict | None) -> dict[str, int] | None:
    """{role: band count} of the first card modality with each picker role (as ui/model_inputs.py pairs them);
    None without a card."""
    if card is None:
        return None
    expected = {}
    for modality in card["modalities"]:
        role = modality.get("role")
        if role in ROLES and role not in expected:
            expected[role] = int(modality["bands"])
    return expected


def _band_order(role: str, bands: int) -> int:
    return bands if role == "lidar" else -bands


def _tiers(expected: dict | None):
    if expected is not None:
        yield lambda role, name, bands: bands_fit(expected[role], bands) and name_fits(role, name)
        yield lambda role, name, bands: bands_fit(expected[role], bands)
    yield lambda role, name, bands: name_fits(role, name)
    yield lambda role, name, bands: bands_plausible(role, bands)


def propose_layers(layers: list[tuple[str, int]], expected: dict[str, int] | None = None) -> dict:
    """{role: index into `layers` or None} for the roles "spectral", "sar", "lidar".

    layers: (name, band count) per raster layer, in layer-tree order. expected: the card's band count
    per role (`expected_bands(card)`), or None before a model is chosen (names and band counts only).
    """
    roles = [r for r in SERVE_ORDER if expected is None or r in expected]
    chosen: dict[str, int | None] = dict.fromkeys(ROLES)
    used: set[int] = set()
    for tier in _tiers(expected):
        for role in roles:
            if chosen[role] is not None:
                continue
            candidates = [i for i, (name, bands) in enumerate(layers)
                          if i not in used and tier(role, name, bands)]
            if candidates:
                best = min(candidates, key=lambda i: (_band_order(role, layers[i][1]), i))
                chosen[role] = best
                used.add(best)
    if chosen["spectral"] is None and "spectral" in roles and layers:
        free = [i for i in range(len(layers)) if i not in used] or list(range(len(layers)))
        chosen["spectral"] = min(free, key=lambda i: (-layers[i][1], i))
    return chosen
