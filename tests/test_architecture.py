"""engine/ and training/ must never import QGIS or Qt (parsed imports, not grep)."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "PyQt", "sip", "processing")


def forbidden_imports(source: str) -> list[str]:
    """Names of forbidden top-level modules imported anywhere in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def test_checker_catches_forbidden_imports():
    assert forbidden_imports("import qgis.core\n") == ["qgis.core"]
    assert forbidden_imports("def f():\n    from PyQt5.QtCore import QObject\n") == ["PyQt5.QtCore"]
    assert forbidden_imports("from qgis.PyQt import QtGui\nimport numpy\n") == ["qgis.PyQt"]
    assert forbidden_imports("import numpy\nfrom .raster import read\nfrom osgeo import gdal\n") == []


def test_engine_and_training_never_import_qgis_or_qt():
    offenders = {}
    for package in ("engine", "training"):
        for path in sorted((REPO / package).rglob("*.py")):
            bad = forbidden_imports(path.read_text(encoding="utf-8"))
            if bad:
                offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}


def test_engine_uses_relative_imports_only():
    offenders = []
    for path in sorted((REPO / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in ("engine", "training"):
                    offenders.append(f"{path.relative_to(REPO)}: from {node.module}")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path.relative_to(REPO)}: import {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] in ("engine", "training")
                ]
    assert offenders == []


def test_importing_engine_does_not_import_torch_or_onnxruntime():
    import subprocess
    import sys

    code = (
        "import sys, engine, engine.diagnostics, engine.progress, engine.errors\n"
        "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
