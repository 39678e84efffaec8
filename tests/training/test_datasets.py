"""training.datasets: real label files (shared data folder) and full imports of fake benchmark folders."""
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from scipy.io import savemat

from training import datasets as ds
from training.datasets import DatasetError, class_counts, import_dataset, load_labels
from training.datasets.__main__ import main as datasets_main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} absent")
AUG_TRAIN = (146, 264, 21, 248, 52, 7, 23)
AUG_TEST = (13361, 30065, 3830, 26609, 523, 1638, 1507)


@needs_data
def test_augsburg_real_split_counts():
    lab = load_labels("augsburg", DATA / "augsburg")
    assert set(lab) == {"train", "test"}
    assert lab["test"].dtype == np.uint8 and lab["test"].shape == (332, 485)  # TestImage is float32
    assert tuple(class_counts(lab["train"], 7)) == AUG_TRAIN
    assert tuple(class_counts(lab["test"], 7)) == AUG_TEST
    assert (lab["train"] > 0).sum() == 761 and (lab["test"] > 0).sum() == 77533
    ds.check_counts("augsburg", lab, log=lambda m: None)


@needs_data
def test_houston_real_label_tifs():
    lab = load_labels("houston2013", DATA / "houston2013")
    assert (lab["train"] > 0).sum() == 2832 and (lab["test"] > 0).sum() == 12197
    for arr in lab.values():
        assert set(np.unique(arr)) == set(range(16))
    assert len(ds.DATASETS["houston2013"].classes) == 15
    ds.check_counts("houston2013", lab, log=lambda m: None)


@needs_data
def test_trento_real_allgrd_counts():
    lab = load_labels("trento", DATA / "trento")
    assert set(lab) == {"raster"}
    assert tuple(class_counts(lab["raster"], 6)) == (4034, 2903, 479, 9123, 10501, 3174)
    ds.check_counts("trento", lab, log=lambda m: None)


@needs_data
def test_known_hashes_of_shared_files():
    for (name, fname), digest in ds.SHA256.items():
        path = DATA / ("houston2013" if name == "houston2013" else name) / fname
        if path.is_file():
            assert ds.sha256_file(path) == digest, fname


@needs_data
def test_label_only_folder_is_refused(tmp_path, capsys):
    with pytest.raises(DatasetError, match="data_HS_LR.mat"):
        import_dataset("augsburg", DATA / "augsburg", tmp_path / "out", log=lambda m: None)
    rc = datasets_main(["import", "trento", "--src", str(DATA / "trento"), "--dst", str(tmp_path / "t")])
    assert rc == 2 and "Italy_hsi.mat" in capsys.readouterr().err
    assert not (tmp_path / "t" / "config.toml").exists()


def _fake_labels(rng, shape, counts, forbid=None):
    """Label image with exactly `counts` pixels per class, avoiding `forbid` pixels."""
    lab = np.zeros(shape, np.uint8)
    free = np.flatnonzero(forbid is None or ~forbid.ravel()) if forbid is not None else np.arange(lab.size)
    idx = rng.permutation(free)
    start = 0
    for k, n in enumerate(counts, 1):
        lab.flat[idx[start:start + n]] = k
        start += n
    return lab


def _fake_augsburg(folder: Path, with_dsm=True, bands=5):
    rng = np.random.default_rng(0)
    h, w = 332, 485
    folder.mkdir(parents=True)
    train = _fake_labels(rng, (h, w), AUG_TRAIN)
    test = _fake_labels(rng, (h, w), AUG_TEST, forbid=train > 0)
    savemat(folder / "data_HS_LR.mat", {"data_HS_LR": rng.random((h, w, bands)).astype(np.float32)})
    savemat(folder / "data_SAR_HR.mat", {"data_SAR_HR": rng.random((h, w, 4)).astype(np.float32)})
    if with_dsm:
        savemat(folder / "data_DSM.mat", {"data_DSM": rng.random((h, w)) * 30})
    savemat(folder / "TrainImage.mat", {"TrainImage": train})
    savemat(folder / "TestImage.mat", {"TestImage": test.astype(np.float32)})
    return train, test


def test_full_import_fake_augsburg(tmp_path):
    train, test = _fake_augsburg(tmp_path / "src" / "nested")
    out = tmp_path / "out"
    logs = []
    paths = import_dataset("augsburg", tmp_path / "src", out, verify_hash=False, log=logs.append)
    for key, bands in (("hsi", 5), ("sar", 4), ("dsm", 1), ("train", 1), ("test", 1)):
        d = gdal.Open(paths[key])
        assert d.RasterCount == bands and (d.RasterXSize, d.RasterYSize) == (485, 332)
        assert d.GetGeoTransform()[1] == 30.0
    np.testing.assert_array_equal(gdal.Open(paths["train"]).ReadAsArray(), train)
    np.testing.assert_array_equal(gdal.Open(paths["test"]).ReadAsArray(), test)
    hsi = gdal.Open(paths["hsi"])
    assert hsi.GetRasterBand(1).GetMetadataItem("wavelength") == "400.00"
    cfg = tomllib.loads(Path(paths["config"]).read_text())
    assert cfg["data"]["spectral"]["path"] == "hsi.tif"
    assert [(a["path"], a["role"]) for a in cfg["data"]["aux"]] == [("sar.tif", "sar"), ("dsm.tif", "lidar")]
    assert cfg["labels"] == {"train": "train.tif", "test": "test.tif"}
    assert [c["name"] for c in cfg["classes"]] == list(ds.AUGSBURG_NAMES)
    assert all(c["color"].startswith("#") and len(c["color"]) == 7 for c in cfg["classes"])
    _check_with_training_config(paths["config"], "rasters")


