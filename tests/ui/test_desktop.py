"""Tier 3: the first ten minutes in the real QGIS desktop application (/usr/bin/qgis under Xvfb, a fresh
profile with the plugin enabled): open the panel, Load demo, Run, the styled result, a screenshot.

scripts/desktop_demo.py drives it (scripts/desktop_startup.py runs inside QGIS); `make screenshots`
copies the screenshot to docs/img/desktop.png. About 10-20 s on two cores.
"""
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from scripts.desktop_demo import run_desktop
from tests.qgis_tools import REPO

pytestmark = pytest.mark.qgis
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "desktop"  # tests/artifacts


def demo_classes():
    from engine.model.package import ModelPackage

    return ModelPackage(str(REPO / "resources" / "models" / "demo.bdgf")).classes


def test_load_demo_and_run_from_the_dock_in_the_qgis_desktop():
    status = run_desktop(ARTIFACTS, timeout=90)  # DesktopError carries QGIS's status, log and output
    assert status["pickers"] == {"SPECTRAL": "hsi", "SAR": "sar", "LIDAR": "dsm"}, status
    assert {k: v.split(" ")[0].replace("\u00a0", " ") for k, v in status["picker_lines"].items()} == {
        "SPECTRAL": "64 band(s)", "SAR": "4 band(s)", "LIDAR": "1 band(s)"}
    assert (status["card"], status["model"], status["check"]) == ("synthetic", "demo.bdgf", "")
    classes = demo_classes()
    assert status["result"]["renderer"] == "paletted"
    assert status["result"]["classes"] == [[c["value"], c["name"], c["color"]] for c in classes]
    assert status["progress"] == 100 and status["elapsed_s"] < 90
    assert any("Classification done" in m for m in status["messages"]), status["messages"]

    dataset = gdal.Open(str(ARTIFACTS / "desktop.png"))  # the main window as the user sees it
    pixels = dataset.ReadAsArray().astype(np.int64)
    dataset = None
    assert pixels.shape[1:] == (1000, 1400)
    rgb = pixels[0] << 16 | pixels[1] << 8 | pixels[2]
    shown = {c["name"]: int((rgb == int(c["color"][1:], 16)).sum()) for c in classes}
    assert all(count > 2000 for count in shown.values()), shown  # the map is drawn in the card's colours

    report = status["diagnostics"]  # the dock's Diagnostics dialog inside the desktop, copied
    assert status["clipboard_matches"] and report.startswith("BDGF for QGIS: environment report")
    qgis_line = next(line for line in report.splitlines() if line.split(" ", 1)[0] == "QGIS")
    assert qgis_line.split()[1].startswith("3.")
    assert "test session used:      CPUExecutionProvider  (ran, result correct)" in report
    # QGIS's sys.executable is not its Python (here a PATH python3); pip must run QGIS's own Python
    prefix = report.split("(prefix ", 1)[1].split(")", 1)[0]
    pip_python = next(line for line in report.splitlines() if line.startswith("Python for pip"))
    assert pip_python.split()[-1].startswith(prefix.rstrip("/") + "/"), (pip_python, prefix)


def test_a_desktop_run_that_hangs_is_stopped_and_explained(tmp_path):
    from scripts.desktop_demo import DesktopError

    with pytest.raises(DesktopError) as failure:
        run_desktop(tmp_path, timeout=2)  # QGIS start-up alone takes longer
    message = str(failure.value)
    assert message.startswith("QGIS did not finish in time") and "--- QGIS output" in message


def test_load_demo_train_then_run_in_the_qgis_desktop():
    """Load demo -> Train (quick, test-size settings) on the demo's styled label polygons -> the new model
    is the panel's -> Run -> the map in the labels' colours; desktop_train.png is the screenshot."""
    from tests.ui.test_train import TINY

    settings = TINY + "; epochs=1; batch_size=128; eval_stride=4"  # many more labels than the fixture
    status = run_desktop(ARTIFACTS / "train", timeout=240, scenario="train", train_settings=settings)
    assert (status["train_labels"], status["train_field"]) == ("labels", "class"), status
    assert status["trained_model"].endswith("trained.bdgf") and status["trained_card"] == "trained"
    names = [c[1] for c in status["trained_classes"]]
    assert sorted(names) == sorted(c["name"] for c in demo_classes())  # the text field's values
    colours = {c["name"]: c["color"] for c in demo_classes()}  # labels.qml uses the demo's colours
    assert all(colour == colours[name] for _value, name, colour in status["trained_classes"])
    assert status["result"]["renderer"] == "paletted" and status["progress"] == 100
    assert 0 < status["train_to_map_s"] < 240
    assert (ARTIFACTS / "train" / "desktop_train.png").is_file()
