"""bench.scarcity at a tiny budget: runs every stage (scene, split per label count, baselines, BDGF with
a DDPM shared per seed, summary, plot) and writes its stamped JSON + Markdown."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench import scarcity
from engine.model.package import ModelPackage
from engine.nn.config import NETWORK_VERSION

pytestmark = pytest.mark.slow


def test_scarcity_quick_writes_the_curve_and_shares_the_ddpm(tmp_path):
    work, docs = tmp_path / "work", tmp_path / "docs"
    argv = ["--quick", "--labels", "3,5", "--seeds", "0,1", "--rows",
            "bdgf,bdgf_v1,bdgf_plain,no_pseudo,mask_fixed,rf,svm,svm_spatial",
            "--jobs", "2", "--work", str(work), "--docs", str(docs)]
    assert scarcity.main(argv) == 0
    data = json.loads((docs / "scarcity.json").read_text(encoding="utf-8"))
    text = (docs / "scarcity.md").read_text(encoding="utf-8")
    assert data["benchmark"] == "scarcity" and {"commit", "clean"} <= set(data["stamp"])
    assert (docs / "img" / "scarcity.png").stat().st_size > 0 and "img/scarcity.png" in text
    for n in ("3", "5"):
        per = data["results"][n]
        assert set(per["bdgf"]) == set(per["svm"]) == {"0", "1"}
        # every row of a (label count, seed) is tested on the same pixels
        for seed in ("0", "1"):
            assert len({per[k][seed]["n"] for k in per if seed in per[k]}) == 1
        paired = data["summary"][n]["paired"]["svm"]
        expected = [100 * (per["bdgf"][s]["oa"] - per["svm"][s]["oa"]) for s in ("0", "1")]
        assert np.allclose(paired["diffs"], expected)
        aa = data["summary"][n]["paired_aa"]["svm"]  # AA paired the same way, on the runs' own AA
        expected = [100 * (per["bdgf"][s]["aa"] - per["svm"][s]["aa"]) for s in ("0", "1")]
        assert np.allclose(aa["diffs"], expected)
        assert "verdict" in data["summary"][n]
    assert "no_pseudo" not in data["results"]["3"] or not data["results"]["3"]["no_pseudo"]  # only at 5, 10
    assert set(data["results"]["5"]["no_pseudo"]) == {"0", "1"}
    # the old-network row trains network version 1, every other BDGF row the current version, paired by seed
    for key, version in (("bdgf_v1", 1), ("bdgf", NETWORK_VERSION), ("bdgf_plain", NETWORK_VERSION)):
        card = ModelPackage(work / "runs" / "n5" / key / "seed_0" / "model.bdgf").card
        assert card["network"]["classifier"]["version"] == version, key
    old = data["summary"]["5"]["paired"]["bdgf_v1"]
    assert old["seeds"] == [0, 1] and len(old["diffs"]) == 2
    # each branch scored alone (the runs' metrics.json), and the new network − the old per branch, paired
    branches = data["summary"]["5"]["branches"]
    assert set(branches["alone"]) == {"bdgf", "bdgf_v1", "bdgf_plain", "no_pseudo", "mask_fixed"}
    assert list(branches["alone"]["bdgf"]) == ["cnn", "mamba", "transformer"]
    new_mamba = [100 * per["bdgf"][s]["branch_oa"]["mamba"] for s in ("0", "1")]
    old_mamba = [100 * per["bdgf_v1"][s]["branch_oa"]["mamba"] for s in ("0", "1")]
    assert branches["alone"]["bdgf"]["mamba"]["mean"] == pytest.approx(np.mean(new_mamba))
    assert np.allclose(branches["new_minus_old"]["mamba"]["diffs"], np.subtract(new_mamba, old_mamba))
    assert "BDGF − row, AA points" in text
    assert "## Each branch alone" in text and "New network (bdgf) − old (bdgf_v1), per branch" in text
    # the spatial-spectral SVM: each band and its 5 x 5 mean, tested on the same pixels as the others
    per = data["results"]["5"]
    assert per["svm_spatial"]["0"]["n_features"] == 2 * per["svm"]["0"]["n_features"]
    # more labels per class in the split of a larger count
    cfg3 = json.loads((work / "runs" / "n3" / "bdgf" / "seed_0" / "data_summary.json").read_text())
    cfg5 = json.loads((work / "runs" / "n5" / "bdgf" / "seed_0" / "data_summary.json").read_text())
    assert max(cfg3["train_pixels_per_class"]) <= 3 < max(cfg5["train_pixels_per_class"]) <= 5
    # one DDPM per seed and masking: pre-trained once, copied into the other runs of that seed; the fixed-
    # masking row pre-trains its own (only at 5 labels, paired with BDGF by seed)
    assert len(list((work / "ddpm").iterdir())) == 4
    cards = {key: ModelPackage(work / "runs" / "n5" / key / "seed_0" / "model.bdgf").card
             for key in ("bdgf", "mask_fixed")}
    masking = {key: card["network"]["masking"] for key, card in cards.items()}
    assert masking["mask_fixed"]["mode"] == "fixed" and masking["bdgf"]["mode"] == "adaptive"
    assert data["summary"]["5"]["paired"]["mask_fixed"]["seeds"] == [0, 1]
    assert not data["results"]["3"].get("mask_fixed")
    log = (work / "runs" / "n5" / "bdgf_plain" / "seed_0" / "train.log").read_text()
    assert "DDPM: loaded the finished pre-training checkpoint" in log
    # a second invocation reuses every finished run
    assert scarcity.main(argv + ["--report-only"]) == 0
    again = json.loads((docs / "scarcity.json").read_text(encoding="utf-8"))
    assert again["results"]["5"]["bdgf"]["0"]["oa"] == data["results"]["5"]["bdgf"]["0"]["oa"]
