"""One bdgf:train run, step by step: the interpreter's check, the preflight, the config, the child process
with its progress stream, and the results. Kept apart from the algorithm's parameters (ui/alg_train.py).
"""
import json
import os
import shutil
from collections import deque

from qgis.core import QgsProcessingException

from ..engine.errors import BDGFError
from ..engine.raster.atomic import atomic_file, write_text
from ..engine.raster.guard import check_outputs
from ..engine.settings import DEVICES, parse_modality_values
from ..training.config_writer import config_text
from ..training.progress_stream import read_event
from .child_process import ChildProcess
from .i18n import tr
from .plugin_files import PLUGIN_DIR
from .train_preflight import check
from .training_python import (
    TrainingPythonError,
    child_environment,
    configured_python,
    problems,
    requirements,
    training_python,
)

LAST_LINES = 15  # of the child's output, shown when it fails
PRESETS = ("quick", "cpu", "paper")


class TrainRun:
    def __init__(self, algorithm, parameters, context, feedback, output, folder):
        self.alg, self.parameters, self.context, self.feedback = algorithm, parameters, context, feedback
        self.output, self.folder = os.path.abspath(output), os.path.abspath(folder)
        self.preset = PRESETS[algorithm.parameterAsEnum(parameters, algorithm.PRESET, context)]
        self.device = DEVICES[algorithm.parameterAsEnum(parameters, algorithm.DEVICE, context)]
        seeds = algorithm.parameterAsString(parameters, algorithm.SEEDS, context) or "0"
        self.seeds = seeds.replace(";", ",").replace(" ", "")
        self.python = training_python(configured_python())
        self.config_path = os.path.join(self.folder, "config.toml")
        self.resume = False

    # ---- before any work
    def check_python(self):
        try:
            report = requirements(self.python)
        except TrainingPythonError as exc:
            raise QgsProcessingException(str(exc)) from None
        found = problems(report)
        if found:
            raise QgsProcessingException("\n".join(found))
        self.feedback.pushInfo(tr("Python for training: {} (Python {}, torch {})").format(
            report["python"], report["version"], report["packages"].get("torch")))

    def preflight(self, layers, labels):
        try:  # the package may replace no file a layer reads (raster.guard, as for every writer)
            check_outputs({"model package": self.output},
                          inputs={f"{name} layer": layer.source() for name, _role, layer in layers})
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        seeds = len([s for s in self.seeds.split(",") if s.strip()])
        try:
            result = check([(name, layer.source()) for name, _role, layer in layers], labels["classes"],
                           labels["train_shapes"], labels["train_raster"], labels["test_shapes"],
                           labels["test_raster"], self.folder, self.preset, seeds, self.device)
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        for line in result.lines:
            self.feedback.pushInfo(line)
        for warning in result.warnings:
            self.feedback.reportError(warning, fatalError=False)

    def write_config(self, layers, labels):
        alg, parameters, context = self.alg, self.parameters, self.context
        try:
            nodata = parse_modality_values(alg.parameterAsString(parameters, alg.NODATA, context),
                                           tr("Nodata per layer"))
            scale = parse_modality_values(alg.parameterAsString(parameters, alg.INPUT_SCALE, context),
                                          tr("Input scale per layer"))
            settings = alg.parameterAsString(parameters, alg.TRAINING_SETTINGS, context)
            training = parse_modality_values(settings, tr("Training settings"))
        except BDGFError as exc:
            raise QgsProcessingException(str(exc)) from None
        names = {name for name, _role, _layer in layers}
        unknown = sorted((set(nodata) | set(scale)) - names)
        if unknown:
            raise QgsProcessingException(tr("Nodata / input scale name unknown layer(s) {}: the layers are "
                                            "{}.")
                                         .format(", ".join(unknown), ", ".join(sorted(names))))

        def entry(name, role, layer):
            table = {"path": layer.source(), "name": name}
            if role != "spectral":
                table["role"] = role
            if name in nodata:
                table["nodata"] = nodata[name] if nodata[name] == "none" else _number(nodata[name])
            if name in scale:
                table["scale"] = float(_number(scale[name]))
            return table

        spectral, *aux = [entry(*item) for item in layers]
        text = config_text(name=os.path.splitext(os.path.basename(self.output))[0], spectral=spectral,
                           aux=aux, labels=labels["config"], classes=labels["classes"],
                           training={key: _number(value) for key, value in training.items()} or None)
        checkpoints = os.path.join(self.folder, "ckpt", "settings.json")
        try:
            with open(self.config_path, encoding="utf-8") as fh:
                self.resume = fh.read() == text and os.path.isfile(checkpoints)
        except OSError:
            self.resume = False
        write_text(self.config_path, text)
        self.feedback.pushInfo(tr("Training config: {}").format(self.config_path))
        if self.resume:
            self.feedback.pushInfo(tr("The run folder holds checkpoints of this same run: training continues "
                                      "where it stopped."))

    # ---- the child
    def command(self):
        return [self.python, "-m", "training.run", "--config", self.config_path, "--out", self.folder,
                "--preset", self.preset, "--device", self.device, "--seeds", self.seeds, "--progress-stream",
                *(["--resume"] if self.resume else [])]

    def train(self):
        command = self.command()
        self.feedback.pushInfo(tr("Training: {}").format(" ".join(command)))
        last = deque(maxlen=LAST_LINES)
        summary, stage, shown = None, None, -10.0
        child = ChildProcess(command, cwd=PLUGIN_DIR, env=child_environment())
        self.feedback.pushInfo(tr("Training process id: {}").format(child.process.pid))
        for line in child.lines(is_cancelled=self.feedback.isCanceled):
            event = read_event(line)
            if event is None:
                last.append(line)
                self.feedback.pushConsoleInfo(line)
                continue
            self.feedback.setProgress(event.percent)
            if event.stage == "done":
                summary = json.loads(event.message)
            elif event.stage != stage or event.percent >= shown + 10:  # a log line per stage and 10 %
                stage, shown = event.stage, event.percent
                self.feedback.pushInfo(f"{event.percent:.0f} %: {event.describe()}")
        code = child.wait()
        if child.stopped:
            removed = self._remove_packages()
            message = tr("Cancelled: training stopped and no model package was written{}. The run folder {} "
                         "keeps the checkpoints: run bdgf:train again with the same settings and run folder "
                         "to continue where it stopped.")
            raise QgsProcessingException(message.format(
                f" (removed {', '.join(removed)})" if removed else "", self.folder))
        if code != 0 or summary is None:
            self._remove_packages()
            raise QgsProcessingException(tr(
                "Training failed (exit code {}). Its last lines:\n{}\nThe whole log: {}. Fix what the lines "
                "say (a layer, the labels, the config {}) and run again; if they show a program error, send "
                "them with the Diagnostics report.").format(
                code, "\n".join(last) or "(none)", os.path.join(self.folder, "train.log"), self.config_path))
        return summary

    def _remove_packages(self):
        removed = []
        for root, _dirs, files in os.walk(self.folder):
            for name in files:
                if name.endswith(".bdgf"):
                    os.remove(os.path.join(root, name))
                    removed.append(os.path.join(root, name))
        return removed

    # ---- after
    def results(self, summary):
        run = summary["runs"][0]
        if len(summary["runs"]) > 1:
            oas = [r["oa"] for r in summary["runs"]]
            self.feedback.pushInfo(tr("{} seeds: test OA {} (the package is seed {}'s)").format(
                len(oas), ", ".join(f"{100 * v:.2f} %" for v in oas), run["seed"]))
        with open(run["package"], "rb") as src, atomic_file(self.output, "wb") as dst:
            shutil.copyfileobj(src, dst)
        self.feedback.pushInfo(tr("Model package: {} (test OA {:.2f} %, AA {:.2f} %, Kappa {:.4f}, coverage "
                                  "{:.1f} %)").format(self.output, 100 * run["oa"], 100 * run["aa"],
                                                      run["kappa"], 100 * run["coverage"]))
        alg = self.alg
        return {alg.OUTPUT: self.output, alg.RUN_FOLDER: self.folder, alg.REPORT: summary["report"],
                alg.OA: run["oa"], alg.AA: run["aa"], alg.KAPPA: run["kappa"], alg.COVERAGE: run["coverage"],
                alg.OA_ALL: run["oa_all_reference"],
                alg.MISSING_MODALITY: json.dumps(run["missing_modality"])}


def _number(text):
    """'12' -> 12, '0.5' -> 0.5, anything else as text (the config's own checks name what is wrong)."""
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            continue
    return text
