"""engine/raster/guard.py, the one guard of every writer, and the entry points that lost files without it
(issue 26, case 1): outputs over the files a dataset reads (a VRT's source, an ENVI file's .hdr), over a
sidecar of another output, and the accuracy reports over the map or the reference. Real GDAL files."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from engine.errors import BDGFError
from engine.raster.guard import check_outputs, dataset_files, raster_sidecars

REPO = Path(__file__).resolve().parents[3]


def _engine(*args):
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _envi(path):
    ds = gdal.GetDriverByName("ENVI").Create(str(path), 4, 3, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((500000.0, 2.0, 0.0, 5300000.0, 0.0, -2.0))
    ds.GetRasterBand(1).WriteArray(np.ones((3, 4), np.float32))
    ds = None
    return str(path)


def test_dataset_files_lists_what_gdal_reads(tmp_path):
    envi = _envi(tmp_path / "hsi.img")
    assert set(dataset_files(envi)) >= {envi, str(tmp_path / "hsi.hdr")}
    vrt = str(tmp_path / "mosaic.vrt")
    gdal.BuildVRT(vrt, [envi]).FlushCache()
    assert envi in dataset_files(vrt)
    assert dataset_files(str(tmp_path / "model.bdgf")) == [str(tmp_path / "model.bdgf")]  # not GDAL's


def test_the_guard_protects_what_inputs_read_the_model_and_the_other_outputs(tmp_path):
    envi = _envi(tmp_path / "hsi.img")
    vrt = str(tmp_path / "hsi.vrt")
    gdal.BuildVRT(vrt, [envi]).FlushCache()
    cases = {
        "behind the VRT": ({"class raster": envi}, {"hsi": vrt}, "is the hsi"),
        "the ENVI header": ({"class raster": str(tmp_path / "hsi.hdr")}, {"hsi": envi}, "hsi.hdr"),
        "the model": ({"report": str(tmp_path / "m.bdgf")}, {}, "is the model package"),
        "a sidecar": ({"class raster": str(tmp_path / "c.tif"), "confidence": str(tmp_path / "c.qml")}, {},
                      "write the same file"),
    }
    for outputs, inputs, expected in cases.values():
        with pytest.raises(BDGFError, match=expected):
            check_outputs(outputs, inputs=inputs, protected={"model package": str(tmp_path / "m.bdgf")},
                          sidecars=raster_sidecars)
    with pytest.raises(BDGFError, match="does not exist"):
        check_outputs({"report": str(tmp_path / "missing" / "a.html")})
    with pytest.raises(BDGFError, match="need up to .* are free in"):
        check_outputs({"report": str(tmp_path / "a.html")}, sizes={"report": 1 << 62})
    check_outputs({"report": str(tmp_path / "a.html")}, inputs={"hsi": vrt})  # a fine output passes


def test_classify_refuses_the_file_behind_a_vrt_input_and_a_confidence_over_the_class_maps_style(
        engine_model, fixture_scene, tmp_path):
    hsi = shutil.copyfile(fixture_scene["hsi"], tmp_path / "hsi_data.tif")
    vrt = tmp_path / "hsi.vrt"
    gdal.BuildVRT(str(vrt), [str(hsi)]).FlushCache()
    before = Path(hsi).read_bytes()
    aux = ["--aux", fixture_scene["sar"], "--aux", fixture_scene["dsm"]]
    proc = _engine("classify", "--spectral", vrt, *aux, "--model", engine_model, "--out", hsi,
                   "--device", "cpu")
    assert proc.returncode == 2 and "would destroy that file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert Path(hsi).read_bytes() == before
    proc = _engine("classify", "--spectral", fixture_scene["hsi"], *aux, "--model", engine_model, "--out",
                   tmp_path / "map.tif", "--confidence", tmp_path / "map.qml", "--device", "cpu")
    assert proc.returncode == 2 and "write the same file" in proc.stderr
    assert not (tmp_path / "map.tif").exists() and not (tmp_path / "map.qml").exists()


def test_accuracy_reports_never_replace_the_map_or_the_reference(fixture_scene, tmp_path):
    reference = shutil.copyfile(fixture_scene["test"], tmp_path / "reference.tif")
    class_map = shutil.copyfile(fixture_scene["labels"], tmp_path / "map.tif")
    before = {p: Path(p).read_bytes() for p in (reference, class_map)}
    for option, victim in (("--html", reference), ("--csv", class_map)):
        proc = _engine("accuracy", "--map", class_map, "--reference", reference, option, victim)
        assert proc.returncode == 2 and "would destroy that file" in proc.stderr, proc.stderr
    assert {p: Path(p).read_bytes() for p in before} == before


def test_accuracy_refuses_a_missing_folder_or_a_folder_as_output_before_any_work(fixture_scene, tmp_path):
    """Issue 26, case 3: these failed with a traceback after the whole assessment."""
    for target, expected in ((tmp_path / "missing" / "a.html", "Output folder does not exist"),
                             (tmp_path, "is an existing folder")):
        proc = _engine("accuracy", "--map", fixture_scene["labels"], "--reference", fixture_scene["test"],
                       "--html", target)
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
        assert "OA" not in proc.stdout  # refused before the assessment
