"""bdgf:train — a BDGF model package from the user's layers and labelled polygons or points, trained by
`python -m training.run` in a separate process (its own process group), with progress and cancel.

The steps, all before the child starts: the interpreter that trains can (ui/training_python.py); the
labels become a GeoPackage with integer class codes in the spectral layer's CRS and the classes take
their names and colours from the label layer's style (ui/train_labels.py); the layers overlap, every
class has labelled pixels and the run folder has room (ui/train_preflight.py); the config is written by
training's own writer. Then the child trains; its progress stream moves the bar; the package is copied
to the output only when the run succeeded.
"""
import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from ..engine.settings import DEVICE_LABELS, DEVICES
from .algorithm import BDGFAlgorithm
from .train_labels import (
    LAYER_NAME,
    all_points,
    class_key,
    features_of,
    label_classes,
    label_shapes,
    layer_style,
)

PRESETS = ("quick", "cpu", "paper")
PRESET_LABELS = ("quick: minutes on a 2-core CPU (tests, a first look)",
                 "cpu: about 15 minutes for 100,000 px on a 2-core CPU",
                 "paper: the paper's network size, for a GPU")
MODALITY_NAMES = {"SPECTRAL": "hsi", "SAR": "sar", "LIDAR": "dsm"}  # the card's modality names
ROLES = {"SAR": "sar", "LIDAR": "lidar"}
POINT_BLOCK_PX = 16  # points (and label rasters) split by spatial blocks of this side, not pixel by pixel


