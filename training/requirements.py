"""What training needs in the Python that runs it: `python -m training.requirements` prints, as JSON, this
interpreter, its version, the packages training imports (version or error) and the exact command that
installs the missing ones into this interpreter. bdgf:train runs it in the chosen interpreter before any
work; the Diagnostics report shows it. Standard library only (it must run where nothing else is installed).
"""
from __future__ import annotations

import json
import platform
import sys

# import name -> the name pip installs (one table; requirements.txt holds the same, tested). GDAL's
# bindings (osgeo) come with QGIS or the system's GDAL: pip cannot install them into QGIS's Python.
TRAINING_PACKAGES = {"numpy": "numpy", "torch": "torch", "safetensors": "safetensors", "onnx": "onnx",
                     "matplotlib": "matplotlib", "tqdm": "tqdm", "sklearn": "scikit-learn"}
SYSTEM_PACKAGES = {"osgeo": "GDAL's Python bindings (they come with QGIS or the system's GDAL)"}
MIN_PYTHON = (3, 10)


def check() -> dict:
    """{python, version, packages: {name: version or None}, errors: {name: text}, missing: [pip names],
    missing_system: [descriptions], install: the pip command or ''}."""
    from engine.model.environment import install_hint, try_import

    packages, errors = {}, {}
    for name in (*TRAINING_PACKAGES, *SYSTEM_PACKAGES):
        module, error = try_import(name)
        packages[name] = None if module is None else str(getattr(module, "__version__", "installed"))
        if error:
            errors[name] = error
    missing = [TRAINING_PACKAGES[n] for n in TRAINING_PACKAGES if packages[n] is None]
    return {"python": sys.executable, "version": platform.python_version(),
            "version_ok": sys.version_info[:2] >= MIN_PYTHON, "packages": packages, "errors": errors,
            "missing": missing, "missing_system": [SYSTEM_PACKAGES[n] for n in SYSTEM_PACKAGES
                                                   if packages[n] is None],
            "install": install_hint(missing)}


if __name__ == "__main__":
    print(json.dumps(check()))
