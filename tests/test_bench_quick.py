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
    assert data["speedup_vs_naive"] == pytest.approx(data["naive_ms"] / data["ours_ms"])
    assert data["max_abs_diff"] < 1e-4 and "| selective_scan_naive (baseline) |" in text


def test_inference_writes_json_and_markdown(tmp_path):
    argv = ["--size", "24x32", "--bands", "6,4,1", "--network", "quick", "--tile", "32",
            "--docs", str(tmp_path)]
    assert inference.main(argv) == 0
    data, text = _read(tmp_path, "inference")
    r = data["result"]
    assert set(r["backends"]) == {"onnx", "torch"} and r["baseline"] == "torch"
    assert r["backends"]["torch"]["speed_vs_baseline"] == pytest.approx(1.0)
    assert r["speedup_onnx_vs_torch"] == pytest.approx(r["backends"]["onnx"]["speed_vs_baseline"])
    assert r["class_map_agreement"] > 0.99
    assert all(s["pixels_classified"] > 0 and s["peak_rss_mb"] > 0 for s in r["backends"].values())
    assert [m["bands"] for m in data["scene"]["modalities"]] == [6, 4, 1]
    assert "| PyTorch eager (baseline)" in text and "speed vs eager" in text


def test_inference_bands_must_match_the_synthetic_scene():
    assert inference.parse_bands("180,4,1") == (180, 4, 1) and inference.parse_bands("20") == (20,)
    with pytest.raises(SystemExit, match="SAR"):
        inference.parse_bands("180,3,1")
