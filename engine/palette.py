"""Default class colours: the one palette for classes that come without a colour of their own.

    from engine.palette import default_colour; default_colour(3)  # -> "#fdae61"

Training configs without `color`, importers of benchmarks without a colour table and anything else that
needs "the colour of class i" draw from here. No imports (not even numpy), so every layer can use it.
Never reorder or edit the entries: trained models and configs written earlier keep their colours only
because class i always maps to the same entry.
"""

DEFAULT_PALETTE: tuple[str, ...] = (
    "#1b7837", "#d73027", "#4575b4", "#fdae61", "#984ea3", "#a6d96a", "#f781bf", "#8c510a",
    "#66c2a5", "#ffd92f", "#e41a1c", "#377eb8", "#4daf4a", "#ff7f00", "#999999", "#a65628",
)


def default_colour(index: int) -> str:
    """Colour of the class at 0-based `index`; beyond the palette's length it starts over."""
    return DEFAULT_PALETTE[index % len(DEFAULT_PALETTE)]


UNSTYLED = "#808080"  # a class whose raster has no colour for it (accuracy reports, sampling designs)
