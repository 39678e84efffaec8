"""training.synthetic and the tests/fixtures scenes: determinism, physics, separability, GeoTIFFs."""
import hashlib
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from scipy import ndimage

from tests.fixtures import FIXTURE_CLASSES, write_fixture_scene
from training import synthetic as syn
from training.synthetic import make_scene, write_scene
from training.synthetic.__main__ import main as synthetic_main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LAYERS = ("hsi", "sar", "dsm", "labels", "train", "test")


@pytest.fixture(scope="module")
def scene():
    return make_scene(128, 160, seed=0)


def _read(path):
    ds = gdal.Open(str(path))
    return ds, ds.ReadAsArray()


def _lda_accuracy(xa, xb, seed=0):
    """Held-out accuracy of a two-class LDA (balanced classes): 0.5 = chance."""
    rng = np.random.default_rng(seed)
    n = min(len(xa), len(xb), 1500)
    xa, xb = xa[rng.permutation(len(xa))[:n]], xb[rng.permutation(len(xb))[:n]]
    h = n // 2
    mu0, mu1 = xa[:h].mean(0), xb[:h].mean(0)
    resid = np.vstack([xa[:h] - mu0, xb[:h] - mu1])
    cov = np.atleast_2d(np.cov(resid.T))
    cov += 1e-3 * np.trace(cov) / len(cov) * np.eye(len(cov))
    w = np.linalg.solve(cov, mu1 - mu0)
    mid = (mu0 + mu1) / 2
    return 0.5 * (((xa[h:] - mid) @ w < 0).mean() + ((xb[h:] - mid) @ w > 0).mean())


def _pair_features(sc, a, b, sunlit=False):
    ok = (sc.purity > 0.99) & ((sc.info["sun_shadow"] == 0) if sunlit else True)
    ma, mb = (sc.labels == a) & ok, (sc.labels == b) & ok
    aux = np.vstack([10 * np.log10(sc.sar), sc.ndsm])
    return {name: (x[:, ma].T, x[:, mb].T) for name, x in (("hsi", sc.hsi), ("aux", aux))}


def test_generation_fast_and_shapes(scene):
    t = time.perf_counter()
    make_scene(128, 160, seed=1)
    assert time.perf_counter() - t < 5.0
    assert scene.hsi.shape == (64, 128, 160) and scene.hsi.dtype == np.float32
    assert scene.sar.shape == (4, 128, 160) and scene.ndsm.shape == (1, 128, 160)
    assert scene.labels.dtype == np.uint8 and set(np.unique(scene.labels)) == set(range(1, 9))
    assert scene.wavelengths[0] == 400 and scene.wavelengths[-1] == 2500
    assert (scene.sar > 0).all() and np.isfinite(scene.hsi).all()
    assert 0 <= scene.hsi.min() and scene.hsi.max() < 1.0
    assert ((scene.purity > 0) & (scene.purity < 1)).any()  # mixed pixels exist


