"""Writes resources/models/classify_and_assess.model3: a QGIS Processing model chaining bdgf:classify ->
bdgf:accuracy (open it in the Model Designer, or run it with processing.run / qgis_process).

    .venv/bin/python -m scripts.make_processing_model [--out PATH]

Built with QGIS's own QgsProcessingModelAlgorithm API inside a headless QGIS with this plugin loaded, so
the file is what the Model Designer itself writes. tests/ui/test_processing_model.py runs it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

from scripts.qgis_runner import PLUGIN_NAME, REPO, plugins_dir

OUT = REPO / "resources" / "models" / "classify_and_assess.model3"
NAME, GROUP = "Classify and assess (BDGF)", "BDGF land cover"
# model inputs: (name, kind, description, optional)
INPUTS = (
    ("spectral", "raster", "Spectral (hyperspectral) layer", False),
    ("sar", "raster", "SAR layer", True),
    ("lidar", "raster", "LiDAR / DSM layer", True),
    ("model", "model", "Model package (.bdgf)", False),
    ("reference", "reference", "Reference labels (raster, or polygons / points)", False),
    ("class_field", "field", "Class field (vector reference only)", True),
)
HELP = ("Classifies the spectral, SAR and LiDAR/DSM layers with a BDGF model package (bdgf:classify) and "
        "assesses the land-cover map against reference labels (bdgf:accuracy): an HTML report with the "
        "confusion matrix, OA, AA and Kappa. Works with the bundled demo: resources/demo/{hsi,sar,dsm}.tif, "
        "resources/models/demo.bdgf, reference resources/demo/test.tif.")


def build_model():
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterField,
        QgsProcessingParameterFile,
        QgsProcessingParameterMapLayer,
        QgsProcessingParameterRasterLayer,
    )
    from qgis.PyQt.QtCore import QPointF

    model = QgsProcessingModelAlgorithm(NAME, GROUP)
    model.setHelpContent({"ALG_DESC": HELP, "ALG_CREATOR": "BDGF for QGIS", "ALG_VERSION": "1"})
    for row, (name, kind, description, optional) in enumerate(INPUTS):
        if kind == "raster":
            definition = QgsProcessingParameterRasterLayer(name, description, optional=optional)
        elif kind == "model":
            definition = QgsProcessingParameterFile(name, description, extension="bdgf", optional=optional)
        elif kind == "reference":
            definition = QgsProcessingParameterMapLayer(
                name, description, types=[QgsProcessing.SourceType.TypeRaster,
                                          QgsProcessing.SourceType.TypeVectorAnyGeometry])
        else:
            definition = QgsProcessingParameterField(
                name, description, parentLayerParameterName="reference",
                type=QgsProcessingParameterField.DataType.Numeric, optional=optional)
        component = QgsProcessingModelParameter(name)
        component.setPosition(QPointF(120, 60 + 70 * row))
        model.addModelParameter(definition, component)

    def source(name):
        return [QgsProcessingModelChildParameterSource.fromModelParameter(name)]

    def static(value):
        return [QgsProcessingModelChildParameterSource.fromStaticValue(value)]

    classify = QgsProcessingModelChildAlgorithm("bdgf:classify")
    classify.setChildId("classify")
    classify.setDescription("Classify land cover (BDGF)")
    classify.setPosition(QPointF(420, 160))
    for key, name in (("SPECTRAL", "spectral"), ("SAR", "sar"), ("LIDAR", "lidar"), ("MODEL", "model")):
        classify.addParameterSources(key, source(name))
    for key in ("DEVICE", "BACKEND", "TILE_SIZE", "BATCH_SIZE"):
        classify.addParameterSources(key, static(0))
    landcover = QgsProcessingModelOutput("landcover", "Land cover")
    landcover.setChildId("classify")
    landcover.setChildOutputName("OUTPUT")
    landcover.setPosition(QPointF(640, 120))
    classify.setModelOutputs({"landcover": landcover})
    model.addChildAlgorithm(classify)

    accuracy = QgsProcessingModelChildAlgorithm("bdgf:accuracy")
    accuracy.setChildId("accuracy")
    accuracy.setDescription("Accuracy assessment")
    accuracy.setPosition(QPointF(420, 340))
    accuracy.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromChildOutput(
        "classify", "OUTPUT")])
    for key, name in (("REFERENCE", "reference"), ("CLASS_FIELD", "class_field"), ("MODEL", "model")):
        accuracy.addParameterSources(key, source(name))
    report = QgsProcessingModelOutput("report", "Accuracy report")
    report.setChildId("accuracy")
    report.setChildOutputName("OUTPUT_HTML")
    report.setPosition(QPointF(640, 400))
    accuracy.setModelOutputs({"report": report})
    model.addChildAlgorithm(accuracy)
    model.updateDestinationParameters()
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_HASH_SEED"] = "0"  # Qt writes XML attributes in hash order: the same file every time
    base = Path(tempfile.mkdtemp(prefix="bdgf_model3_"))
    os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", str(base))
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, str(plugins_dir(base)))
    provider = importlib.import_module(f"{PLUGIN_NAME}.ui.provider").BDGFProvider()  # as QGIS loads it
    QgsApplication.processingRegistry().addProvider(provider)
    model = build_model()
    ok = model.toFile(str(args.out))
    QgsApplication.processingRegistry().removeProvider(provider)
    app.exitQgis()
    if not ok:
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
