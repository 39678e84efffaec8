"""The dock's layer proposal rule (ui/layer_matching.py): pure, on (name, band count) pairs."""
import pytest

from ui.layer_matching import bands_fit, expected_bands, name_fits, propose_layers

DEMO_CARD = {"modalities": [{"name": "hsi", "role": "spectral", "bands": 64},
                            {"name": "sar", "role": "sar", "bands": 4},
                            {"name": "dsm", "role": "lidar", "bands": 1}]}
DEMO = {"spectral": 64, "sar": 4, "lidar": 1}


def named(layers, expected=None):
    chosen = propose_layers(layers, expected)
    return {role: layers[i][0] if i is not None else None for role, i in chosen.items()}


def test_expected_bands_come_from_the_first_modality_of_each_role():
    card = {"modalities": DEMO_CARD["modalities"] + [{"name": "dsm2", "role": "lidar", "bands": 2},
                                                      {"name": "t", "role": "thermal", "bands": 1}]}
    assert expected_bands(card) == DEMO
    assert expected_bands(None) is None


@pytest.mark.parametrize("role, name, fits", [
    ("spectral", "hsi", True), ("spectral", "Augsburg_HSI_2m", True),
    ("spectral", "aug_hyperspectral2", True),
    ("sar", "S1_VV_VH", True), ("sar", "sar.tif", True), ("lidar", "nDSM 1m", True), ("lidar", "chm", True),
    ("lidar", "houston_lidar", True), ("spectral", "dsm", False), ("sar", "sarcasm", False),
    ("lidar", "random", False),
])
def test_names(role, name, fits):
    assert name_fits(role, name) is fits


def test_the_demo_layers_go_to_their_pickers_whatever_the_active_layer_or_order():
    """The reported bug: every picker took the active layer (dsm), a 1-band layer in the spectral one."""
    for layers in ([("dsm", 1), ("sar", 4), ("hsi", 64)], [("hsi", 64), ("dsm", 1), ("sar", 4)]):
        assert named(layers) == {"spectral": "hsi", "sar": "sar", "lidar": "dsm"}
        assert named(layers, DEMO) == {"spectral": "hsi", "sar": "sar", "lidar": "dsm"}


def test_the_card_band_count_beats_the_name():
    layers = [("hsi_rgb_preview", 3), ("scene", 64), ("a", 4), ("b", 1)]
    assert named(layers, DEMO) == {"spectral": "scene", "sar": "a", "lidar": "b"}
    assert named(layers)["spectral"] == "hsi_rgb_preview"  # no card yet: the name is the best hint


def test_names_decide_between_layers_of_the_right_band_count():
    layers = [("elevation_model", 1), ("vv", 1), ("hsi", 64)]
    assert named(layers, {"spectral": 64, "sar": 1, "lidar": 1}) == {
        "spectral": "hsi", "sar": "vv", "lidar": "elevation_model"}


def test_without_names_band_counts_order_the_candidates():
    layers = [("one", 1), ("four", 4), ("many", 144), ("twelve", 12)]
    assert named(layers) == {"spectral": "many", "sar": "four", "lidar": "one"}


def test_a_layer_fills_one_picker_and_roles_the_card_lacks_stay_empty():
    assert named([("hsi", 64)]) == {"spectral": "hsi", "sar": None, "lidar": None}
    assert named([("hsi", 64), ("sar", 4), ("dsm", 1)], {"spectral": 64, "lidar": 1}) == {
        "spectral": "hsi", "sar": None, "lidar": "dsm"}


def test_the_spectral_picker_falls_back_to_the_most_bands():
    assert named([("dsm", 1)]) == {"spectral": "dsm", "sar": None, "lidar": "dsm"}
    assert named([("x", 2), ("y", 1)], DEMO) == {"spectral": "x", "sar": None, "lidar": "y"}
    assert propose_layers([]) == {"spectral": None, "sar": None, "lidar": None}


def test_a_wrongly_sized_layer_named_for_the_modality_is_proposed_to_show_the_mismatch():
    layers = [("hsi", 30), ("sar", 2), ("dsm", 1)]
    assert named(layers, DEMO) == {"spectral": "hsi", "sar": "sar", "lidar": "dsm"}
    assert not bands_fit(64, 30) and bands_fit(1, 1) and bands_fit(None, 7)
