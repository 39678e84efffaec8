"""bench.presets: the network version column comes from the model package each run wrote."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from bench.presets import network_of
from engine.nn.config import NETWORK_VERSION

REPO = Path(__file__).resolve().parents[2]


def test_network_of_reads_the_card_of_the_package_the_run_wrote(tmp_path):
    demo = REPO / "resources" / "models" / "demo.bdgf"
    with zipfile.ZipFile(demo) as zf:
        recorded = json.loads(zf.read("card.json"))["network"]["classifier"]["version"]
    assert network_of(tmp_path, {"package": str(demo)}) == recorded == NETWORK_VERSION  # make demo-assets
    # a card made before network versions (no classifier.version) reads as version 1
    old = tmp_path / "model.bdgf"
    with zipfile.ZipFile(demo) as src, zipfile.ZipFile(old, "w") as dst:
        card = json.loads(src.read("card.json"))
        del card["network"]["classifier"]["version"]
        dst.writestr("card.json", json.dumps(card))
    assert network_of(tmp_path, {"package": "model.bdgf"}) == 1
