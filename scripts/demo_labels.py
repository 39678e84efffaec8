"""The demo's label polygons: resources/demo/train.tif turned into polygons (GDAL) with a text class field
`class` (the class names of resources/demo/config.toml) and a categorized style in the classes' colours
(labels.qml, QGIS's default style for labels.gpkg). *Load demo* adds them, so *Train* works on the demo.

    python -m scripts.demo_labels [resources/demo]      (make demo-assets runs it)
"""
from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_demo_labels(demo: Path) -> Path:
    from osgeo import gdal, ogr

    from engine.raster.points import write_shapes

    config = tomllib.loads((demo / "config.toml").read_text(encoding="utf-8"))
    names = {c["value"]: c["name"] for c in config["classes"]}
    raster = gdal.Open(str(demo / "train.tif"))
    memory = ogr.GetDriverByName("Memory").CreateDataSource("polygons")
    layer = memory.CreateLayer("polygons", raster.GetSpatialRef())
    layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    band = raster.GetRasterBand(1)
    gdal.Polygonize(band, band, layer, 0)  # the band as its own mask: 0 (unlabelled) makes no polygon
    shapes = [(bytes(f.GetGeometryRef().ExportToWkb()), {"class": names[f.GetField("value")]})
              for f in layer if f.GetField("value") in names]
    out = demo / "labels.gpkg"
    write_shapes(out, "labels", [("class", "str")], shapes, raster.GetProjection(), what="demo labels")
    _write_style(out, config["classes"])
    return out


def _write_style(path: Path, classes: list[dict]) -> None:
    """labels.qml: a categorized renderer on `class`, one category per class in the config's colours."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import (
        QgsApplication,
        QgsCategorizedSymbolRenderer,
        QgsFillSymbol,
        QgsRendererCategory,
        QgsVectorLayer,
    )

    app = QgsApplication.instance() or QgsApplication([], False)
    if QgsApplication.instance() is app and not app.platform():
        app.initQgis()
    layer = QgsVectorLayer(str(path), "labels", "ogr")
    categories = []
    for c in classes:
        symbol = QgsFillSymbol.createSimple({"color": c["color"], "outline_color": "#000000",
                                             "outline_width": "0.2"})
        categories.append(QgsRendererCategory(c["name"], symbol, c["name"]))
    layer.setRenderer(QgsCategorizedSymbolRenderer("class", categories))
    message, ok = layer.saveNamedStyle(str(path.with_suffix(".qml")))
    if not ok:
        raise RuntimeError(f"cannot write {path.with_suffix('.qml')}: {message}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    print(write_demo_labels(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "resources" / "demo"))
