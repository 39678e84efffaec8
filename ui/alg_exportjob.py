"""bdgf:exportjob — the inputs of bdgf:classify written as a batch job (JOB.json) for
`python -m engine batch` on this machine, another one or a Ray cluster, with the command to run it."""
import os

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from .alg_classify import TRUST_LABELS, ClassifyAlgorithm
from .model_inputs import assign_modalities
from .plugin_files import PLUGIN_DIR


class ExportJobAlgorithm(ClassifyAlgorithm):
    ID = "exportjob"
    RUNS_HERE = False  # only the job file is written here: the backend runs where the job runs
    OUTPUT, OUT_DIR, BLOCK_SIZE = "OUTPUT", "OUT_DIR", "BLOCK_SIZE"
    WRITE_PROBABILITIES, WRITE_CONFIDENCE, COG = "WRITE_PROBABILITIES", "WRITE_CONFIDENCE", "COG"
    WRITE = "WRITE_"  # + a trust output's name (ClassifyAlgorithm.TRUST): the job writes that raster too
    COMMAND, INSTRUCTIONS = "COMMAND", "INSTRUCTIONS"

    def displayName(self):  # noqa: N802 (QGIS API name)
        return self.tr("Export a batch job (Ray)")

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        return self.tr(
            "Writes the layers, model and settings of 'Classify land cover (BDGF)' into a job file "
            "(JSON) for the engine's batch command, and shows the exact command that runs it: on this "
            "machine, on a bigger one or on a Ray cluster. The batch command splits the scene into blocks "
            "aligned to the model's tiles, classifies them in parallel (one opened model per worker), "
            "resumes a killed job without recomputing finished blocks, and writes a VRT over the blocks "
            "and, optionally, one Cloud-Optimized GeoTIFF with the model's colours, class names and a "
            ".qml style; the map equals the one 'Classify land cover' makes.\n\n"
            "Layers must be files GDAL reads (GeoTIFF, VRT, ... or /vsis3/, /vsicurl/ URLs): memory and "
            "web-service layers are refused; save them as GeoTIFF first. The machine that runs the job "
            "must reach the layers, the model and the output folder at the paths in the job (a shared "
            "disk, or edit the paths in the JSON). It needs Python 3 with GDAL's Python bindings and the "
            "packages the log names (numpy, onnxruntime, ray).\n"
            "Output folder: where the job writes (one sub-folder per scene); empty = beside the job file.\n"
            "Block size: pixels per block side (rounded up to the model's tile size); one block is one "
            "unit of work and of resuming."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self._add_inputs()
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUT_DIR, self.tr("Output folder of the job (empty: beside the job file)"), optional=True,
            createByDefault=False))
        options = [
            QgsProcessingParameterNumber(self.BLOCK_SIZE, self.tr("Block size in pixels"),
                                         QgsProcessingParameterNumber.Type.Integer, 1024, minValue=1),
            QgsProcessingParameterBoolean(self.WRITE_PROBABILITIES, self.tr("Also write class probabilities"),
                                          False),
            QgsProcessingParameterBoolean(self.WRITE_CONFIDENCE, self.tr("Also write the confidence"), False),
            *(QgsProcessingParameterBoolean(self.WRITE + name, self.tr("Also write: {}").format(
                self.tr(TRUST_LABELS[name])), False) for name in self.TRUST),
            QgsProcessingParameterBoolean(self.COG, self.tr("Also write one Cloud-Optimized GeoTIFF per "
                                                            "scene"), True),
        ]
        self.add_advanced(options)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Job file"), self.tr("JSON files (*.json)")))
        self.addOutput(QgsProcessingOutputString(self.COMMAND, self.tr("Command that runs the job")))
        self.addOutput(QgsProcessingOutputString(self.INSTRUCTIONS, self.tr("How to run the job")))

    def _refused_layers(self, slots):
        """Layers a job cannot name: not read by GDAL from a file or URL (memory, web services, ...)."""
        from ..engine.batch.job import layer_source_problem

        layers = [slots.get(key) for key in (self.SPECTRAL, self.SAR, self.LIDAR)]
        layers += list(slots.get(self.EXTRA_AUX) or [])
        refused = []
        for layer in (layer for layer in layers if layer is not None):
            if layer.providerType() != "gdal":
                why = self.tr("its data comes from the '{}' provider, not from a file GDAL reads").format(
                    layer.providerType())
            else:
                why = layer_source_problem(layer.source())
            if why:
                refused.append(self.tr("Layer '{}' cannot go into a batch job: {}. Save it as a GeoTIFF "
                                       "(Export > Save As...) and use that file.").format(layer.name(), why))
        return refused

    def _problems(self, parameters, context, check_layers=True):
        """bdgf:classify's checks, and a layer for every modality: a job lists its layers in card order,
        so it cannot leave one out (bdgf:classify and engine classify can, when the card allows it)."""
        package, problems = super()._problems(parameters, context, check_layers)
        if package is not None and not problems:
            pairs = assign_modalities(package.card, self._slots(parameters, context))
            for modality, _slot, layer in pairs:
                if layer is None:
                    problems.append(self.tr(
                        "A batch job needs a layer for every modality of the model; none is given for {}. "
                        "Give it, or run without it with 'Classify land cover (BDGF)' or python -m engine "
                        "classify (the model card allows it).").format(modality["name"]))
        return package, problems

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        from ..engine.batch.job import (
            BatchJob,
            SceneJob,
            batch_command,
            batch_requirements,
            scene_name_for,
            write_job,
        )
        from ..engine.errors import BDGFError
        from ..engine.model.card import check_request
        from ..engine.raster.guard import check_outputs

        package, problems = self._problems(parameters, context)
        if problems:
            raise QgsProcessingException("\n".join(problems))
        pairs = assign_modalities(package.card, self._slots(parameters, context))
        sources = [layer.source() for _modality, _slot, layer in pairs if layer is not None]
        nodata, scale = self._per_layer(parameters, context)
        settings = self._settings(parameters, context)
        path = os.path.abspath(self.parameterAsFileOutput(parameters, self.OUTPUT, context))
        out_dir = self.parameterAsString(parameters, self.OUT_DIR, context)
        if not out_dir or out_dir == "TEMPORARY_OUTPUT":
            out_dir = os.path.splitext(path)[0] + "_out"
        scene = SceneJob(scene_name_for(sources[0]), sources[0], tuple(sources[1:]), nodata=nodata,
                         scale=scale)
        job = BatchJob(
            os.path.abspath(package.path), os.path.abspath(out_dir), (scene,), settings,
            block_size_px=self.parameterAsInt(parameters, self.BLOCK_SIZE, context),
            probabilities=self.parameterAsBool(parameters, self.WRITE_PROBABILITIES, context),
            confidence=self.parameterAsBool(parameters, self.WRITE_CONFIDENCE, context),
            cog=self.parameterAsBool(parameters, self.COG, context),
            **{field: self.parameterAsBool(parameters, self.WRITE + name, context)
               for name, field in self.TRUST.items()})
        try:
            check_request(job.mosaic_outputs(scene), package.card, package.path)  # e.g. branch outputs
            check_outputs({"job file": path},
                          inputs={f"input layer {i + 1}": s for i, s in enumerate(sources)},
                          protected={"model package": package.path})
            write_job(job, path)
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        command = batch_command(path, PLUGIN_DIR)
        instructions = self.tr(
            "Job written: {job} (scene '{scene}', model {model}; results in {out}/{scene}/).\n"
            "Run it on this machine:\n    {command}\n"
            "On a Ray cluster, add --address HEAD:6379 (the head started with `ray start --head`); "
            "--workers N sets the number of workers. A killed job resumes when run again.\n"
            "The machine that runs it needs this plugin's folder (or a BDGF checkout) to run from, "
            "Python 3 with GDAL's Python bindings (Debian/Ubuntu: apt install python3-gdal; conda: gdal) "
            "and:\n    python3 -m pip install {packages}\n"
            "and must reach the layers, the model and the output folder at the paths in the job."
        ).format(job=path, scene=scene.name, model=job.model, out=job.out_dir, command=command,
                 packages=" ".join(f"'{p}'" if "<" in p else p for p in batch_requirements(settings.backend)))
        for line in instructions.splitlines():
            feedback.pushInfo(line)
        return {self.OUTPUT: path, self.COMMAND: command, self.INSTRUCTIONS: instructions}
