"""bdgf:classify — land-cover map from spectral + SAR + LiDAR layers with a model package."""
import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..engine.model.missing_modality import missing_layer_message
from ..engine.settings import BACKENDS, DEVICE_LABELS, DEVICES
from .alg_modelinfo import model_parameter
from .algorithm import BDGFAlgorithm
from .class_style import ClassStylePostProcessor, SidecarStylePostProcessor
from .feedback_progress import FeedbackProgress
from .layer_info import layer_summary
from .model_inputs import assign_modalities, engine_inputs, mismatch_messages, open_package
from .runtime_check import missing_message, missing_packages

TRUST_LABELS = {"ENTROPY": "Entropy (uncertainty, 0..1)",
                "DISAGREEMENT": "Branch disagreement (Jensen-Shannon, 0..1)",
                "AGREEMENT": "Branch agreement (share of branches with the map's class)",
                "CONTRIBUTION": "Modality contribution (one band per modality)",
                "DOMINANT_MODALITY": "Dominant modality"}


class ClassifyAlgorithm(BDGFAlgorithm):
    ID = "classify"
    GROUP_ID = "classification"
    SPECTRAL, SAR, LIDAR, EXTRA_AUX = "SPECTRAL", "SAR", "LIDAR", "EXTRA_AUX"
    MODEL, DEVICE, BACKEND = "MODEL", "DEVICE", "BACKEND"
    TILE_SIZE, BATCH_SIZE = "TILE_SIZE", "BATCH_SIZE"
    OUTPUT, PROBABILITIES, CONFIDENCE = "OUTPUT", "PROBABILITIES", "CONFIDENCE"
    # trust outputs: parameter -> ClassifyOutputs field (README, "Trust outputs")
    TRUST = {"ENTROPY": "entropy", "DISAGREEMENT": "disagreement", "AGREEMENT": "agreement",
             "CONTRIBUTION": "contribution", "DOMINANT_MODALITY": "dominant_modality"}
    DEVICE_USED = "DEVICE_USED"
    RUNS_HERE = True  # the engine runs in QGIS's Python (bdgf:exportjob: on the machine that runs the job)

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Classify land cover (BDGF)")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Classifies co-registered hyperspectral (spectral), SAR and LiDAR/DSM layers with a trained "
            "BDGF model package (.bdgf) and writes a land-cover GeoTIFF styled with the model's class "
            "names and colours (also saved as a .qml next to it).\n\n"
            "Give the layers the model card asks for (see 'Model package information'): the band count of "
            "each layer must match. Layers on another grid or CRS are aligned to the spectral layer.\n"
            "Running without a layer: leave the SAR or LiDAR layer empty only when the model card says the "
            "model can run without it ('Can run without: sar (test OA ...)': models trained with modality "
            "dropout). The modality is then replaced by its neutral value everywhere, and the log gives the "
            "card's test accuracy without it. One auxiliary layer at a time; the spectral layer is always "
            "needed.\n"
            "Device: 'auto' uses a GPU when the backend can, else the CPU; the log says which ran.\n"
            "Tile size and batch size: 0 picks them automatically from the model and the memory.\n"
            "Nodata per layer: replaces the nodata value a layer's file declares, by modality name "
            "(e.g. 'hsi=0, dsm=none'; 'none' when the declared value is a real one).\n"
            "Input scale per layer: multiplies a layer's values to match the training data (e.g. "
            "'hsi=0.0001' for reflectance stored as integers x 10000). The run stops, saying which, when "
            "a layer's values do not look like the training data.\n"
            "Optional outputs: per-class probabilities (one band per class) and the confidence "
            "(highest probability) of each pixel.\n"
            "Trust outputs (optional, 0..1, styled blue to red): entropy of the class probabilities (high: "
            "the model cannot tell the classes apart); branch disagreement, the Jensen-Shannon divergence "
            "of the CNN, Mamba and Transformer branches' probabilities divided by ln(min(branches, "
            "classes)) (high: the branches see different classes); branch agreement, the share of branches "
            "whose class is the map's (low: distrust). Disagreement and agreement need a package exported "
            "with each branch's probabilities ('Model package information' says which outputs a package "
            "supports). Modality contribution: per modality (one band each), how much the mapped class's "
            "probability drops when that modality is replaced by its neutral value (one more pass per "
            "modality: the run takes about two to three times as long, and the log says how much longer it "
            "took); dominant modality: the one whose removal "
            "drops it most. Use the entropy or disagreement with 'Suggest samples to label'."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self._add_inputs()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Land cover")))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.PROBABILITIES, self.tr("Class probabilities"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.CONFIDENCE, self.tr("Confidence"), optional=True, createByDefault=False))
        for name, label in TRUST_LABELS.items():
            self.addParameter(QgsProcessingParameterRasterDestination(
                name, self.tr(label), optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString(self.DEVICE_USED, self.tr("Device used")))

    def _add_inputs(self):
        """Layers, model and run settings (shared with bdgf:exportjob, which writes them into a job)."""
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.SPECTRAL, self.tr("Spectral (hyperspectral / multispectral) layer")))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.SAR, self.tr("SAR layer"), optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.LIDAR, self.tr("LiDAR / DSM layer"), optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.EXTRA_AUX, self.tr("Extra auxiliary layers (when the model card asks for more)"),
            QgsProcessing.SourceType.TypeRaster, optional=True))
        self.addParameter(model_parameter(self.MODEL, self.tr("Model package (.bdgf)")))
        advanced = [
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"),
                                       options=[self.tr(DEVICE_LABELS[d]) for d in DEVICES], defaultValue=0),
            QgsProcessingParameterEnum(self.BACKEND, self.tr("Backend"), options=list(BACKENDS),
                                       defaultValue=0),
            QgsProcessingParameterNumber(self.TILE_SIZE, self.tr("Tile size in pixels (0 = automatic)"),
                                         QgsProcessingParameterNumber.Type.Integer, 0, minValue=0),
            QgsProcessingParameterNumber(self.BATCH_SIZE, self.tr("Batch size (0 = automatic)"),
                                         QgsProcessingParameterNumber.Type.Integer, 0, minValue=0),
            *self.layer_setting_parameters(),
        ]
        self.add_advanced(advanced)

    # ---- parameters
    def _slots(self, parameters, context):
        return {
            self.SPECTRAL: self.parameterAsRasterLayer(parameters, self.SPECTRAL, context),
            self.SAR: self.parameterAsRasterLayer(parameters, self.SAR, context),
            self.LIDAR: self.parameterAsRasterLayer(parameters, self.LIDAR, context),
            self.EXTRA_AUX: self.parameterAsLayerList(parameters, self.EXTRA_AUX, context),
        }

    def _backend(self, parameters, context):
        return BACKENDS[self.parameterAsEnum(parameters, self.BACKEND, context)]

    def _per_layer(self, parameters, context):
        """({modality: nodata text}, {modality: scale text}); BDGFError for a malformed entry."""
        from ..engine.settings import parse_modality_values

        return (parse_modality_values(self.parameterAsString(parameters, self.NODATA, context),
                                      self.tr("Nodata per layer")),
                parse_modality_values(self.parameterAsString(parameters, self.INPUT_SCALE, context),
                                      self.tr("Input scale per layer")))

    def _problems(self, parameters, context, check_layers=True):
        """(package, plain messages for everything that would make the run fail; [] when it can start).

        check_layers=False leaves the band counts to the engine, which checks them before any work."""
        from ..engine.errors import BDGFError

        backend = self._backend(parameters, context) if self.RUNS_HERE else None
        missing = missing_packages(backend)
        if missing:
            return None, [missing_message(missing, backend)]
        package, error = open_package(self.parameterAsFile(parameters, self.MODEL, context))
        if error:
            return None, [error]
        try:
            nodata, scale = self._per_layer(parameters, context)
        except BDGFError as exc:
            return None, [str(exc)]
        slots = self._slots(parameters, context)
        refused = self._refused_layers(slots)
        if refused:
            return package, refused
        problems = mismatch_messages(package.card, slots, check_layers, nodata=nodata, scale=scale)
        if self._trust_paths(parameters, context):
            try:  # what the package cannot give (the engine checks it again before any work)
                from ..engine.model.card import check_request

                check_request(self._outputs(parameters, context), package.card, package.path)
            except BDGFError as exc:
                problems.append(str(exc))
        return package, problems

    def _trust_paths(self, parameters, context):
        """{ClassifyOutputs field: path} of the trust outputs asked for."""
        paths = {field: self.parameterAsOutputLayer(parameters, name, context)
                 for name, field in self.TRUST.items() if self.parameterDefinition(name) is not None}
        return {field: path for field, path in paths.items() if path}

    def _refused_layers(self, slots):
        """Messages for layers this algorithm cannot use (bdgf:exportjob: layers that are not files)."""
        return []

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS API name)
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        _package, problems = self._problems(parameters, context)
        return (False, "\n".join(problems)) if problems else (True, "")

    def _settings(self, parameters, context):
        from ..engine.settings import ClassifySettings

        return ClassifySettings(
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            backend=self._backend(parameters, context),
            tile_size_px=self.parameterAsInt(parameters, self.TILE_SIZE, context) or None,
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context) or None)

    def _outputs(self, parameters, context):
        from ..engine.settings import ClassifyOutputs

        return ClassifyOutputs(
            self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
            probabilities=self.parameterAsOutputLayer(parameters, self.PROBABILITIES, context) or None,
            confidence=self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context) or None,
            **self._trust_paths(parameters, context))

    # ---- run
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        package, problems = self._problems(parameters, context, check_layers=False)
        if problems:
            raise QgsProcessingException("\n".join(problems))
        from ..engine.errors import BDGFError

        pairs = assign_modalities(package.card, self._slots(parameters, context))
        try:  # e.g. the confidence output named like the land cover: one line, never a traceback
            settings, outputs = self._settings(parameters, context), self._outputs(parameters, context)
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        nodata, scale = self._per_layer(parameters, context)
        self._log_settings(feedback, package, pairs, settings, outputs)
        for key, values in ((self.NODATA, nodata), (self.INPUT_SCALE, scale)):
            if values:
                feedback.pushInfo(f"{key}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        used = self._run_engine(feedback, package, pairs, settings, outputs, nodata, scale)
        feedback.pushInfo(self.tr("Device used: {}").format(used))
        self._style_on_load(context, package.card, outputs.classes)
        results = {self.OUTPUT: outputs.classes, self.DEVICE_USED: used}
        if outputs.probabilities:
            results[self.PROBABILITIES] = outputs.probabilities
        if outputs.confidence:
            results[self.CONFIDENCE] = outputs.confidence
        for name, field in self.TRUST.items():
            path = getattr(outputs, field)
            if path:
                results[name] = path
                if context.willLoadLayerOnCompletion(path):  # its .qml: a ramp, or the modalities' palette
                    details = context.layerToLoadOnCompletionDetails(path)
                    details.setPostProcessor(SidecarStylePostProcessor.create())
        return results

    def _log_settings(self, feedback, package, pairs, settings, outputs):
        feedback.pushInfo(self.tr("Model: {} ({}), {}").format(
            package.name, package.path, package.content_hash))
        for modality, _slot, layer in pairs:
            if layer is None:  # allowed by the card (missing_modality); the engine logs it again
                feedback.pushInfo(self.tr("Input {}: none, {}").format(
                    modality["name"], missing_layer_message(package.card, modality["name"])))
            else:
                feedback.pushInfo(self.tr("Input {}: {}").format(modality["name"], layer_summary(layer)))
        for key, value in vars(settings).items():
            feedback.pushInfo(f"{key}: {value if value is not None else self.tr('automatic')}")
        for key, path in vars(outputs).items():
            if path:
                feedback.pushInfo(f"{key}: {path}")

    def _run_engine(self, feedback, package, pairs, settings, outputs, nodata=None, scale=None):
        from ..engine.classify.run import classify
        from ..engine.errors import BDGFError, Cancelled
        from ..engine.raster.style import qml_path_for

        files = [f for path in outputs.paths() for f in (path, qml_path_for(path))]
        created = [f for f in files if not os.path.exists(f)]
        try:
            result = classify(engine_inputs(pairs), package, outputs, settings, nodata=nodata, scale=scale,
                              progress=FeedbackProgress(feedback))
        except Cancelled:
            _remove(created)
            raise QgsProcessingException(self.tr("Cancelled: no output was written.")) from None
        except BDGFError as exc:
            _remove(created)
            raise QgsProcessingException(str(exc)) from None
        except ImportError:
            _remove(created)
            missing = missing_packages(settings.backend)
            if not missing:
                raise  # not a missing package but a bug: keep the traceback for the report
            raise QgsProcessingException(missing_message(missing, settings.backend)) from None
        feedback.pushInfo(self.tr("Backend: {}").format(result.backend_detail))
        if "modality contribution" in result.profile:
            extra = result.profile["modality contribution"]
            feedback.pushInfo(self.tr("Modality contribution: +{:.1f} s of {:.1f} s").format(
                extra, result.seconds))
        return result.device

    def _style_on_load(self, context, card, path):
        if context.willLoadLayerOnCompletion(path):
            details = context.layerToLoadOnCompletionDetails(path)
            details.setPostProcessor(ClassStylePostProcessor.create(card["classes"]))


def _remove(paths):
    """Belt and braces: the engine already writes to temp files; drop anything this run created."""
    for path in paths:
        if os.path.exists(path):
            os.remove(path)
