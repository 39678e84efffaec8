"""Model package `.bdgf`: round trip, tamper detection, what is refused before writing, atomic overwrite;
the dense classifier graphs as optional hashed members (card validation: test_card.py)."""
import json
import os
import zipfile

import numpy as np
import pytest

from engine.errors import ModelPackageError
from engine.model.backends import make_backend
from engine.model.package import ModelPackage, write_package
from tests.ui.test_helpers import tiny_graphs


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


# ---------------------------------------------------------------- packages with and without the dense graphs

def test_dense_graphs_are_optional_hashed_members(engine_model, tmp_path):
    import zipfile

    from engine.errors import ModelPackageError
    from engine.model.package import DENSE_MEMBERS, ONNX_MEMBERS, write_package
    from engine.progress import SilentProgress

    package = ModelPackage(engine_model)
    assert package.has_dense
    card = {k: v for k, v in package.card.items() if k != "content_hash"}
    graphs = {m: package.onnx(m) for m in ONNX_MEMBERS}
    tensors = package.tensors(strip=False)
    # without them (a package written before issue 12): it opens, and ONNX Runtime runs patchwise
    old = tmp_path / "old.bdgf"
    old_hash = write_package(old, dict(card), graphs, tensors)
    assert old_hash != package.content_hash
    members = sorted(zipfile.ZipFile(old).namelist())
    assert members == sorted(["card.json", *ONNX_MEMBERS, "weights.safetensors"])

    class Log(SilentProgress):
        lines: list = []

        def log(self, message):
            self.lines.append(message)

    opened = ModelPackage(old)
    assert not opened.has_dense and opened.content_hash == old_hash
    with pytest.raises(ModelPackageError, match="no classifier_maps.onnx"):
        opened.onnx("classifier_maps")
    engine = make_backend(opened, "onnx", "cpu", Log())
    assert not engine.dense and "patchwise classifier" in engine.describe()
    assert any("no dense classifier graphs" in line for line in Log.lines)
    # added back from the package's own weights: the same card, graphs and weights, plus the dense graphs
    from training.export_model import add_dense_graphs

    upgraded = tmp_path / "upgraded.bdgf"
    add_dense_graphs(old, upgraded)
    again = ModelPackage(upgraded)
    assert again.has_dense and again.tensors(strip=False).keys() == tensors.keys()
    assert all(again.onnx(m) == graphs[m] for m in ONNX_MEMBERS)
    assert {k: v for k, v in again.card.items() if k != "content_hash"} == card
    # both or neither
    with pytest.raises(ModelPackageError, match="both or neither"):
        half = {**graphs, DENSE_MEMBERS[0]: package.onnx(DENSE_MEMBERS[0])}
        write_package(tmp_path / "half.bdgf", dict(card), half, tensors)
    # the dense graphs are covered by the hash
    damaged = tmp_path / "damaged.bdgf"
    with zipfile.ZipFile(engine_model) as zin, zipfile.ZipFile(damaged, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            zout.writestr(name, data + b"\0" if name == DENSE_MEMBERS[1] else data)
    with pytest.raises(ModelPackageError, match="content hash mismatch"):
        ModelPackage(damaged)