def test_deterministic():
    a, b, c = make_scene(32, 40, seed=3), make_scene(32, 40, seed=3), make_scene(32, 40, seed=4)
    for k in ("hsi", "sar", "ndsm", "labels", "purity"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert not np.array_equal(a.hsi, c.hsi)


def test_written_bytes_deterministic(tmp_path):
    p1 = write_fixture_scene(tmp_path / "a", "mixed", seed=5)
    p2 = write_fixture_scene(tmp_path / "b", "mixed", seed=5)
    for k in LAYERS:
        h1, h2 = (hashlib.sha256(Path(p[k]).read_bytes()).hexdigest() for p in (p1, p2))
        assert h1 == h2, k


def test_spectral_shapes(scene):
    wl = scene.wavelengths

    def mean_spec(value):
        return scene.hsi[:, (scene.labels == value) & (scene.purity > 0.99)].mean(1)

    def at(spec, nm):
        return spec[np.argmin(np.abs(wl - nm))]

    veg = mean_spec(2)
    assert at(veg, 850) > 4 * at(veg, 670)  # red edge
    for dip, shoulder in ((1450, 1250), (1940, 1650), (1200, 1080)):
        assert at(veg, dip) < at(veg, shoulder), dip
    water = mean_spec(8)
    assert at(water, 1000) < 0.02 < at(water, 480)
    soil = mean_spec(6)
    assert at(soil, 1000) > 1.5 * at(soil, 450)  # soil slope


@pytest.mark.parametrize("pair", syn.AUX_ONLY_PAIRS)
def test_aux_only_pairs(scene, pair):
    f = _pair_features(scene, *pair)
    # sunlit pixels: class means close relative to the within-class spread (shadows fall on the
    # ground, not on roofs, so over all pixels paved ground is darker on average, as in real scenes)
    xa, xb = _pair_features(scene, *pair, sunlit=True)["hsi"]
    spread = np.sqrt((xa.var(0).sum() + xb.var(0).sum()) / 2)
    assert np.linalg.norm(xa.mean(0) - xb.mean(0)) < 0.6 * spread
    assert _lda_accuracy(*f["hsi"]) < 0.75
    assert _lda_accuracy(*f["aux"]) > 0.95


@pytest.mark.parametrize("pair", syn.SPECTRAL_ONLY_PAIRS)
def test_spectral_only_pairs(scene, pair):
    f = _pair_features(scene, *pair)
    assert _lda_accuracy(*f["hsi"]) > 0.97
    assert _lda_accuracy(*f["aux"]) < 0.7


def test_sar_double_bounce_and_heights(scene):
    lab, hh = scene.labels, scene.sar[2]
    west_of_roof = (lab == 4) & np.pad(lab[:, 1:] == 3, ((0, 0), (0, 1)))
    paved = (lab == 4) & (scene.purity > 0.99)
    assert hh[west_of_roof].mean() > 3 * hh[paved].mean()
    assert np.median(scene.ndsm[0][lab == 3]) > 3.5 > np.median(scene.ndsm[0][lab == 4])
    assert np.median(scene.ndsm[0][lab == 1]) > 5 > 1 > np.median(scene.ndsm[0][lab == 2])


@pytest.mark.parametrize("fixture_name", ["fixture_scene", "fixture_scene_mixed"])
def test_fixture_geotiffs(request, fixture_name):
    p = request.getfixturevalue(fixture_name)
    bands = {"hsi": 24, "sar": 4, "dsm": 1, "labels": 1, "train": 1, "test": 1}
    for k in LAYERS:
        ds, arr = _read(p[k])
        assert ds.RasterCount == bands[k]
        assert ds.GetSpatialRef() is not None and ds.GetSpatialRef().IsProjected()
        assert ds.GetGeoTransform() != (0, 1, 0, 0, 0, 1)
        assert ds.GetRasterBand(1).GetNoDataValue() is not None
    _, hsi = _read(p["hsi"])
    _, sar = _read(p["sar"])
    _, dsm = _read(p["dsm"])
    assert (hsi == -9999).all(0).any() and np.isnan(sar).any() and (dsm == -9999).any()
    _, lab = _read(p["labels"])
    assert set(np.unique(lab)) == set(range(len(FIXTURE_CLASSES) + 1))
    assert [c["name"] for c in p["classes"]] == list(FIXTURE_CLASSES)
    info = gdal.Info(p["labels"])  # (GetCategoryNames returns None in the GDAL 3.6 bindings)
    assert "1: Trees" in info and "Color Table" in info


def test_train_test_disjoint(fixture_scene):
    _, train = _read(fixture_scene["train"])
    _, test = _read(fixture_scene["test"])
    _, lab = _read(fixture_scene["labels"])
    assert not ((train > 0) & (test > 0)).any()
    assert not (ndimage.binary_dilation(train > 0) & (test > 0)).any()  # 1-px guard
    for arr in (train, test):
        assert ((arr == lab) | (arr == 0)).all()
        assert set(np.unique(arr)) == set(np.unique(lab))  # every class in both
    assert (train > 0).sum() < 0.15 * (lab > 0).sum()


def test_mixed_grids_differ(fixture_scene, fixture_scene_mixed):
    ref, _ = _read(fixture_scene_mixed["hsi"])
    sar, _ = _read(fixture_scene_mixed["sar"])
    dsm, _ = _read(fixture_scene_mixed["dsm"])
    gt_ref, gt_dsm = ref.GetGeoTransform(), dsm.GetGeoTransform()
    assert not sar.GetSpatialRef().IsSame(ref.GetSpatialRef())
    assert dsm.GetSpatialRef().IsSame(ref.GetSpatialRef())
    assert gt_dsm[1] == gt_ref[1] / 2 and gt_dsm[0] != gt_ref[0]
    assert (dsm.RasterXSize, dsm.RasterYSize) != (2 * ref.RasterXSize, 2 * ref.RasterYSize)
    assert sar.RasterXSize < ref.RasterXSize
    for k in ("sar", "dsm"):  # the aligned variant keeps one grid
        ds, _ = _read(fixture_scene[k])
        assert ds.GetGeoTransform() == gt_ref and (ds.RasterXSize, ds.RasterYSize) == (64, 48)


def _warp_to(path, ref):
    gt, w, h = ref.GetGeoTransform(), ref.RasterXSize, ref.RasterYSize
    bounds = (gt[0], gt[3] + h * gt[5], gt[0] + w * gt[1], gt[3])
    out = gdal.Warp("", str(path), format="MEM", outputBounds=bounds, xRes=gt[1], yRes=-gt[5],
                    dstSRS=ref.GetProjection(), resampleAlg="average", dstNodata=np.nan)
    a = out.ReadAsArray().astype(float).reshape(-1, h, w)
    a[a == -9999] = np.nan
    return a


def test_mixed_layers_coregistered(fixture_scene, fixture_scene_mixed):
    """Each mixed layer, warped back onto the HSI grid, matches the aligned layer."""
    ref = gdal.Open(fixture_scene["hsi"])
    for key, min_r in (("dsm", 0.98), ("sar", 0.7)):
        a, b = _warp_to(fixture_scene[key], ref), _warp_to(fixture_scene_mixed[key], ref)
        if key == "sar":
            a, b = np.log(a), np.log(b)
        ok = np.isfinite(a) & np.isfinite(b)
        assert ok.mean() > 0.7
        assert np.corrcoef(a[ok], b[ok])[0, 1] > min_r, key


def test_config_toml(fixture_scene):
    cfg = tomllib.loads(Path(fixture_scene["config"]).read_text())
    base = Path(fixture_scene["config"]).parent
    assert (base / cfg["data"]["spectral"]["path"]).is_file()
    assert len(cfg["data"]["spectral"]["wavelengths_nm"]) == 24
    assert [a["role"] for a in cfg["data"]["aux"]] == ["sar", "lidar"]
    assert all((base / a["path"]).is_file() for a in cfg["data"]["aux"])
    assert (base / cfg["labels"]["train"]).is_file() and (base / cfg["labels"]["test"]).is_file()
    assert [c["value"] for c in cfg["classes"]] == list(range(1, 7))


def test_config_loads_with_training_config(fixture_scene_mixed):
    config = pytest.importorskip("training.config")
    run = config.load_config(fixture_scene_mixed["config"])
    assert [layer.role for layer in run.layers] == ["spectral", "sar", "lidar"]
    assert all(layer.path.is_file() for layer in run.layers)
    assert run.labels.kind == "rasters" and len(run.classes) == 6


def test_cli_and_other_crs(tmp_path):
    rc = synthetic_main(["--out", str(tmp_path), "--size", "24x32", "--bands", "60", "--grids", "mixed",
                         "--other-crs", "EPSG:4326", "--seed", "2"])
    assert rc == 0
    ds, _ = _read(tmp_path / "sar.tif")
    assert ds.GetSpatialRef().IsGeographic()
    assert gdal.Open(str(tmp_path / "hsi.tif")).RasterCount == 60


@pytest.mark.skipif(not (DATA / "trento" / "allgrd.mat").is_file(), reason="shared Trento files absent")
def test_semi_real_trento(tmp_path):
    from scipy.io import loadmat

    sc = syn.make_semi_real_trento(DATA, seed=0, n_bands=32)
    gt = loadmat(str(DATA / "trento" / "allgrd.mat"))["mask_test"]
    lidar = loadmat(str(DATA / "trento" / "Italy_lidar.mat"))["data"]
    np.testing.assert_array_equal(sc.labels, gt)
    np.testing.assert_allclose(sc.ndsm[0], np.clip(lidar[..., 0], 0, None))
    assert sc.hsi.shape == (32, 166, 600) and [c["name"] for c in sc.classes][0] == "Apple trees"
    # buildings light up HH through double bounce / roofs; roads stay dark
    assert np.median(sc.sar[2][gt == 2]) > 3 * np.median(sc.sar[2][gt == 6])
    paths = write_scene(sc, tmp_path, "same", train_per_class=40)
    _, train = _read(paths["train"])
    assert set(np.unique(train)) == set(range(7))
