"""Processing provider `bdgf`."""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .. import engine
from .alg_accuracy import AccuracyAlgorithm
from .alg_classify import ClassifyAlgorithm
from .alg_environment import EnvironmentAlgorithm
from .alg_exportjob import ExportJobAlgorithm
from .alg_modelinfo import ModelInfoAlgorithm
from .alg_samplingdesign import SamplingDesignAlgorithm
from .alg_suggestsamples import SuggestSamplesAlgorithm
from .alg_train import TrainAlgorithm
from .i18n import tr
from .training_python import SETTING

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icon.png")
ALGORITHMS = (TrainAlgorithm, ClassifyAlgorithm, ExportJobAlgorithm, SuggestSamplesAlgorithm,
              AccuracyAlgorithm, SamplingDesignAlgorithm, ModelInfoAlgorithm, EnvironmentAlgorithm)


class BDGFProvider(QgsProcessingProvider):
    def id(self):
        return "bdgf"

    def name(self):
        return tr("BDGF land cover")

    def longName(self):  # noqa: N802 (QGIS API name)
        return tr("BDGF land cover {}").format(engine.__version__)

    def versionInfo(self):  # noqa: N802 (QGIS API name)
        return engine.__version__

    def icon(self):
        return QIcon(ICON)

    def load(self):
        """Register the provider's setting (Settings > Options > Processing > Providers), then the
        algorithms."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting

            ProcessingConfig.addSetting(Setting(
                self.name(), SETTING, tr("Python for training (empty: QGIS's own Python)"), "",
                valuetype=Setting.FILE))
            ProcessingConfig.readSettings()
        except ImportError:  # no Processing framework (a bare QGIS application): the default interpreter
            pass
        self.refreshAlgorithms()
        return True

    def unload(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig

            ProcessingConfig.removeSetting(SETTING)
        except (ImportError, KeyError):
            pass

    def loadAlgorithms(self):  # noqa: N802 (QGIS API name)
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
