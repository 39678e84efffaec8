"""engine.model.card: validation messages for every bad field, a good card accepted, the card as text."""
from __future__ import annotations

import copy

import pytest

from engine.errors import ModelPackageError
from engine.model.card import format_card, validate_card
from engine.model.package import ModelPackage
from tests.engine.model import test_package
from tests.engine.model.test_package import make_card

package_path = test_package.package_path  # fixture


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


def test_network_version_is_read_from_the_card_and_shown(engine_model):
    """New packages record version 3; a card without the key (made before versions) is version 1; `engine
    info` (format_card) names it."""
    import copy

    from engine.model.card import format_card, network_version
    from engine.model.package import ModelPackage

    card = ModelPackage(engine_model).card
    assert network_version(card) == 3
    assert "Network version 3: block-token branches" in format_card(card)
    old = copy.deepcopy(card)
    del old["network"]["classifier"]["version"]
    assert network_version(old) == 1 and "Network version 1: patch-token" in format_card(old)
