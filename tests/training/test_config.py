"""Training config parsing and data preparation errors: every bad input gets a message naming it."""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from training.config import ConfigError, load_config, parse_config
from training.prepare import prepare


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def dump_toml(data: dict) -> str:
    """Tiny TOML writer for the shapes used here (tables, arrays of tables, scalars, lists)."""
    lines = []

    def table(prefix: str, body: dict) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)
                   and not (isinstance(v, list) and v and isinstance(v[0], dict))}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in scalars.items())
        for k, v in body.items():
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                table(name, v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{name}]]")
                    lines.extend(f"{a} = {_toml(b)}" for a, b in item.items())

    table("", data)
    return "\n".join(lines) + "\n"


def scene_config(scene: dict) -> dict:
    data = tomllib.loads(Path(scene["config"]).read_text())
    folder = Path(scene["config"]).parent
    spectral = data["data"]["spectral"]
    if not isinstance(spectral, dict):
        spectral = {"path": spectral}
    data["data"]["spectral"] = {**spectral, "path": str(folder / spectral["path"])}
    for aux in data["data"]["aux"]:
        aux["path"] = str(folder / aux["path"])
    for key in ("train", "test"):
        data["labels"][key] = str(folder / data["labels"][key])
    return data


def write_config(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(dump_toml(data))
    return path


def test_fixture_config_loads(fixture_scene):
    cfg = load_config(fixture_scene["config"])
    assert [layer.role for layer in cfg.layers] == ["spectral", "sar", "lidar"]
    assert cfg.labels.kind == "rasters" and len(cfg.classes) == 6
    prep = prepare(cfg, log=lambda m: None)
    assert prep.x.shape[0] == 24 + 4 + 1 and prep.x.dtype == np.float32
    assert np.abs(prep.x).max() <= 3.0 and (prep.x[:, ~prep.valid] == 0).all()
    assert prep.modalities[0]["wavelengths_nm"][0] == pytest.approx(400.0)
    assert ((prep.train >= 0) & (prep.test >= 0)).sum() == 0


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(bogus=1), "unknown key 'bogus' in the top level; allowed keys: classes, data"),
    (lambda d: d["data"]["aux"][0].update(colour="red"), "unknown key 'colour' in data.aux[0]; allowed keys"),
    (lambda d: d["data"]["aux"][0].update(role="radar"), "data.aux[0].role must be one of sar, lidar, other"),
    (lambda d: d["labels"].update(raster="x.tif"), "[labels] needs exactly one of"),
    (lambda d: d.update(training={"epochz": 3}), "unknown key 'epochz' in [training]; allowed keys:"),
    (lambda d: d.update(training={"epochs": "many"}), "training.epochs must be int"),
    (lambda d: d.update(network={"ddpm": {"widht": 3}}), "unknown key 'widht' in [network.ddpm]"),
    (lambda d: d["data"].update(aux=[]), "[[data.aux]] needs at least one auxiliary modality"),
    (lambda d: d["classes"][0].update(color="green"), "classes[0].color must look like '#rrggbb'"),
])
def test_config_errors(fixture_scene, tmp_path, mutate, message):
    data = scene_config(fixture_scene)
    mutate(data)
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, data))
    assert message in str(err.value)


def test_split_form_needs_split_table(tmp_path):
    data = {"data": {"spectral": "a.tif", "aux": [{"path": "b.tif", "role": "sar"}]},
            "labels": {"raster": "gt.tif"}}
    with pytest.raises(ConfigError, match=r"needs a \[labels.split\] table"):
        parse_config(data, tmp_path)
    data["labels"]["split"] = {"per_class": 5, "ratio": 0.1}
    with pytest.raises(ConfigError, match="exactly one of 'per_class'"):
        parse_config(data, tmp_path)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["data"]["spectral"].update(bands=[1, 30], wavelengths_nm=None) or
     d["data"]["spectral"].pop("wavelengths_nm"),
     "asks for band(s) [30], but hsi.tif has 24 band(s)"),
    (lambda d: d["data"]["aux"][0].update(band_names=["VV", "VH"]),
     "sar: band_names lists 2 entries but 4 band(s) are used"),
    (lambda d: d["classes"].pop(), "label value(s) [6] are not in the [[classes]] table"),
    (lambda d: d["classes"].append({"value": 9, "name": "Snow"}), "class(es) 'Snow' have no training pixels"),
])
def test_preparation_errors(fixture_scene, tmp_path, mutate, message):
    data = scene_config(fixture_scene)
    mutate(data)
    with pytest.raises(ConfigError) as err:
        prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)
    assert message in str(err.value)


