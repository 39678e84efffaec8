"""QGIS layer styles (`.qml` sidecars) for the rasters the engine writes: a paletted renderer for class
rasters, a fixed 0..1 pseudocolour ramp for the trust outputs. QGIS loads `<raster stem>.qml` as a
layer's default style, so a map opens in its classes' colours in QGIS without the plugin.

    write_text(qml_path_for("map.tif"), paletted_qml(card["classes"]))

The documents are built as text (an element is a tag, its attributes and its children), with every
attribute value escaped: the engine only writes XML, so it imports no XML parser.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape


def qml_path_for(raster_path: str | os.PathLike) -> str:
    """QGIS loads `<raster without extension>.qml` as the layer's default style."""
    return os.path.splitext(os.fspath(raster_path))[0] + ".qml"


class _Element:
    """One XML element: tag, attributes (in order), text or children."""

    def __init__(self, tag: str, attributes: Mapping[str, str] | None = None, text: str | None = None):
        self.tag, self.attributes, self.text = tag, dict(attributes or {}), text
        self.children: list[_Element] = []

    def add(self, tag: str, attributes: Mapping[str, str] | None = None, text: str | None = None) -> _Element:
        child = _Element(tag, attributes, text)
        self.children.append(child)
        return child

    def lines(self, depth: int = 0) -> list[str]:
        pad = "  " * depth
        attrs = "".join(f' {k}="{escape(str(v), quote=True)}"' for k, v in self.attributes.items())
        if self.text is not None:
            return [f"{pad}<{self.tag}{attrs}>{escape(self.text, quote=False)}</{self.tag}>"]
        if not self.children:
            return [f"{pad}<{self.tag}{attrs} />"]
        inner = [line for child in self.children for line in child.lines(depth + 1)]
        return [f"{pad}<{self.tag}{attrs}>", *inner, f"{pad}</{self.tag}>"]


def _qml_root() -> tuple[_Element, _Element]:
    """(qgis root, pipe) of a QGIS 3.22+ raster style document."""
    root = _Element("qgis", {"version": "3.22.0", "styleCategories": "AllStyleCategories",
                             "hasScaleBasedVisibilityFlag": "0", "minScale": "1e+08", "maxScale": "0"})
    return root, root.add("pipe")


def _qml_renderer(pipe: _Element, attributes: Mapping[str, str]) -> _Element:
    """The raster renderer with its transparency and (unused: fixed limits) min / max origin."""
    renderer = pipe.add("rasterrenderer", {"opacity": "1", "alphaBand": "-1", "nodataColor": "",
                                           **attributes})
    renderer.add("rasterTransparency")
    origin = renderer.add("minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
                      ("cumulativeCutLower", "0.02"), ("cumulativeCutUpper", "0.98"), ("stdDevFactor", "2")):
        origin.add(tag, text=text)
    return renderer


def _qml_text(root: _Element, pipe: _Element) -> str:
    """Close the pipe (neutral colour adjustments, resampling) and serialise the document."""
    pipe.add("brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    pipe.add("huesaturation", {
        "saturation": "0", "grayscaleMode": "0", "colorizeOn": "0", "colorizeRed": "255",
        "colorizeGreen": "128", "colorizeBlue": "128", "colorizeStrength": "100", "invertColors": "0"})
    pipe.add("rasterresampler", {"maxOversampling": "2"})
    pipe.add("resamplingStage", text="resamplingFilter")
    root.add("blendMode", text="0")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + "\n".join(root.lines()) + "\n"


def paletted_qml(classes: Sequence[Mapping], band: int = 1) -> str:
    """A QGIS (3.22+) raster style with a paletted renderer: value, colour and label per class."""
    root, pipe = _qml_root()
    pipe.add("provider").add("resampling", {
        "enabled": "false", "maxOversampling": "2",
        "zoomedInResamplingMethod": "nearestNeighbour", "zoomedOutResamplingMethod": "nearestNeighbour"})
    palette = _qml_renderer(pipe, {"type": "paletted", "band": str(band)}).add("colorPalette")
    for c in sorted(classes, key=lambda c: int(c["value"])):
        palette.add("paletteEntry", {"value": str(int(c["value"])), "color": str(c["color"]).lower(),
                                     "alpha": "255", "label": str(c["name"])})
    return _qml_text(root, pipe)


def pseudocolor_qml(ramp, band: int = 1, low: float = 0.0, high: float = 1.0) -> str:
    """A QGIS (3.22+) raster style: single-band pseudocolour of `band`, interpolated between the (value,
    colour) stops of `ramp`, fixed to low..high (not stretched to the data: 0.5 means the same everywhere)."""
    root, pipe = _qml_root()
    renderer = _qml_renderer(pipe, {"type": "singlebandpseudocolor", "band": str(band),
                                    "classificationMin": f"{low:g}", "classificationMax": f"{high:g}"})
    shader = renderer.add("rastershader").add("colorrampshader", {
        "colorRampType": "INTERPOLATED", "classificationMode": "1", "clip": "0",
        "minimumValue": f"{low:g}", "maximumValue": f"{high:g}", "labelPrecision": "2"})
    for value, colour in ramp:
        at = low + value * (high - low)
        shader.add("item", {"alpha": "255", "value": f"{at:g}", "label": f"{at:.2f}", "color": colour})
    return _qml_text(root, pipe)
