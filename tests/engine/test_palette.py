"""engine.palette: the one default class palette, used by training configs and dataset importers."""
import tomllib

from engine.palette import DEFAULT_PALETTE, default_colour
from training.config import default_classes, parse_config
from training.datasets import class_table

# trained models and written configs carry these colours: the order must never change
FIRST_COLOURS = ("#1b7837", "#d73027", "#4575b4", "#fdae61")


def test_palette_is_stable_and_cycles():
    assert DEFAULT_PALETTE[:4] == FIRST_COLOURS and len(DEFAULT_PALETTE) == 16
    assert all(c.startswith("#") and len(c) == 7 for c in DEFAULT_PALETTE)
    assert [default_colour(i) for i in range(16)] == list(DEFAULT_PALETTE)
    assert default_colour(16) == default_colour(0) and default_colour(35) == DEFAULT_PALETTE[3]


def test_training_config_and_importers_use_the_default_palette():
    assert [c.color for c in default_classes(list(range(1, 19)))] == [default_colour(i) for i in range(18)]
    assert [c["color"] for c in class_table(["a", "b", "c"])] == list(FIRST_COLOURS[:3])
    assert [c["color"] for c in class_table(["a", "b", "c"], ("#000000",))] == ["#000000"] * 3


def test_config_classes_without_colour_get_the_palette(tmp_path):
    text = "\n".join([
        "[data]", 'spectral = "hsi.tif"', "[[data.aux]]", 'path = "sar.tif"', 'role = "sar"',
        "[labels]", 'train = "train.tif"', 'test = "test.tif"',
        "[[classes]]", "value = 1",
        "[[classes]]", "value = 5", 'color = "#123456"',
        "[[classes]]", "value = 7",
    ]) + "\n"
    cfg = parse_config(tomllib.loads(text), tmp_path)
    assert [c.color for c in cfg.classes] == [FIRST_COLOURS[0], "#123456", FIRST_COLOURS[2]]
