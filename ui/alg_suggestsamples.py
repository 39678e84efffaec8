"""bdgf:suggestsamples — where to label next: the most uncertain pixels of a classification, spread out and
balanced across its classes, as a point layer to label (engine/trust/suggest.py)."""
from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from .algorithm import BDGFAlgorithm
from .feedback_progress import FeedbackProgress
from .runtime_check import missing_message, missing_packages


class SuggestSamplesAlgorithm(BDGFAlgorithm):
    ID = "suggestsamples"
    GROUP_ID = "labelling"
    CLASSES, UNCERTAINTY, COUNT = "CLASSES", "UNCERTAINTY", "COUNT"
    MIN_DISTANCE, SEED = "MIN_DISTANCE", "SEED"
    OUTPUT, POINTS = "OUTPUT", "POINTS"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Suggest samples to label")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Where to label next: picks the pixels of a classification whose class the model is least sure "
            "of, as a point layer to label, so that each new label teaches the model the most.\n"
            "Land cover: the class raster of 'Classify land cover (BDGF)'. Uncertainty: its entropy or "
            "branch disagreement output (same grid; not the branch agreement, where high means sure).\n"
            "Within each mapped class the points go from the highest uncertainty down; a pixel closer than "
            "the minimum distance (pixels) to a point already chosen is skipped, so the points spread out; "
            "the classes take turns, so each gets the same number of points (within one) unless it runs "
            "out. Equal values and the classes' turns are ordered by the seed: the same inputs and seed give "
            "the same points.\n"
            "Output: a GeoPackage point layer with rank, class_value, class_name, uncertainty, row, col and "
            "an empty 'label' field. Write each point's true class value into 'label' (leave it empty to "
            "skip a point), then train with the points as vector labels (training config: [labels] vector = "
            "the file, field = \"label\") or burn them into a label raster (gdal_rasterize -a label -where "
            "\"label IS NOT NULL\"), "
            "classify again, and repeat."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        integer = QgsProcessingParameterNumber.Type.Integer
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.CLASSES, self.tr("Land cover (class raster of 'Classify land cover')")))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.UNCERTAINTY, self.tr("Uncertainty (its entropy or branch disagreement)")))
        self.addParameter(QgsProcessingParameterNumber(
            self.COUNT, self.tr("Number of points"), type=integer, defaultValue=50, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            self.MIN_DISTANCE, self.tr("Minimum distance between points (pixels)"),
            type=QgsProcessingParameterNumber.Type.Double, defaultValue=10.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed (order of equal values)"), type=integer, defaultValue=0,
            minValue=0))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Points to label (GeoPackage)"),
            type=QgsProcessing.SourceType.TypeVectorPoint))
        self.addOutput(QgsProcessingOutputNumber(self.POINTS, self.tr("Number of points written")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        missing = missing_packages()
        if missing:
            raise QgsProcessingException(missing_message(missing))
        from ..engine.errors import BDGFError, Cancelled
        from ..engine.trust.suggest import SuggestSettings, suggest_and_write

        classes = self.parameterAsRasterLayer(parameters, self.CLASSES, context).source()
        uncertainty = self.parameterAsRasterLayer(parameters, self.UNCERTAINTY, context).source()
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        try:
            settings = SuggestSettings(
                count=self.parameterAsInt(parameters, self.COUNT, context),
                min_distance_px=self.parameterAsDouble(parameters, self.MIN_DISTANCE, context),
                seed=self.parameterAsInt(parameters, self.SEED, context))
            suggestion = suggest_and_write(classes, uncertainty, out, settings, FeedbackProgress(feedback))
        except Cancelled:
            raise QgsProcessingException(self.tr("Cancelled: no output was written.")) from None
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        shares = ", ".join(f"{value}: {n}" for value, n in suggestion.per_class.items())
        feedback.pushInfo(self.tr("{} points to label (per class value {}). Write each point's true class "
                                  "value into its 'label' field.").format(len(suggestion.points), shares))
        for warning in suggestion.warnings:
            feedback.reportError(warning)
        return {self.OUTPUT: out, self.POINTS: len(suggestion.points)}
