"""bench.scan and bench.inference at tiny sizes: they run and write their JSON + Markdown, stamped."""
from __future__ import annotations

import json
import subprocess

import pytest

from bench import inference, scan
from bench.stamp import REPO, describe_tree, git_state

STAMP_KEYS = {"commit", "commit_short", "clean", "changes", "date", "machine", "command", "sources_sha256"}


def _read(docs, name: str) -> tuple[dict, str]:
    data = json.loads((docs / f"{name}.json").read_text(encoding="utf-8"))
    text = (docs / f"{name}.md").read_text(encoding="utf-8")
    assert data["benchmark"] == name and STAMP_KEYS <= set(data["stamp"])
    assert text.splitlines()[2].startswith("> **Run:** ") and f"[`{name}.json`]({name}.json)" in text
    return data, text


def test_stamp_matches_git():
    state = git_state()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode:
        assert state["commit"] is None
        return
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    assert state["commit"] == head.stdout.strip() and state["clean"] == (status == "")
    assert describe_tree({"commit_short": "abc1234", "clean": True}) == "commit `abc1234`, tree clean"
    assert "not clean" in describe_tree({"commit_short": "abc1234", "clean": False, "changes": [" M x.py"]})


def test_scan_writes_json_and_markdown(tmp_path):
    assert scan.main(["--batch", "4", "--length", "9", "--repeats", "1", "--threads", "1",
                      "--docs", str(tmp_path)]) == 0
    data, text = _read(tmp_path, "scan")
    assert data["stamp"]["command"].startswith("python -m bench.scan --batch 4")
    assert data["speedup_eager_vs_naive"] == pytest.approx(data["naive_ms"] / data["eager_ms"])
    assert data["speedup_onnx_vs_naive"] == pytest.approx(data["naive_ms"] / data["onnx_ms"])
    assert max(data["max_abs_diff_eager"], data["max_abs_diff_onnx"]) < 1e-4
    assert data["shape"]["length"] == 9 and "| textbook loop (baseline, bench/scan.py) |" in text


def test_inference_writes_json_and_markdown(tmp_path):
    argv = ["--size", "24x32", "--bands", "6,4,1", "--network", "quick", "--tile", "32", "--scales", "1,4",
            "--threads", "1", "--docs", str(tmp_path)]
    assert inference.main(argv) == 0
    data, text = _read(tmp_path, "inference")
    r = data["result"]
    paths = r["paths"]
    assert set(paths) == {"dense_onnx", "dense_torch", "patchwise_onnx"} and r["baseline"] == "patchwise_onnx"
    assert paths["patchwise_onnx"]["speedup_vs_patchwise"] == pytest.approx(1.0)
    eager_over_onnx = paths["dense_torch"]["seconds"] / paths["dense_onnx"]["seconds"]
    assert r["speedup_onnx_vs_eager"] == pytest.approx(eager_over_onnx)
    # the patchwise run really ran the patchwise classifier, the dense runs the dense one
    patchwise_steps = paths["patchwise_onnx"]["profile"]
    assert "classifier" in patchwise_steps and "classifier maps" not in patchwise_steps
    assert all("classifier maps" in paths[k]["profile"] for k in ("dense_onnx", "dense_torch"))
    assert min(r["class_map_agreement"].values()) > 0.99
    assert all(s["pixels_classified"] > 0 and s["peak_rss_mb"] > 0 for s in paths.values())
    fl = data["flops_per_pixel"]
    assert 0 < fl["dense_classifier"] < fl["patchwise_classifier"] and data["gemm_gflops"] > 0
    assert [b["scale"] for b in data["large"]] == [1, 4]
    assert data["large"][1]["pixels"] == 4 * data["large"][0]["pixels"] == 4 * 24 * 32
    assert [m["bands"] for m in data["scene"]["modalities"]] == [6, 4, 1]
    assert "| patchwise, ONNX Runtime (baseline)" in text and "## Large scenes" in text


def test_inference_bands_must_match_the_synthetic_scene():
    assert inference.parse_bands("180,4,1") == (180, 4, 1) and inference.parse_bands("20") == (20,)
    with pytest.raises(SystemExit, match="SAR"):
        inference.parse_bands("180,3,1")


def test_results_record_no_machine_paths(tmp_path):
    """Work folders outside the repository are recorded relative to it, in commands and in paths."""
    from bench.stamp import command_line, repo_relative

    outside = tmp_path / "work"
    line = command_line("bench.scarcity", ["--jobs", "2", "--work", str(outside)])
    recorded = line.split("--work ")[1]
    assert line.startswith("python -m bench.scarcity --jobs 2 --work ../") and not recorded.startswith("/")
    assert (REPO / recorded).resolve() == outside.resolve()
    assert repo_relative(REPO / "docs" / "bench") == "docs/bench"
    assert not repo_relative(outside).startswith("/")
