"""bdgf:modelinfo — shows a model package's card (classes, expected bands, metrics)."""
import json

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
)

from .algorithm import BDGFAlgorithm
from .model_inputs import load_card

MODEL_FILTER = "BDGF model package (*.bdgf)"


def model_parameter(name, description, optional=False):
    return QgsProcessingParameterFile(
        name, description, extension="bdgf", optional=optional, fileFilter=MODEL_FILTER
    )


class ModelInfoAlgorithm(BDGFAlgorithm):
    ID = "modelinfo"
    GROUP_ID = "tools"
    MODEL = "MODEL"
    CARD = "CARD"
    CARD_JSON = "CARD_JSON"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Model package information")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Shows the model card of a BDGF model package (.bdgf): the land-cover classes with their "
            "colours, the layers the model expects (modality, band count, band names), the patch and tile "
            "sizes, and the accuracy measured at training time. Use it to check which layers a model needs "
            "before classifying."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(model_parameter(self.MODEL, self.tr("Model package (.bdgf)")))
        self.addOutput(QgsProcessingOutputString(self.CARD, self.tr("Model card (text)")))
        self.addOutput(QgsProcessingOutputString(self.CARD_JSON, self.tr("Model card (JSON)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        path = self.parameterAsFile(parameters, self.MODEL, context)
        card, error = load_card(path)
        if error:
            raise QgsProcessingException(error)
        from ..engine.model.card import format_card

        text = format_card(card)
        for line in text.splitlines():
            feedback.pushInfo(line)
        return {self.CARD: text, self.CARD_JSON: json.dumps(card, sort_keys=True)}