def test_hash_and_count_checks(tmp_path):
    _fake_augsburg(tmp_path / "src", with_dsm=False)
    with pytest.raises(DatasetError, match="sha256"):  # fake TrainImage.mat differs from the release
        import_dataset("augsburg", tmp_path / "src", tmp_path / "o1", log=lambda m: None)
    logs = []  # the OUC repack has no DSM: imported without it
    paths = import_dataset("augsburg", tmp_path / "src", tmp_path / "o2", verify_hash=False, log=logs.append)
    assert "dsm" not in paths and any("data_DSM.mat" in m for m in logs)
    savemat(tmp_path / "src" / "TrainImage.mat", {"TrainImage": np.zeros((332, 485), np.uint8)})
    with pytest.raises(DatasetError, match="146/264/21"):
        import_dataset("augsburg", tmp_path / "src", tmp_path / "o3", verify_hash=False, log=lambda m: None)


def test_muufl_struct_and_split_rule(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(-1, 12, (30, 20)).astype(np.int16)  # -1 = unlabelled
    lidar = np.empty((1, 2), dtype=object)
    lidar[0, 0] = {"z": rng.random((30, 20, 2))}
    lidar[0, 1] = {"z": np.zeros((30, 20, 2))}
    hsi = {"Data": rng.random((30, 20, 64)), "Lidar": lidar, "sceneLabels": {"labels": labels}}
    (tmp_path / "src").mkdir()
    savemat(tmp_path / "src" / "muufl_gulfport_campus_1_hsi_220_label.mat", {"hsi": hsi})
    paths = import_dataset("muufl", tmp_path / "src", tmp_path / "out", log=lambda m: None)
    lab = gdal.Open(paths["labels"]).ReadAsArray()
    np.testing.assert_array_equal(lab, np.clip(labels, 0, None))
    np.testing.assert_allclose(gdal.Open(paths["lidar"]).ReadAsArray(), np.moveaxis(lidar[0, 0]["z"], -1, 0),
                               rtol=1e-6)
    cfg = tomllib.loads(Path(paths["config"]).read_text())
    assert cfg["labels"] == {"raster": "labels.tif", "split": {"per_class": 100, "seed": 0}}
    assert len(cfg["classes"]) == 11
    _check_with_training_config(paths["config"], "raster")


def _check_with_training_config(path, kind):
    config = pytest.importorskip("training.config")
    run = config.load_config(path)
    assert run.labels.kind == kind and all(layer.path.is_file() for layer in run.layers)


@needs_data
def test_trento_allgrd_import_draws_the_common_split(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "allgrd.mat").symlink_to(DATA / "trento" / "allgrd.mat")  # real labels, read in place
    rng = np.random.default_rng(0)
    savemat(src / "Italy_hsi.mat", {"data": rng.random((166, 600, 4)).astype(np.float32)})
    savemat(src / "Italy_lidar.mat", {"data": rng.random((166, 600, 2)).astype(np.float32)})
    paths = import_dataset("trento", src, tmp_path / "out", verify_hash=False, log=lambda m: None)
    train, test, full = (gdal.Open(paths[k]).ReadAsArray() for k in ("train", "test", "labels"))
    assert tuple(class_counts(train, 6)) == (129, 125, 105, 154, 184, 122)
    assert tuple(class_counts(test, 6)) == (3905, 2778, 374, 8969, 10317, 3052)
    assert not ((train > 0) & (test > 0)).any() and np.array_equal(np.maximum(train, test), full)
    assert gdal.Open(paths["lidar"]).RasterCount == 2
    _check_with_training_config(paths["config"], "rasters")


def test_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="TrainImage.mat"):
        load_labels("berlin", tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset"):
        import_dataset("indian_pines", tmp_path, tmp_path / "o")
    with pytest.raises(DatasetError, match="not integers"):
        ds.to_labels(np.array([[0.5, 1.0], [0.0, 2.0]]))
    savemat(tmp_path / "two.mat", {"a": np.zeros(3), "b": np.ones(3)})
    with pytest.raises(DatasetError, match=r"\['a', 'b'\]"):
        ds.read_mat(tmp_path / "two.mat")


def _write_v73_mat(path, name: str, array: np.ndarray) -> None:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 behind a 512-byte MATLAB header, axes reversed."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset(name, data=np.ascontiguousarray(array.T))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as fh:
        fh.write(header)


def test_v73_mat_is_read_through_h5py(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    _write_v73_mat(tmp_path / "v73.mat", "data", data)
    np.testing.assert_array_equal(ds.read_mat(tmp_path / "v73.mat", "data"), data)
    np.testing.assert_array_equal(ds.read_mat(tmp_path / "v73.mat"), data)  # the only variable


def test_v73_mat_without_h5py_names_the_missing_package(tmp_path, monkeypatch):
    _write_v73_mat(tmp_path / "v73.mat", "data", np.zeros((2, 2), np.float32))
    monkeypatch.setitem(sys.modules, "h5py", None)  # as in a Python without h5py
    with pytest.raises(DatasetError, match="h5py"):
        ds.read_mat(tmp_path / "v73.mat", "data")
