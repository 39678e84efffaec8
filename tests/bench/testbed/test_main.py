"""Smoke test of the testbed benchmark (bench.testbed): tiny scene, 1 seed, RF + one tiny BDGF run."""
from __future__ import annotations

import json

import pytest

from bench.testbed import main as cli

pytestmark = pytest.mark.slow


def _in_unit(x) -> bool:
    return isinstance(x, float) and 0.0 <= x <= 1.0


def test_bench_quick_writes_table_and_json(tmp_path):
    work, docs = tmp_path / "work", tmp_path / "docs"
    argv = ["--quick", "--rows", "rf,bdgf", "--seeds", "0", "--work", str(work), "--docs", str(docs),
            "--no-infer"]
    assert cli.main(argv) == 0
    data = json.loads((docs / "testbed.json").read_text(encoding="utf-8"))
    assert data["benchmark"] == "testbed"
    assert {"commit", "clean", "date", "machine", "command"} <= set(data["stamp"])
    assert data["stamp"]["command"].startswith("python -m bench.testbed --quick")
    assert set(data["results"]) == {"rf", "bdgf"}
    for key in ("rf", "bdgf"):
        run = data["results"][key]["0"]
        assert all(_in_unit(run[m]) for m in ("oa", "aa", "kappa")), run
        agg = data["aggregate"][key]
        assert all(_in_unit(agg[m]["mean"]) for m in ("oa", "aa", "kappa")), agg
        assert all(c["mean"] is None or _in_unit(c["mean"]) for c in agg["per_class"].values())
    assert data["test_pixels_match"]
    assert "spectral_share" in data["aggregate"]["bdgf"]
    text = (docs / "testbed.md").read_text(encoding="utf-8")
    assert "| Random Forest" in text and "| BDGF full" in text
    assert text.splitlines()[2].startswith("> **Run:** ") and "[`testbed.json`](testbed.json)" in text
    assert "wall vs BDGF full" in text  # timings as ratios against a row of the same run
    assert (docs / "img" / "bench_modality_balance.png").stat().st_size > 1000

    # --report-only re-renders from the finished runs without training again
    metrics = work / "runs" / "bdgf" / "seed_0" / "metrics.json"
    mtime = metrics.stat().st_mtime_ns
    assert cli.main([*argv, "--report-only"]) == 0
    again = json.loads((docs / "testbed.json").read_text(encoding="utf-8"))
    assert metrics.stat().st_mtime_ns == mtime and not again["not_run"]
    assert again["report_rendered"] and again["stamp"] == data["stamp"]
    assert again["results"]["bdgf"]["0"]["oa"] == data["results"]["bdgf"]["0"]["oa"]


def test_gpu_flag_without_cuda_is_a_clear_error(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert cli.main(["--gpu", "--work", str(tmp_path)]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_bench_hard_quick_writes_the_paired_report(tmp_path):
    import tomllib

    from bench.testbed.stats import UNDECIDED

    work, docs = tmp_path / "work", tmp_path / "docs"
    argv = ["--testbed", "hard", "--quick", "--rows", "rf,svm_spatial,bdgf", "--work", str(work), "--docs",
            str(docs)]
    assert cli.main(argv) == 0
    assert not (docs / "testbed.json").exists()  # the easy testbed's report is left alone
    data = json.loads((docs / "testbed_hard.json").read_text(encoding="utf-8"))
    assert data["benchmark"] == "testbed_hard"
    assert {"commit", "clean", "date", "machine"} <= set(data["stamp"])
    config = tomllib.loads(open(data["scene"]["configs"]["0"], encoding="utf-8").read())
    assert config["labels"]["raster"] == "labels.tif" and config["labels"]["split"]["seed"] == 0  # = run seed
    assert config["labels"]["split"]["block_size"] > 0 and config["labels"]["split"]["per_class"] <= 10
    assert [a.get("bands") for a in config["data"]["aux"]] == [[1, 2], None]
    assert len(data["scene"]["meta"]["wavelengths_nm"]) >= 150
    split = data["scene"]["split"]["0"]
    # 10 labels per class is below the preset's val_min_per_class: no validation split (few-label recipe)
    assert max(split["train_per_class"]) <= 10 and split["validation_pixels"] == 0
    assert data["test_pixels_match"]  # the baselines are tested on BDGF's test pixels
    oa = data["paired"]["metrics"]["oa"]
    r = data["results"]
    assert oa["rf"]["diff"]["mean"] == pytest.approx(r["bdgf"]["0"]["oa"] - r["rf"]["0"]["oa"])
    assert oa["rf"]["verdict"] == UNDECIDED and oa["rf"]["kind"] == "baseline"
    # the spatial-spectral SVM: each band and its 5 x 5 mean (twice the per-pixel features), same test pixels
    assert r["svm_spatial"]["0"]["n_features"] == 2 * r["rf"]["0"]["n_features"]
    assert r["svm_spatial"]["0"]["n"] == r["bdgf"]["0"]["n"]
    assert "bdgf" in data["paired"]["spectral_share"]["rows"]
    assert data["paired"]["job"]["status"] in ("unclear", "unknown")  # one seed, no mask_off row
    text = (docs / "testbed_hard.md").read_text(encoding="utf-8")
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Is the testbed doing its job?"
    assert "### Overall accuracy (OA, %)" in text and "95 % CI" in text and "| Random Forest" in text
    assert all(name.startswith("testbed_hard_") for name in data["figures"])
