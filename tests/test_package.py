"""Model package `.bdgf`: round trip, tamper detection, card validation messages."""
import copy
import json
import os
import zipfile

import numpy as np
import pytest

from engine.errors import ModelPackageError
from engine.model.card import format_card, validate_card
from engine.model.package import ModelPackage, write_package
from tests.test_qgis_helpers import tiny_graphs


def make_card():
    return {
        "schema": "bdgf-model-card", "schema_version": 1,
        "name": "Test model", "created": "2026-11-26T12:00:00Z", "description": "tiny",
        "classes": [
            {"value": 1, "name": "Forest", "color": "#1b7837"},
            {"value": 2, "name": "Water", "color": "#2166AC"},
        ],
        "modalities": [
            {"name": "hsi", "role": "spectral", "bands": 3, "band_names": ["b1", "b2", "b3"],
             "wavelengths_nm": [450.0, 550.0, 650.0], "units": "reflectance"},
            {"name": "dsm", "role": "lidar", "bands": 1},
        ],
        "normalization": {"low": [[0.0, 0.0, 0.0], [0.0]], "high": [[1.0, 1.0, 1.0], [30.0]]},
        "pca": None,
        "patch_size": 11, "tile_size": 128, "halo": 32, "stride": 4,
        "diffusion": {"timesteps": [50, 150], "noise_seed": 20240917},
        "network": {}, "training": {},
        "metrics": {"oa": 0.9, "aa": 0.85, "kappa": np.float32(0.8)},
        "software": {"bdgf": "0.1.0"},
    }


_GRAPHS = tiny_graphs(make_card())  # real graphs: the package checks their shapes against the card
ONNX = {"features": _GRAPHS["features"], "classifier.onnx": _GRAPHS["classifier"]}
TENSORS = {
    "ddpm.w": np.arange(6, dtype=np.float32).reshape(2, 3),
    "classifier.b": np.array([1, 2, 3], dtype=np.int64),
}


@pytest.fixture
def package_path(tmp_path):
    path = tmp_path / "model.bdgf"
    write_package(path, make_card(), ONNX, TENSORS)
    return path


def rewrite_member(src, dst, member, data):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, data if name == member else zin.read(name))


def test_round_trip(tmp_path):
    card = make_card()
    path = tmp_path / "model.bdgf"
    digest = write_package(path, card, ONNX, TENSORS)
    assert digest.startswith("sha256:") and card["content_hash"] == digest
    assert sorted(os.listdir(tmp_path)) == ["model.bdgf"]  # no temp file left

    pkg = ModelPackage(path)
    assert pkg.content_hash == digest
    assert pkg.card["metrics"]["kappa"] == pytest.approx(0.8)
    assert pkg.onnx("features") == ONNX["features"]
    assert pkg.onnx("classifier.onnx") == ONNX["classifier.onnx"]
    assert [c["name"] for c in pkg.classes] == ["Forest", "Water"]
    assert pkg.class_values() == [1, 2]
    assert pkg.expected_bands() == {"hsi": 3, "dsm": 1}
    assert pkg.modality_channels() == [3, 1]
    ddpm = pkg.tensors("ddpm.")
    assert list(ddpm) == ["w"] and ddpm["w"].dtype == np.float32
    np.testing.assert_array_equal(ddpm["w"], TENSORS["ddpm.w"])
    assert set(pkg.tensors()) == {"ddpm.w", "classifier.b"}
    assert set(pkg.tensors("classifier.", strip=False)) == {"classifier.b"}


def test_same_inputs_give_same_bytes(tmp_path):
    write_package(tmp_path / "a.bdgf", make_card(), ONNX, TENSORS)
    write_package(tmp_path / "b.bdgf", make_card(), ONNX, TENSORS)
    assert (tmp_path / "a.bdgf").read_bytes() == (tmp_path / "b.bdgf").read_bytes()


