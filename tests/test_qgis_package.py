"""The release zip (make package / scripts/package.py): contents, and it loads as an installed plugin."""
import importlib
import subprocess
import sys
import zipfile

import pytest
from qgis.core import QgsApplication

from tests.qgis_tools import REPO

pytestmark = pytest.mark.qgis


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "scripts/package.py", "--out-dir", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    zips = list(out.glob("bdgf-*.zip"))
    assert len(zips) == 1
    return zips[0]


def test_zip_holds_the_plugin_and_nothing_else(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert all(name.startswith("bdgf/") for name in names)
    for required in ("bdgf/metadata.txt", "bdgf/__init__.py", "bdgf/plugin.py", "bdgf/README.md",
                     "bdgf/ui/provider.py", "bdgf/ui/dock.py", "bdgf/engine/classify.py",
                     "bdgf/resources/icon.svg"):
        assert required in names, required
    for name in names:
        assert not name.startswith(("bdgf/tests/", "bdgf/training/", "bdgf/.venv/", "bdgf/docs/",
                                    "bdgf/scripts/", "bdgf/dist/")), name
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
    version = next(line.split("=", 1)[1] for line in (REPO / "metadata.txt").read_text().splitlines()
                   if line.startswith("version="))
    assert plugin_zip.name == f"bdgf-{version.strip()}.zip"


def test_unzipped_plugin_loads_in_a_fresh_profile(plugin_zip, qgis_iface, qgis_processing, tmp_path,
                                                  monkeypatch):
    plugins = tmp_path / "profile" / "python" / "plugins"
    plugins.mkdir(parents=True)
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    saved = {n: m for n, m in sys.modules.items() if n == "bdgf" or n.startswith("bdgf.")}
    for name in saved:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(plugins))
    try:
        package = importlib.import_module("bdgf")
        assert package.__file__ == str(plugins / "bdgf" / "__init__.py")
        plugin = package.classFactory(qgis_iface)
        plugin.initGui()
        registry = QgsApplication.processingRegistry()
        try:
            assert {a.id() for a in registry.providerById("bdgf").algorithms()} == {
                "bdgf:classify", "bdgf:accuracy", "bdgf:modelinfo", "bdgf:environment"}
            plugin.show_dock()
            assert plugin.dock is not None
        finally:
            plugin.unload()
        assert registry.providerById("bdgf") is None
    finally:
        for name in [n for n in sys.modules if n == "bdgf" or n.startswith("bdgf.")]:
            del sys.modules[name]
        sys.modules.update(saved)
