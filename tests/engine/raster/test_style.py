"""engine.raster.style: the QGIS .qml sidecars: a paletted style for class rasters (written beside the map),
a fixed 0..1 pseudocolour ramp for the trust outputs."""
from __future__ import annotations

from xml.etree import ElementTree as ET

import numpy as np

from engine.raster.style import paletted_qml, pseudocolor_qml, qml_path_for
from engine.raster.write import write_class_raster
from tests.engine.raster import test_write
from tests.engine.raster.test_write import CLASSES

grid = test_write.grid  # fixture


def test_qml(tmp_path, grid):
    values = np.zeros((grid.height, grid.width), np.uint8)
    path = write_class_raster(tmp_path / "map.tif", grid, CLASSES, values)
    qml = qml_path_for(path)
    assert qml == str(tmp_path / "map.qml")
    text = open(qml, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE qgis")
    root = ET.fromstring(text.split("\n", 1)[1])
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = [(e.get("value"), e.get("color"), e.get("label"))
               for e in renderer.findall("colorPalette/paletteEntry")]
    assert entries == [("1", "#1b7837", "Forest"), ("3", "#2166ac", "Water & <lakes>"),
                       ("7", "#b2182b", "Urban")]
    assert "Water &amp; &lt;lakes&gt;" in paletted_qml(CLASSES)


def _root(text: str) -> ET.Element:
    assert text.startswith("<!DOCTYPE qgis PUBLIC")
    return ET.fromstring(text.split("\n", 1)[1])


def test_paletted_entries_are_sorted_by_value_and_every_name_is_escaped():
    classes = [{"value": 12, "name": 'Roof "flat" & <tiles>', "color": "#D73027"},
               {"value": 2, "name": "Grass", "color": "#A6D96A"}]
    text = paletted_qml(classes, band=2)
    assert 'label="Roof &quot;flat&quot; &amp; &lt;tiles&gt;"' in text
    renderer = _root(text).find("pipe/rasterrenderer")
    assert renderer.get("band") == "2"
    assert [(e.get("value"), e.get("color"), e.get("label"))
            for e in renderer.findall("colorPalette/paletteEntry")] == [
        ("2", "#a6d96a", "Grass"), ("12", "#d73027", 'Roof "flat" & <tiles>')]
    assert qml_path_for("out/map.v2.tif") == "out/map.v2.qml"


def test_pseudocolor_stops_are_placed_on_low_to_high():
    ramp = ((0.0, "#2c7bb6"), (0.5, "#ffffbf"), (1.0, "#d7191c"))
    renderer = _root(pseudocolor_qml(ramp, low=-1.0, high=3.0)).find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    assert (renderer.get("classificationMin"), renderer.get("classificationMax")) == ("-1", "3")
    shader = renderer.find("rastershader/colorrampshader")
    assert (shader.get("minimumValue"), shader.get("maximumValue")) == ("-1", "3")
    assert [(i.get("value"), i.get("color"), i.get("label")) for i in shader.findall("item")] == [
        ("-1", "#2c7bb6", "-1.00"), ("1", "#ffffbf", "1.00"), ("3", "#d7191c", "3.00")]
    default = _root(pseudocolor_qml(ramp)).find("pipe/rasterrenderer/rastershader/colorrampshader")
    assert [i.get("value") for i in default.findall("item")] == ["0", "0.5", "1"]
