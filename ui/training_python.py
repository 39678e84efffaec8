"""Which Python trains, and whether it can: the provider setting (Settings > Options > Processing >
Providers > BDGF land cover > Python for training), QGIS's own Python by default (found as the diagnostics
find it: inside QGIS `sys.executable` is often the QGIS program itself), and `python -m training.requirements`
run in that interpreter before any work. The setting's value is passed in (ui/provider.py reads it).
"""
import json
import os
import subprocess  # nosec B404: runs the chosen interpreter with the plugin's module, no shell

from ..engine.model.environment import python_executable
from .child_process import popen_options
from .plugin_files import PLUGIN_DIR

SETTING = "BDGF_TRAINING_PYTHON"
CHECK_TIMEOUT_S = 120  # importing torch the first time on a cold disk can take a while


class TrainingPythonError(Exception):
    """The chosen interpreter cannot train; the message says what to do."""


def configured_python():
    """The provider setting's interpreter ('' when unset, or outside the Processing framework)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        return ProcessingConfig.getSetting(SETTING) or ""
    except (ImportError, KeyError, AttributeError):
        return ""


def training_python(setting_value=""):
    """The interpreter to train with: the setting when given, else QGIS's own Python."""
    return (setting_value or "").strip() or python_executable()


def child_environment(base=None):
    """The environment of a training child: the plugin folder first on its path (so `training` and
    `engine` import as top-level packages), unbuffered UTF-8 output, no tqdm bars (the progress stream
    replaces them)."""
    env = dict(os.environ if base is None else base)
    paths = [PLUGIN_DIR, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", TQDM_DISABLE="1")
    return env


def requirements(python, timeout_s=CHECK_TIMEOUT_S):
    """training.requirements' report from `python` (a dict), or TrainingPythonError saying why it failed."""
    if not os.path.isfile(python):
        raise TrainingPythonError(
            f"The Python for training, {python}, does not exist. Set it in Settings > Options > "
            "Processing > Providers > BDGF land cover > Python for training (empty: QGIS's own Python).")
    try:
        done = subprocess.run([python, "-m", "training.requirements"], cwd=PLUGIN_DIR,  # nosec B603
                              env=child_environment(), capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=timeout_s, **popen_options())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TrainingPythonError(f"The Python for training, {python}, could not be run: {exc}") from None
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = "; ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise TrainingPythonError(f"The Python for training, {python}, could not check its packages "
                                  f"(exit code {done.returncode}: {last}). Is it Python 3.10 or "
                                  "newer?") from None


def problems(report):
    """What stops `report`'s interpreter from training, as plain messages (none: it can train)."""
    out = []
    if not report.get("version_ok", True):
        out.append(f"The Python for training ({report['python']}) is Python {report['version']}; "
                   "training needs 3.10 or newer.")
    if report.get("missing"):
        out.append(f"Training needs the Python package(s) {', '.join(report['missing'])} in "
                   f"{report['python']}, which are not installed. Install them with:\n{report['install']}\n"
                   "or choose another Python for training (one with a CUDA build of torch for a GPU) in "
                   "Settings > Options > Processing > Providers > BDGF land cover.")
    for system in report.get("missing_system", []):
        out.append(f"{report['python']} has no {system}: choose QGIS's own Python for training, or "
                   "install GDAL's bindings into that environment.")
    return out


def describe(report):
    """Lines for the Diagnostics report: the interpreter and its training packages."""
    lines = [f"Python for training: {report['python']} (Python {report['version']})"]
    for name, version in report.get("packages", {}).items():
        lines.append(f"  {name}: {version or 'missing'}")
    if report.get("install"):
        lines.append(f"  install the missing ones: {report['install']}")
    return lines