def test_all_nodata_layer(fixture_scene, tmp_path):
    from osgeo import gdal

    src = gdal.Open(fixture_scene["dsm"])
    path = tmp_path / "empty_dsm.tif"
    dst = gdal.GetDriverByName("GTiff").CreateCopy(str(path), src)
    band = dst.GetRasterBand(1)
    band.WriteArray(np.full((dst.RasterYSize, dst.RasterXSize), band.GetNoDataValue(), np.float32))
    dst = None
    data = scene_config(fixture_scene)
    data["data"]["aux"][1]["path"] = str(path)
    with pytest.raises(ConfigError, match="dsm: every pixel of empty_dsm.tif is nodata"):
        prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)


def test_default_classes_and_band_subset(fixture_scene, tmp_path):
    data = scene_config(fixture_scene)
    del data["classes"]
    data["data"]["spectral"] = {"path": data["data"]["spectral"]["path"], "bands": [2, 4, 6], "name": "msi"}
    prep = prepare(load_config(write_config(tmp_path, data)), log=lambda m: None)
    assert [c.name for c in prep.classes] == [f"Class {v}" for v in range(1, 7)]
    assert len({c.color for c in prep.classes}) == 6
    assert prep.modalities[0]["name"] == "msi" and prep.modalities[0]["bands"] == 3
    assert prep.modalities[0]["source_bands"] == [2, 4, 6]


def test_pca_matches_engine_normaliser(fixture_scene):
    from engine.normalise import Normaliser
    from training.prepare import read_layers

    cfg = load_config(fixture_scene["config"])
    prep = prepare(cfg, pca_components=5, log=lambda m: None)
    assert prep.modality_channels == [5, 4, 1] and prep.pca["components"] == 5
    arrays, valid, *_ = read_layers(cfg)
    card = {"normalization": prep.normalization, "pca": prep.pca, "modalities": prep.modalities}
    np.testing.assert_allclose(Normaliser.from_card(card).apply(arrays, valid)[0], prep.x, atol=1e-4)


EXAMPLES = Path(__file__).resolve().parents[2] / "training" / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_example_configs_parse(path):
    cfg = parse_config(tomllib.loads(path.read_text()), path.parent, path)
    assert cfg.spectral.path.name and cfg.auxiliary


def test_seed_summary_mean_and_std(tmp_path):
    from training.run import parse_seeds, write_summary

    def result(oa):
        return {"oa": oa, "aa": oa - 0.1, "kappa": oa - 0.2, "class_names": ["A", "B"],
                "classes": [{"producers_accuracy": oa}, {"producers_accuracy": None}]}

    summary = write_summary(tmp_path, {0: result(0.8), 1: result(0.9)})
    assert summary["oa"]["mean"] == pytest.approx(0.85) and summary["oa"]["std"] == pytest.approx(0.0707107)
    assert summary["B"]["mean"] == 0.0 and summary["seeds"] == [0, 1]
    assert "85.00 ± 7.07" in (tmp_path / "summary.md").read_text()
    assert parse_seeds("0, 1,2", 7) == [0, 1, 2] and parse_seeds(None, 7) == [7]
    with pytest.raises(ConfigError, match="distinct integers"):
        parse_seeds("1,1", 0)


def test_ablation_switches_override_the_network():
    from engine.nn.config import BDGFConfig
    from training.run import apply_ablations, parse_args

    args = parse_args(["--config", "c.toml", "--out", "o", "--masking", "off", "--no-guidance", "cnn",
                       "--no-guidance", "transformer", "--branches", "cnn,transformer", "--no-mutual"])
    net = apply_ablations(BDGFConfig.quick([6, 2, 1], 4), args)
    assert net.masking.mode == "off" and net.classifier.branches == ["cnn", "transformer"]
    assert net.classifier.guidance == {"cnn": False, "mamba": True, "transformer": False}
    assert not net.mutual.enabled
    with pytest.raises(ConfigError, match="branches"):
        apply_ablations(BDGFConfig.quick([6, 2, 1], 4), parse_args(["--config", "c", "--out", "o",
                                                                     "--branches", "cnn,gru"]))
