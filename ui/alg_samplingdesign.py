"""bdgf:samplingdesign — a stratified random sample (map classes as strata) for validating a class map."""
import json

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from .algorithm import BDGFAlgorithm
from .feedback_progress import FeedbackProgress
from .runtime_check import missing_message, missing_packages

REFERENCE_FIELD = "reference"


class SamplingDesignAlgorithm(BDGFAlgorithm):
    ID = "samplingdesign"
    GROUP_ID = "assessment"
    INPUT, TARGET_SE, USERS_ACCURACY = "INPUT", "TARGET_SE", "USERS_ACCURACY"
    USERS_ACCURACY_BY_CLASS, MINIMUM, SEED, OUTPUT = "USERS_ACCURACY_BY_CLASS", "MINIMUM", "SEED", "OUTPUT"
    SAMPLE_SIZE, COCHRAN_N, DESIGN = "SAMPLE_SIZE", "COCHRAN_N", "DESIGN"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Sampling design for accuracy assessment")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Proposes and draws a stratified random sample for validating a classification, with the map "
            "classes as strata (Olofsson et al. 2014, Remote Sensing of Environment 148: 42–57).\n"
            "Sample size: Cochran's formula n = (Σ W_i S_i / S(Ô))², where W_i is the map share of class i, "
            "S_i = sqrt(U_i (1 − U_i)) from its anticipated user's accuracy U_i, and S(Ô) the target "
            "standard error of the overall accuracy. The points are allocated in proportion to the map "
            "shares, but at least the minimum per class (rare classes), and drawn at random (seeded) at "
            "pixel centres inside each class's pixels; unclassified (nodata) pixels are never sampled.\n"
            "Output: a point layer with the map class (map_class, map_name) and an empty 'reference' field. "
            "Label each point's true class in 'reference' (e.g. from imagery), then run Accuracy assessment "
            "with this layer as reference, 'reference' as class field and sampling 'stratified random "
            "sample': it reports the area-adjusted accuracies and class areas with 95 % confidence "
            "intervals. Do not move, add or drop points, or the sample is no longer random."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        number = QgsProcessingParameterNumber.Type.Double
        integer = QgsProcessingParameterNumber.Type.Integer
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Classification raster")))
        self.addParameter(QgsProcessingParameterNumber(
            self.TARGET_SE, self.tr("Target standard error of the overall accuracy"), type=number,
            defaultValue=0.01, minValue=0.001, maxValue=0.25))
        self.addParameter(QgsProcessingParameterNumber(
            self.USERS_ACCURACY, self.tr("Anticipated user's accuracy (all classes)"), type=number,
            defaultValue=0.8, minValue=0.01, maxValue=1.0))
        self.addParameter(QgsProcessingParameterString(
            self.USERS_ACCURACY_BY_CLASS,
            self.tr("Anticipated user's accuracy of some classes (value=accuracy, e.g. 3=0.7, 5=0.6)"),
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.MINIMUM, self.tr("Minimum sample size per class"), type=integer, defaultValue=50,
            minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), type=integer, defaultValue=1, minValue=0))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Sample points (label their 'reference' field)"),
            type=QgsProcessing.SourceType.TypeVectorPoint))
        self.addOutput(QgsProcessingOutputNumber(self.SAMPLE_SIZE, self.tr("Number of points drawn")))
        self.addOutput(QgsProcessingOutputNumber(self.COCHRAN_N, self.tr("Cochran's n (before the minimum)")))
        self.addOutput(QgsProcessingOutputString(self.DESIGN, self.tr("Sampling design (JSON)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        missing = missing_packages()
        if missing:
            raise QgsProcessingException(missing_message(missing))
        from ..engine.accuracy.sampling_design import (
            count_classes,
            design_sample,
            draw_sample,
            parse_class_accuracies,
        )
        from ..engine.errors import BDGFError, Cancelled
        from ..engine.raster.write import read_classes

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        path = layer.source()
        default_users = self.parameterAsDouble(parameters, self.USERS_ACCURACY, context)
        by_class = self.parameterAsString(parameters, self.USERS_ACCURACY_BY_CLASS, context) or ""
        try:
            target = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
            if target and not target.startswith(("memory:", "TEMPORARY_OUTPUT")):  # a file: the one guard
                from ..engine.raster.guard import check_outputs

                check_outputs({"sample points": target.split("|")[0]}, inputs={"class raster": path})
            counts = count_classes(path, FeedbackProgress(feedback))
            names = {c["value"]: c["name"] for c in read_classes(path, sorted(counts))}
            users = {value: default_users for value in counts}
            overrides = parse_class_accuracies(by_class)
            unknown = sorted(set(overrides) - set(counts))
            if unknown:
                feedback.reportError(self.tr("No map pixels of class(es) {}: their accuracy is not used.")
                                     .format(", ".join(map(str, unknown))))
            users.update({v: u for v, u in overrides.items() if v in counts})
            design = design_sample(counts, names, users,
                                   self.parameterAsDouble(parameters, self.TARGET_SE, context),
                                   self.parameterAsInt(parameters, self.MINIMUM, context))
            for line in design.to_markdown().splitlines():
                feedback.pushInfo(line)
            feedback.setProgress(30)
            points = draw_sample(path, design, self.parameterAsInt(parameters, self.SEED, context),
                                 FeedbackProgress(feedback))
        except Cancelled:
            raise QgsProcessingException(self.tr("Cancelled: no sample was drawn.")) from None
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        fields = QgsFields()
        fields.append(QgsField("sample_id", QVariant.Int))
        fields.append(QgsField("map_class", QVariant.Int))
        fields.append(QgsField("map_name", QVariant.String))
        fields.append(QgsField(REFERENCE_FIELD, QVariant.Int))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Type.Point,
                                          layer.crs())
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for i, point in enumerate(points):
            if feedback.isCanceled():
                break
            feature = QgsFeature(fields)
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(point.x, point.y)))
            feature.setAttributes([i + 1, point.value, names.get(point.value, str(point.value)), None])
            sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
            feedback.setProgress(30 + 70 * (i + 1) / max(len(points), 1))
        feedback.pushInfo(self.tr("{} points drawn. Label their '{}' field, then run Accuracy assessment "
                                  "with sampling 'stratified random sample'.").format(len(points),
                                                                                     REFERENCE_FIELD))
        return {self.OUTPUT: dest, self.SAMPLE_SIZE: len(points), self.COCHRAN_N: design.cochran_n,
                self.DESIGN: json.dumps(design.to_dict())}
