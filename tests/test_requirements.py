"""requirements*.txt match the imports: every third-party import is listed, every listed package is used.

requirements.txt is what engine/, training/ and the plugin import at run time; requirements-dev.txt adds
what only tests, lint and benchmarks need. Imports are read with ast from every .py file of the
repository (the venv, caches and build outputs excepted).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.test_architecture import absolute_imports

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"__pycache__", "build", "dist", "out", "node_modules"}
RUNTIME_PARTS = ("engine", "training", "ui")  # + the top-level plugin modules (plugin.py, __init__.py)

# Import name -> pip package name, where they differ.
IMPORT_TO_PACKAGE = {
    "sklearn": "scikit-learn",
}
# Import name -> why it is not a pip requirement.
NOT_FROM_PIP = {
    "osgeo": "GDAL's Python bindings: apt python3-gdal (QGIS ships them on every platform)",
    "qgis": "apt python3-qgis / the QGIS installation",
    "processing": "QGIS's Processing plugin, shipped with QGIS",
    "PyQt5": "apt python3-pyqt5 via python3-qgis; code imports it as qgis.PyQt",
    "PyQt6": "the Qt6 build of QGIS 4",
    "mamba_ssm": "optional fused Mamba kernels; source-only, needs nvcc (README 'GPU machines'); "
                 "guarded import, the engine's own scan runs without it",
}
# Import name -> the only files that may import it: packages of the batch command (`python -m engine
# batch`, run outside QGIS). They are listed in requirements-dev.txt, never in requirements.txt, which is
# what the plugin and the training toolkit need at run time.
BATCH_ONLY = {
    "ray": {"engine/batch/run.py"},
}
# Listed package -> why it is listed although no .py file imports it.
LISTED_NOT_IMPORTED = {
    "pytest-qgis": "pytest plugin (fixtures qgis_app, qgis_iface, qgis_processing), loaded by pytest",
    "pytest-timeout": "pytest plugin: pyproject's `timeout = 900`",
    "ruff": "the linter, a command (make lint / make test)",
    "bandit": "plugins.qgis.org's security scan, run as a command over the built zip (tests/ui)",
}
# Listed package -> the module it provides, where the names differ.
PACKAGE_PROVIDES = {
    **{package: module for module, package in IMPORT_TO_PACKAGE.items()},
    "onnxruntime-gpu": "onnxruntime",  # requirements-gpu.txt: the same module, GPU build
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(path: Path) -> set[str]:
    """Normalised package names of a requirements file, following `-r other.txt`."""
    names = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            names |= requirements(path.parent / line.split(None, 1)[1])
            continue
        assert not line.startswith("-"), f"{path.name}: unexpected option {line!r}"
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        assert match, f"{path.name}: cannot parse {raw!r}"
        names.add(normalise(match.group(0)))
    return names


def python_files() -> list[Path]:
    return sorted(p for p in REPO.rglob("*.py")
                  if not any(part in SKIP_DIRS or part.startswith(".")
                             for part in p.relative_to(REPO).parts[:-1]))


def local_names() -> set[str]:
    """Top-level names that are this repository's own packages and modules."""
    return {p.stem if p.suffix == ".py" else p.name for p in REPO.iterdir()
            if (p.is_dir() and not p.name.startswith(".")) or p.suffix == ".py"}


def third_party_imports() -> dict[str, set[str]]:
    """Top-level third-party import name -> repository-relative files importing it."""
    local = local_names()
    found: dict[str, set[str]] = {}
    for path in python_files():
        for module in absolute_imports(path.read_text(encoding="utf-8")):
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                found.setdefault(top, set()).add(path.relative_to(REPO).as_posix())
    return found


def is_runtime(rel: str) -> bool:
    return "/" not in rel or rel.split("/")[0] in RUNTIME_PARTS


def test_every_third_party_import_is_listed():
    runtime = requirements(REPO / "requirements.txt")
    dev = requirements(REPO / "requirements-dev.txt")
    missing = []
    for module, files in sorted(third_party_imports().items()):
        if module in NOT_FROM_PIP:
            continue
        package = normalise(IMPORT_TO_PACKAGE.get(module, module))
        if module in BATCH_ONLY:
            outside = sorted(f for f in files - BATCH_ONLY[module] if is_runtime(f))  # tests may
            if outside:
                missing.append(f"{module} is for the batch command only, but {outside} import it")
            if package in runtime:
                missing.append(f"{module} (package {package}) is in requirements.txt: the plugin must not "
                               "need it; list it in requirements-dev.txt")
            if package not in dev:
                missing.append(f"{module} (package {package}, imported by {sorted(files)}) not in "
                               "requirements-dev.txt")
            continue
        needed_at_run_time = any(is_runtime(f) for f in files)
        listed = runtime if needed_at_run_time else dev
        if package not in listed:
            where = "requirements.txt" if needed_at_run_time else "requirements-dev.txt"
            missing.append(f"{module} (package {package}, imported by {sorted(files)[:3]}) not in {where}")
    assert not missing, "\n".join(missing)


def test_every_listed_package_is_imported_somewhere():
    imported = set(third_party_imports())
    unused = []
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-gpu.txt"):
        for package in sorted(requirements(REPO / name)):
            if package in LISTED_NOT_IMPORTED:
                continue
            module = PACKAGE_PROVIDES.get(package, package.replace("-", "_"))
            if module not in imported:
                unused.append(f"{name}: {package} (module {module}) is imported nowhere")
    assert not unused, "\n".join(unused)


def test_split_between_run_time_and_dev():
    runtime = requirements(REPO / "requirements.txt")
    dev_text = (REPO / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(r"^-r requirements\.txt$", dev_text, re.M)
    assert requirements(REPO / "requirements-dev.txt") > runtime
    assert not runtime & {"pytest", "pytest-qgis", "pytest-timeout", "ruff", "bandit"}
    assert "rasterio" not in requirements(REPO / "requirements-dev.txt")  # raster I/O is GDAL only
    gpu = requirements(REPO / "requirements-gpu.txt")
    assert "onnxruntime-gpu" in gpu and "onnxruntime" not in gpu  # never both in one environment
    # the pins stay
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==\S+$", text, re.M) and re.search(r"^numpy<2$", text, re.M)


def test_the_batch_command_names_the_pinned_ray():
    """engine/batch/job.py tells the machines that run jobs which Ray to install: the version pinned here."""
    from engine.batch.job import RAY_REQUIREMENT

    text = (REPO / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(RAY_REQUIREMENT)}$", text, re.M), RAY_REQUIREMENT
    assert "ray" not in requirements(REPO / "requirements.txt")


def test_setup_installs_both_files():
    setup = (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "-r requirements-dev.txt" in setup
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    rule = next(line for line in makefile.splitlines() if line.startswith(".venv/.installed:"))
    assert "requirements.txt" in rule and "requirements-dev.txt" in rule


def test_the_scan_sees_the_known_imports():
    """Guards the scanner itself: it must find imports in engine/, training/ and tests/."""
    found = third_party_imports()
    assert "engine/model/backends.py" in found["numpy"]
    assert any(f.startswith("training/") for f in found["sklearn"])
    assert any(f.startswith("tests/") for f in found["pytest"])
    assert "engine" not in found and "training" not in found and "tests" not in found