@pytest.mark.parametrize("member", ["features.onnx", "classifier.onnx", "weights.safetensors"])
def test_tampered_member_detected(package_path, tmp_path, member):
    with zipfile.ZipFile(package_path) as zf:
        data = bytearray(zf.read(member))
    data[-1] ^= 0xFF
    bad = tmp_path / "bad.bdgf"
    rewrite_member(package_path, bad, member, bytes(data))
    with pytest.raises(ModelPackageError, match="content hash mismatch"):
        ModelPackage(bad)


def test_tampered_card_detected(package_path, tmp_path):
    with zipfile.ZipFile(package_path) as zf:
        card = json.loads(zf.read("card.json"))
    card["classes"][0]["name"] = "Grassland"
    bad = tmp_path / "bad.bdgf"
    rewrite_member(package_path, bad, "card.json", json.dumps(card).encode())
    with pytest.raises(ModelPackageError, match="modified or damaged"):
        ModelPackage(bad)


def test_card_reformatting_keeps_hash(package_path, tmp_path):
    with zipfile.ZipFile(package_path) as zf:
        card = json.loads(zf.read("card.json"))
    other = tmp_path / "other.bdgf"
    rewrite_member(package_path, other, "card.json", json.dumps(card, indent=7).encode())
    assert ModelPackage(other).content_hash == card["content_hash"]


def test_not_a_zip(tmp_path):
    path = tmp_path / "model.bdgf"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(ModelPackageError, match="expected a zip archive"):
        ModelPackage(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelPackageError, match="not found"):
        ModelPackage(tmp_path / "nope.bdgf")


def test_missing_member(package_path, tmp_path):
    bad = tmp_path / "bad.bdgf"
    with zipfile.ZipFile(package_path) as zin, zipfile.ZipFile(bad, "w") as zout:
        for name in zin.namelist():
            if name != "classifier.onnx":
                zout.writestr(name, zin.read(name))
    with pytest.raises(ModelPackageError, match=r"missing member\(s\) classifier\.onnx"):
        ModelPackage(bad)


def test_missing_hash(package_path, tmp_path):
    with zipfile.ZipFile(package_path) as zf:
        card = json.loads(zf.read("card.json"))
    del card["content_hash"]
    bad = tmp_path / "bad.bdgf"
    rewrite_member(package_path, bad, "card.json", json.dumps(card).encode())
    with pytest.raises(ModelPackageError, match="no valid content_hash"):
        ModelPackage(bad)


def test_card_not_json(package_path, tmp_path):
    bad = tmp_path / "bad.bdgf"
    rewrite_member(package_path, bad, "card.json", b"{not json")
    with pytest.raises(ModelPackageError, match="not valid JSON"):
        ModelPackage(bad)


def test_unknown_schema_version_in_package(package_path, tmp_path):
    with zipfile.ZipFile(package_path) as zf:
        card = json.loads(zf.read("card.json"))
    card["schema_version"] = 2
    bad = tmp_path / "bad.bdgf"
    rewrite_member(package_path, bad, "card.json", json.dumps(card).encode())
    with pytest.raises(ModelPackageError, match="unsupported schema_version 2"):
        ModelPackage(bad)


def _set(path, value):
    def edit(card):
        target = card
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return edit


DELETE = object()

