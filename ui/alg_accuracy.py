"""bdgf:accuracy — confusion matrix, OA / AA / Kappa, per-class PA / UA / F1 against reference labels."""
from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterLayer,
    QgsVectorLayer,
)

from .alg_modelinfo import model_parameter
from .common import BDGFAlgorithm
from .model_card import load_card
from .reference_grid import class_and_reference
from .runtime_check import missing_message, missing_packages


class AccuracyAlgorithm(BDGFAlgorithm):
    ID = "accuracy"
    GROUP_ID = "assessment"
    INPUT, REFERENCE, CLASS_FIELD, MODEL = "INPUT", "REFERENCE", "CLASS_FIELD", "MODEL"
    OUTPUT_HTML, OUTPUT_CSV, OUTPUT_JSON = "OUTPUT_HTML", "OUTPUT_CSV", "OUTPUT_JSON"
    OA, AA, KAPPA = "OA", "AA", "KAPPA"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Accuracy assessment")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Compares a classification raster with reference labels: a raster (value 0 = unlabelled) or a "
            "vector layer with an integer class field, rasterised onto the classification's pixel grid. "
            "Writes an HTML report with the confusion matrix, overall accuracy (OA), average accuracy (AA), "
            "Cohen's Kappa and per-class producer's / user's accuracy and F1, plus CSV and JSON tables. "
            "Class names come from the model package when given, else from the class values. "
            "OA, AA and KAPPA are also returned as numbers (for models and scripts)."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Classification raster")))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.REFERENCE, self.tr("Reference labels (raster, or polygons / points)"),
            types=[QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterField(
            self.CLASS_FIELD, self.tr("Class field (vector reference only)"),
            parentLayerParameterName=self.REFERENCE, type=QgsProcessingParameterField.DataType.Numeric,
            optional=True))
        self.addParameter(model_parameter(
            self.MODEL, self.tr("Model package (for class names)"), optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_HTML, self.tr("Accuracy report (HTML)"), self.tr("HTML files (*.html)")))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_CSV, self.tr("Confusion matrix and per-class table (CSV)"),
            self.tr("CSV files (*.csv)"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_JSON, self.tr("Metrics (JSON)"), self.tr("JSON files (*.json)"),
            optional=True, createByDefault=False))
        numbers = ((self.OA, "Overall accuracy"), (self.AA, "Average accuracy"), (self.KAPPA, "Kappa"))
        for key, label in numbers:
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS API name)
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        missing = missing_packages()
        if missing:
            return False, missing_message(missing)
        reference = self.parameterAsLayer(parameters, self.REFERENCE, context)
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        if isinstance(reference, QgsVectorLayer) and not field:
            return False, self.tr("The reference is a vector layer: choose its class field.")
        return True, ""

    def _classes(self, parameters, context, feedback):
        path = self.parameterAsFile(parameters, self.MODEL, context)
        if not path:
            return None
        card, error = load_card(path)
        if error:
            raise QgsProcessingException(error)
        feedback.pushInfo(self.tr("Class names from model: {}").format(card["name"]))
        return card["classes"]

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        missing = missing_packages()
        if missing:
            raise QgsProcessingException(missing_message(missing))
        classification = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        reference = self.parameterAsLayer(parameters, self.REFERENCE, context)
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        classes = self._classes(parameters, context, feedback)
        feedback.pushInfo(self.tr("Classification: {}").format(classification.source()))
        feedback.pushInfo(self.tr("Reference: {}{}").format(
            reference.source(), self.tr(", field {}").format(field) if field else ""))
        predicted, truth = class_and_reference(classification.source(), reference, field, context, feedback)
        feedback.setProgress(50)
        paths = {key: self.parameterAsFileOutput(parameters, key, context)
                 for key in (self.OUTPUT_HTML, self.OUTPUT_CSV, self.OUTPUT_JSON)}
        from .accuracy_report import classes_from_raster, write_reports

        if classes is None:
            classes = classes_from_raster(classification.source(), predicted, truth)
        notes = [self.tr("Classification: {}").format(classification.source()),
                 self.tr("Reference: {}").format(reference.source())]
        scores, metrics = write_reports(truth, predicted, classes, paths,
                                        title=self.tr("Accuracy of {}").format(classification.name()),
                                        notes=notes)
        for line in metrics.to_markdown([c["name"] for c in classes]).splitlines():
            feedback.pushInfo(line)
        return {**{k: v for k, v in paths.items() if v}, **scores}
