"""Shared fixtures. QGIS itself is started by pytest-qgis (see pyproject: qgis_gui_enabled = false)."""
from __future__ import annotations

import pytest

from tests.qgis_tools import import_plugin_package


@pytest.fixture(scope="session")
def qgis_base(tmp_path_factory):
    """A temporary folder holding the plugin link and a throw-away QGIS profile."""
    return tmp_path_factory.mktemp("qgis")


@pytest.fixture()
def bdgf_plugin(qgis_app, qgis_iface, qgis_processing, qgis_base):
    """The plugin loaded through classFactory + initGui, unloaded afterwards."""
    package = import_plugin_package(qgis_base)
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    plugin.unload()


# ---- scene fixtures (tests/fixtures.py) below ----
# Owned by the data engineer: only fixtures in this block.


@pytest.fixture(scope="session")
def fixture_scene(tmp_path_factory):
    """Small aligned scene (48 x 64 px, 24 HSI bands, SAR, DSM, labels): dict of paths."""
    from tests.fixtures import write_fixture_scene

    return write_fixture_scene(tmp_path_factory.mktemp("scene_aligned"), "aligned")


@pytest.fixture(scope="session")
def fixture_scene_mixed(tmp_path_factory):
    """Same scene with SAR (3 m, EPSG:3857) and DSM (1 m, cropped) on their own grids."""
    from tests.fixtures import write_fixture_scene

    return write_fixture_scene(tmp_path_factory.mktemp("scene_mixed"), "mixed")


# ---- end of scene fixtures ----