BAD_CARDS = [
    (_set(("schema",), "other"), r"unknown schema 'other', expected 'bdgf-model-card'"),
    (_set(("schema_version",), 3), r"unsupported schema_version 3"),
    (_set(("schema_version",), "1"), r"unsupported schema_version '1'"),
    (_set(("classes",), DELETE), r"missing required key\(s\): classes"),
    (_set(("patch_size",), DELETE), r"missing required key\(s\): patch_size"),
    (_set(("name",), ""), r"'name' must be a non-empty text"),
    (_set(("classes",), []), r"'classes' must be a non-empty list"),
    (_set(("classes", 1, "value"), DELETE), r"classes\[1\]: missing value"),
    (_set(("classes", 0, "name"), DELETE), r"classes\[0\]: missing name"),
    (_set(("classes", 0, "color"), DELETE), r"classes\[0\]: missing color"),
    (_set(("classes", 1, "color"), "blue"),
     r"classes\[1\] \(Water\): 'color' must look like #rrggbb, found 'blue'"),
    (_set(("classes", 1, "color"), "#12345"), r"must look like #rrggbb, found '#12345'"),
    (_set(("classes", 1, "value"), 1), r"classes\[1\]: duplicate class value 1"),
    (_set(("classes", 0, "value"), 0),
     r"'value' must be an integer from 1 to 65535 \(0 is nodata\), found 0"),
    (_set(("classes", 0, "value"), 1.5), r"found 1\.5"),
    (_set(("modalities",), []), r"'modalities' must be a non-empty list"),
    (_set(("modalities", 1, "bands"), 0),
     r"modalities\[1\] \(dsm\): 'bands' must be a positive integer, found 0"),
    (_set(("modalities", 1, "name"), "hsi"), r"duplicate modality name 'hsi'"),
    (_set(("modalities", 0, "band_names"), ["a"]),
     r"'band_names' must list 3 entries \(one per band\), found 1"),
    (_set(("modalities", 0, "role"), "sar"), r"exactly one modality with role 'spectral', listed first"),
    (_set(("normalization", "low"), [[0.0, 0.0, 0.0]]), r"one list per modality \(2\), found 1"),
    (_set(("normalization", "high", 1), [1.0, 2.0]), r"has 2 values, expected 1"),
    (_set(("normalization", "high", 1), [float("nan")]), r"list of finite numbers"),
    (_set(("patch_size",), 10), r"'patch_size' must be odd, found 10"),
    (_set(("tile_size",), 130), r"'tile_size' \(130\) must be a multiple of 'stride' \(4\)"),
    (_set(("halo",), -1), r"'halo' must be an integer >= 0, found -1"),
]


@pytest.mark.parametrize("edit,message", BAD_CARDS)
def test_bad_card_messages(edit, message):
    card = make_card()
    edit(card)
    with pytest.raises(ModelPackageError, match=message):
        validate_card(card)


def test_bad_card_not_written(tmp_path):
    card = make_card()
    card["classes"][0]["color"] = "green"
    with pytest.raises(ModelPackageError):
        write_package(tmp_path / "m.bdgf", card, ONNX, TENSORS)
    assert os.listdir(tmp_path) == []


def test_missing_graph_not_written(tmp_path):
    with pytest.raises(ModelPackageError, match="missing ONNX graph"):
        write_package(tmp_path / "m.bdgf", make_card(), {"features": b"x"}, TENSORS)
    with pytest.raises(ModelPackageError, match="Unknown ONNX graph 'decoder'"):
        write_package(tmp_path / "m.bdgf", make_card(), {**ONNX, "decoder": b"x"}, TENSORS)
    assert os.listdir(tmp_path) == []


def test_write_failure_leaves_no_file(tmp_path):
    tensors = {"bad": object()}  # not an array: safetensors refuses it
    with pytest.raises(ModelPackageError):
        write_package(tmp_path / "m.bdgf", make_card(), ONNX, tensors)
    assert os.listdir(tmp_path) == []


def test_overwrite_is_atomic(package_path):
    card = make_card()
    card["name"] = "Second"
    write_package(package_path, card, ONNX, TENSORS)
    assert ModelPackage(package_path).name == "Second"
    assert os.listdir(package_path.parent) == ["model.bdgf"]


def test_format_card(package_path):
    text = format_card(ModelPackage(package_path).card)
    assert "Model: Test model" in text
    assert "Forest" in text and "#1b7837" in text
    assert "hsi [spectral]: 3 band(s)" in text and "450–650 nm" in text
    assert "tile 128 px" in text
    assert "KAPPA 0.8000" in text
    assert "Content hash: sha256:" in text


def test_validate_accepts_good_card():
    validate_card(copy.deepcopy(make_card()))
