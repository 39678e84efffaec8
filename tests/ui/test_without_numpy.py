"""The plugin loads in a QGIS whose Python lacks numpy (and so onnxruntime and torch), fills its
menus from engine/settings.py and says what to install, instead of failing to load."""
import json
import subprocess
import sys
import textwrap

import pytest

from tests.qgis_tools import REPO, plugins_dir

pytestmark = pytest.mark.qgis

SCRIPT = textwrap.dedent("""
    import json, sys
    for name in [n for n in sys.modules if n == "numpy" or n.startswith("numpy.")]:
        del sys.modules[name]
    sys.modules["numpy"] = None  # `import numpy` now raises ImportError, as in a bare QGIS Python
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, sys.argv[1])
    import bdgf
    from bdgf.ui.provider import BDGFProvider
    from bdgf.ui.runtime_check import missing_message, missing_packages
    provider = BDGFProvider()
    assert QgsApplication.processingRegistry().addProvider(provider)
    classify = QgsApplication.processingRegistry().algorithmById("bdgf:classify")
    devices = classify.parameterDefinition("DEVICE").options()
    print("RESULT " + json.dumps({
        "algorithms": sorted(a.id() for a in provider.algorithms()),
        "devices": devices,
        "missing": missing_packages("onnx"),
        "message": missing_message(missing_packages("onnx"), "onnx"),
        "numpy_loaded": "numpy" in sys.modules and sys.modules["numpy"] is not None,
    }))
    app.exitQgis()
""")


def test_plugin_loads_and_explains_when_numpy_is_missing(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(plugins_dir(tmp_path))], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path),
                               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT "):])
    expected = {"bdgf:classify", "bdgf:accuracy", "bdgf:samplingdesign", "bdgf:modelinfo", "bdgf:environment"}
    assert expected <= set(result["algorithms"])
    assert result["devices"] == ["Automatic (GPU when available)", "GPU (CUDA)", "CPU"]
    assert result["missing"][0] == "numpy" and "onnxruntime" in result["missing"]
    assert "-m pip install" in result["message"] and "numpy" in result["message"]
    assert not result["numpy_loaded"]
