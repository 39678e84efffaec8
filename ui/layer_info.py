"""One-line descriptions of raster layers (band count, CRS, size) for logs and the dock."""
from .i18n import tr


def layer_brief(layer):
    """'12 bands · EPSG:32633 · 64×48 px' — shown under the dock's layer pickers."""
    if layer is None:
        return tr("no layer")
    crs = layer.crs().authid() or layer.crs().description() or tr("no CRS")
    return tr("{bands} band(s) · {crs} · {w}×{h} px").format(
        bands=layer.bandCount(), crs=crs, w=layer.width(), h=layer.height())


def layer_summary(layer):
    """Name, source, bands, CRS, size and pixel size — one reproducible log line."""
    return tr("'{name}' {source}, {brief}, pixel {px:g}×{py:g}").format(
        name=layer.name(), source=layer.source(), brief=layer_brief(layer),
        px=layer.rasterUnitsPerPixelX(), py=layer.rasterUnitsPerPixelY())
