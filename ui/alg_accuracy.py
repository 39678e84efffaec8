"""bdgf:accuracy — coverage, confusion matrix, OA / AA / Kappa, per-class PA / UA / F1 against reference
labels, and area-adjusted accuracy and area estimates, map classes as strata (Olofsson et al. 2014)."""
from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterLayer,
    QgsVectorLayer,
)

from .alg_modelinfo import model_parameter
from .algorithm import BDGFAlgorithm
from .model_inputs import load_card
from .reference_grid import class_and_reference
from .runtime_check import missing_message, missing_packages


class AccuracyAlgorithm(BDGFAlgorithm):
    ID = "accuracy"
    GROUP_ID = "assessment"
    INPUT, REFERENCE, CLASS_FIELD, MODEL = "INPUT", "REFERENCE", "CLASS_FIELD", "MODEL"
    SAMPLING = "SAMPLING"
    OUTPUT_HTML, OUTPUT_CSV, OUTPUT_JSON = "OUTPUT_HTML", "OUTPUT_CSV", "OUTPUT_JSON"
    NUMBERS = (("OA", "Overall accuracy over classified reference pixels (= OA_CLASSIFIED)"),
               ("OA_CLASSIFIED", "Overall accuracy over classified reference pixels"),
               ("OA_ALL_REFERENCE", "Overall accuracy over all reference pixels (unclassified = wrong)"),
               ("COVERAGE", "Coverage: share of the reference pixels the map classified"),
               ("AA", "Average accuracy"), ("KAPPA", "Kappa"),
               ("OA_AREA_ADJUSTED", "Area-adjusted overall accuracy (map classes as strata)"))
    # index = value of the SAMPLING parameter; True = a probability sample
    SAMPLING_OPTIONS = (
        ("Not a probability sample (training-style polygons, hand-picked areas): area figures "
         "indicative only", False),
        ("Stratified random sample with the map classes as strata (e.g. from bdgf:samplingdesign)", True))

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Accuracy assessment")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Compares a classification raster with reference labels: a raster (value 0 = unlabelled) or a "
            "vector layer with an integer class field, rasterised onto the classification's pixel grid. "
            "Writes an HTML report with the coverage (share of the reference pixels the map classified), "
            "the confusion matrix, overall accuracy over the classified reference pixels (OA = "
            "OA_CLASSIFIED) and over all reference pixels (OA_ALL_REFERENCE: unclassified counted as "
            "wrong), average accuracy (AA), Cohen's Kappa and per-class producer's / user's accuracy and "
            "F1, plus CSV and JSON tables.\n"
            "It also estimates, with the map classes as strata (Olofsson et al. 2014), the error matrix in "
            "area proportions, the area-adjusted OA, user's and producer's accuracies and the area of each "
            "class (pixels, and hectares when the CRS is projected), each with its standard error and 95 % "
            "confidence interval (1.96 × SE). These are valid only for a stratified random sample (e.g. "
            "points from bdgf:samplingdesign, labelled); for other references (training-style polygons) "
            "they are labelled indicative only.\n"
            "Class names come from the model package when given, else from the class values. Reference "
            "values that are not classes are listed with their pixel counts. The numbers are also returned "
            "as outputs (for models and scripts)."
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
        self.addParameter(QgsProcessingParameterEnum(
            self.SAMPLING, self.tr("How the reference was sampled (for the area estimates)"),
            options=[self.tr(label) for label, _ in self.SAMPLING_OPTIONS], defaultValue=0))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_HTML, self.tr("Accuracy report (HTML)"), self.tr("HTML files (*.html)")))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_CSV, self.tr("Confusion matrix and per-class table (CSV)"),
            self.tr("CSV files (*.csv)"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_JSON, self.tr("Metrics (JSON)"), self.tr("JSON files (*.json)"),
            optional=True, createByDefault=False))
        for key, label in self.NUMBERS:
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
        paths = {key: self.parameterAsFileOutput(parameters, key, context)
                 for key in (self.OUTPUT_HTML, self.OUTPUT_CSV, self.OUTPUT_JSON)}
        from ..engine.errors import BDGFError
        from ..engine.raster.guard import check_outputs

        model = self.parameterAsFile(parameters, self.MODEL, context)
        try:  # before any work: no report may replace the map, the reference or the model (raster.guard)
            check_outputs({key.lower().replace("output_", "") + " report": path
                           for key, path in paths.items()},
                          inputs={"classification": classification.source(), "reference": reference.source()},
                          protected={"model package": model} if model else None)
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        feedback.pushInfo(self.tr("Classification: {}").format(classification.source()))
        feedback.pushInfo(self.tr("Reference: {}{}").format(
            reference.source(), self.tr(", field {}").format(field) if field else ""))
        from ..engine.raster.read import GdalMessages

        with GdalMessages(forward=feedback.pushWarning):  # GDAL's warnings reach the log, as in classify
            predicted, truth = class_and_reference(classification.source(), reference, field, context,
                                                   feedback)
        feedback.setProgress(50)
        from ..engine.accuracy.assessment import class_values
        from ..engine.raster.read import grid_of
        from ..engine.raster.write import read_classes
        from .accuracy_report import write_reports

        if classes is None:
            classes = read_classes(classification.source(), class_values(predicted, truth))
        label, probability_sample = self.SAMPLING_OPTIONS[
            self.parameterAsEnum(parameters, self.SAMPLING, context)]
        feedback.pushInfo(self.tr("Reference sampling: {}").format(self.tr(label)))
        notes = [self.tr("Classification: {}").format(classification.source()),
                 self.tr("Reference: {}").format(reference.source())]
        try:  # nothing assessable, or a report that cannot be written: one line, never a traceback
            assessment = write_reports(truth, predicted, classes, grid_of(classification.source()), paths,
                                       title=self.tr("Accuracy of {}").format(classification.name()),
                                       notes=notes, probability_sample=probability_sample)
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        if assessment.metrics.ignored:
            feedback.reportError(assessment.metrics.ignored_sentence())
        for line in assessment.to_markdown().splitlines():
            feedback.pushInfo(line)
        return {**{k: v for k, v in paths.items() if v}, **assessment.scores()}