class TrainAlgorithm(BDGFAlgorithm):
    ID = "train"
    GROUP_ID = "classification"
    SPECTRAL, SAR, LIDAR = "SPECTRAL", "SAR", "LIDAR"
    LABELS, LABEL_FIELD, LABEL_RASTER = "LABELS", "LABEL_FIELD", "LABEL_RASTER"
    TEST_LABELS, TEST_RASTER = "TEST_LABELS", "TEST_RASTER"
    EXTRA_LABELS, EXTRA_FIELD = "EXTRA_LABELS", "EXTRA_FIELD"
    TRAIN_SHARE, PRESET, DEVICE, SEEDS = "TRAIN_SHARE", "PRESET", "DEVICE", "SEEDS"
    TRAINING_SETTINGS = "TRAINING_SETTINGS"
    OUTPUT, RUN_FOLDER = "OUTPUT", "RUN_FOLDER"
    OA, AA, KAPPA, COVERAGE, OA_ALL = "OA", "AA", "KAPPA", "COVERAGE", "OA_ALL_REFERENCE"
    MISSING_MODALITY, REPORT = "MISSING_MODALITY", "REPORT"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Train a land-cover model (BDGF)")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Trains a BDGF model package (.bdgf) on your own scene: a spectral (hyperspectral / "
            "multispectral) layer, a SAR and / or a LiDAR / DSM layer, and labels: a polygon or point layer "
            "with a class field (numbers, or text: each text becomes a class), or a label raster (0 = "
            "unlabelled). Tick 'Selected features only' to train on a selection. When the label layer is "
            "styled 'Categorized' on the class field, its legend's names and colours become the model's "
            "classes, so every map the model makes comes out in your colours.\n\nTest labels: give your own, "
            "or a seeded share of each class's polygons is kept for testing (a polygon is never on both "
            "sides; points and label rasters are split by 16-pixel blocks). Extra labels: e.g. the points of "
            "'Suggest samples to label' once you have filled their 'label' field; they are added to the "
            "training side.\n\nPresets, on a 2-core CPU: quick, a minute or two for a small scene (a first "
            "look); cpu, about 15 minutes for 100,000 pixels and the best CPU accuracy; paper, the paper's "
            "network size, meant for a GPU (hours on a CPU). The log gives the estimate for your scene "
            "before training starts.\n\nTraining runs in a separate Python (Settings > Options > Processing "
            "> Providers > BDGF land cover > Python for training; empty: QGIS's own), which needs torch and "
            "a few other packages: the algorithm checks them first and shows the command that installs them. "
            "Cancel stops it within seconds; no model package is written, and the run folder keeps what "
            "'--resume' can continue.\nOutputs: the model package, its test OA / AA / Kappa and coverage, "
            "the accuracy without each auxiliary layer, and the run folder with report.md, train.log, "
            "figures and checkpoints."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        geometry = [QgsProcessing.SourceType.TypeVectorPolygon, QgsProcessing.SourceType.TypeVectorPoint]
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.SPECTRAL, self.tr("Spectral (hyperspectral / multispectral) layer")))
        self.addParameter(QgsProcessingParameterRasterLayer(self.SAR, self.tr("SAR layer"), optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.LIDAR, self.tr("LiDAR / DSM layer"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.LABELS, self.tr("Labels (polygons or points)"), geometry, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.LABEL_FIELD, self.tr("Class field"), parentLayerParameterName=self.LABELS, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.LABEL_RASTER, self.tr("or: label raster (0 = unlabelled)"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.TEST_LABELS, self.tr("Test labels (same class field; empty: a share of the labels)"),
            geometry, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.TEST_RASTER, self.tr("or: test label raster"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.EXTRA_LABELS, self.tr("Extra training labels (e.g. labelled suggested samples)"),
            geometry, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.EXTRA_FIELD, self.tr("Class field of the extra labels"), defaultValue="label",
            parentLayerParameterName=self.EXTRA_LABELS, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.PRESET, self.tr("Preset"), options=[self.tr(p) for p in PRESET_LABELS], defaultValue=1))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Model package"), self.tr("BDGF model package (*.bdgf)")))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.RUN_FOLDER, self.tr("Run folder (report, train.log, checkpoints)"), optional=True,
            createByDefault=False))
        advanced = [
            QgsProcessingParameterNumber(
                self.TRAIN_SHARE, self.tr("Share of each class's labels used for training (the rest tests)"),
                QgsProcessingParameterNumber.Type.Double, 0.7, minValue=0.05, maxValue=0.95),
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"),
                                       options=[self.tr(DEVICE_LABELS[d]) for d in DEVICES], defaultValue=0),
            QgsProcessingParameterString(self.SEEDS, self.tr("Seed(s), e.g. 0 or 0,1,2"), defaultValue="0"),
            *self.layer_setting_parameters(),
            QgsProcessingParameterString(
                self.TRAINING_SETTINGS, self.tr("Training settings (e.g. epochs=20, ddpm_steps=500)"),
                optional=True),
        ]
        self.add_advanced(advanced)
        for name, label in ((self.OA, "Test OA (classified pixels)"), (self.AA, "Test AA"),
                            (self.KAPPA, "Test Kappa"), (self.COVERAGE, "Coverage of the test pixels"),
                            (self.OA_ALL, "Test OA over all test pixels")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))
        self.addOutput(QgsProcessingOutputString(self.MISSING_MODALITY,
                                                 self.tr("Accuracy without each auxiliary layer (JSON)")))
        self.addOutput(QgsProcessingOutputFile(self.REPORT, self.tr("Training report")))
        self.addOutput(QgsProcessingOutputFolder(self.RUN_FOLDER, self.tr("Run folder")))

    # ---- what the parameters say
    def _layers(self, parameters, context):
        """[(modality name, role, layer)] spectral first, then SAR and LiDAR when given."""
        out = []
        for key in (self.SPECTRAL, self.SAR, self.LIDAR):
            layer = self.parameterAsRasterLayer(parameters, key, context)
            if layer is not None:
                out.append((MODALITY_NAMES[key], ROLES.get(key, "spectral"), layer))
        return out

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS API name)
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problems = self._parameter_problems(parameters, context)
        return (False, "\n".join(problems)) if problems else (True, "")

    def _parameter_problems(self, parameters, context):
        from ..engine.batch.job import layer_source_problem

        problems = []
        layers = self._layers(parameters, context)
        if len(layers) < 2:
            problems.append(self.tr("Give a SAR or a LiDAR / DSM layer (or both) besides the spectral layer: "
                                    "BDGF fuses the spectral image with at least one other modality."))
        for name, _role, layer in layers:
            problem = layer_source_problem(layer.source())
            if problem:
                problems.append(self.tr("The {} layer '{}' cannot be read by the training process: {}. Save "
                                        "it as a GeoTIFF first.").format(name, layer.name(), problem))
        has_vector = parameters.get(self.LABELS) not in (None, "")
        has_raster = self.parameterAsRasterLayer(parameters, self.LABEL_RASTER, context) is not None
        if has_vector == has_raster:
            problems.append(self.tr("Give the labels either as a polygon / point layer with its class field, "
                                    "or as a label raster (one of the two)."))
        if has_vector and not self.parameterAsString(parameters, self.LABEL_FIELD, context):
            problems.append(self.tr("Choose the class field of the label layer."))
        if parameters.get(self.TEST_LABELS) not in (None, "") and \
                self.parameterAsRasterLayer(parameters, self.TEST_RASTER, context) is not None:
            problems.append(self.tr("Give the test labels as a layer or as a raster, not both."))
        return problems

    # ---- run
    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        """On the main thread: the label layer's style (its renderer must not be read from the worker)."""
        self._style = layer_style(self._label_layer(parameters, context))
        return True

    def _label_layer(self, parameters, context):
        """The label layer itself, also when the parameter is a 'selected features only' definition (for
        which parameterAsVectorLayer gives None)."""
        value = parameters.get(self.LABELS)
        if isinstance(value, QgsProcessingFeatureSourceDefinition):
            return QgsProcessingUtils.mapLayerFromString(value.source.staticValue(), context)
        return self.parameterAsVectorLayer(parameters, self.LABELS, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        problems = self._parameter_problems(parameters, context)
        if problems:
            raise QgsProcessingException("\n".join(problems))
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not output.lower().endswith(".bdgf"):
            output += ".bdgf"
        folder = self.parameterAsString(parameters, self.RUN_FOLDER, context)
        folder = folder if folder and folder != QgsProcessing.TEMPORARY_OUTPUT else \
            os.path.splitext(output)[0] + "_run"
        from .train_run import TrainRun  # here: it needs numpy and GDAL, the plugin loads without them

        run = TrainRun(self, parameters, context, feedback, output, folder)
        run.check_python()
        layers = self._layers(parameters, context)
        spectral = layers[0][2]
        labels = self._labels(parameters, context, spectral, folder)
        run.preflight(layers, labels)
        run.write_config(layers, labels)
        summary = run.train()
        return run.results(summary)

    def _labels(self, parameters, context, spectral, folder):
        """{"config": the [labels] table, "classes", "train_shapes", "test_shapes", "train_raster",
        "test_raster"}: the label files written into the run folder."""
        from ..engine.raster.points import write_shapes

        crs_wkt = spectral.crs().toWkt()
        os.makedirs(folder, exist_ok=True)
        source = self.parameterAsSource(parameters, self.LABELS, context)
        raster = self.parameterAsRasterLayer(parameters, self.LABEL_RASTER, context)
        test_source = self.parameterAsSource(parameters, self.TEST_LABELS, context)
        test_raster = self.parameterAsRasterLayer(parameters, self.TEST_RASTER, context)
        extra_source = self.parameterAsSource(parameters, self.EXTRA_LABELS, context)
        share = self.parameterAsDouble(parameters, self.TRAIN_SHARE, context)
        seed = _first_seed(self.parameterAsString(parameters, self.SEEDS, context))
        out = {"train_shapes": None, "test_shapes": None, "train_raster": None, "test_raster": None}
        if source is None:
            values = _raster_values(raster.source())
            out["classes"] = [{"value": v, "name": str(v), "color": _colour(i)} for i, v in enumerate(values)]
            out["train_raster"] = raster.source()
            config = {"raster": raster.source(),
                      "split": {"ratio": share, "seed": seed, "block_size": POINT_BLOCK_PX}}
            out["config"] = config
            return out
        field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
        features = features_of(source, field)
        test_features = features_of(test_source, field) if test_source is not None else []
        classes = label_classes(getattr(self, "_style", None), field,
                                [v for _g, v in features] + [v for _g, v in test_features])
        out["classes"] = classes.classes
        shapes = label_shapes(features, classes.codes, source.sourceCrs(), crs_wkt, context)
        fields = [("class_code", "int")]
        write_shapes(os.path.join(folder, "labels.gpkg"), LAYER_NAME, fields, shapes, crs_wkt,
                     what="training labels")
        out["train_shapes"] = [(wkb, values["class_code"]) for wkb, values in shapes]
        config = {"vector": "labels.gpkg", "field": "class_code", "layer": LAYER_NAME}
        if test_source is not None:
            test_shapes = label_shapes(test_features, classes.codes, test_source.sourceCrs(), crs_wkt,
                                       context)
            write_shapes(os.path.join(folder, "test.gpkg"), LAYER_NAME, fields, test_shapes, crs_wkt,
                         what="test labels")
            out["test_shapes"] = [(wkb, values["class_code"]) for wkb, values in test_shapes]
            config["test"] = "test.gpkg"
        elif test_raster is not None:
            out["test_raster"] = config["test"] = test_raster.source()
        elif all_points(features):
            config["split"] = {"ratio": share, "seed": seed, "block_size": POINT_BLOCK_PX}
        else:
            config["split"] = {"ratio": share, "seed": seed, "by": "feature"}
        if extra_source is not None:
            extra_field = self.parameterAsString(parameters, self.EXTRA_FIELD, context) or "label"
            extra = features_of(extra_source, extra_field)
            codes = {class_key(v): code for v, code in classes.codes.items()}
            unknown = sorted({str(v) for _g, v in extra if class_key(v) not in codes})
            if unknown:
                raise QgsProcessingException(self.tr(
                    "The extra labels' field '{}' holds {}, which are not classes of the labels ({}). Write "
                    "one of those into each point you labelled (empty: not labelled).").format(
                    extra_field, ", ".join(unknown), ", ".join(str(k) for k in classes.codes)))
            extra_codes = {v: codes[class_key(v)] for _g, v in extra}
            extra_shapes = label_shapes(extra, extra_codes, extra_source.sourceCrs(), crs_wkt,
                                        context)
            write_shapes(os.path.join(folder, "extra.gpkg"), LAYER_NAME, fields, extra_shapes, crs_wkt,
                         what="extra labels")
            config["extra"] = [{"vector": "extra.gpkg", "field": "class_code", "layer": LAYER_NAME}]
        out["config"] = config
        return out


def _first_seed(text):
    try:
        return int((text or "0").replace(";", ",").split(",")[0].strip() or 0)
    except ValueError:
        return 0


def _colour(index):
    from ..engine.palette import default_colour

    return default_colour(index)


def _raster_values(path):
    """The class values (> 0) a label raster holds, read in strips."""
    import numpy as np

    from ..engine.raster.read import open_raster, row_strips

    ds = open_raster(path)
    band = ds.GetRasterBand(1)
    found = set()
    for _row, strip in row_strips(band):
        found.update(np.unique(strip[strip > 0]).tolist())
    return sorted(int(v) for v in found)

