"""bench.scan at a tiny size: it runs and writes its JSON + Markdown, stamped."""
from __future__ import annotations

import pytest

from bench import scan
from tests.bench.test_stamp import _read


def test_scan_writes_json_and_markdown(tmp_path):
    assert scan.main(["--batch", "4", "--length", "9", "--repeats", "1", "--threads", "1",
                      "--docs", str(tmp_path)]) == 0
    data, text = _read(tmp_path, "scan")
    assert data["stamp"]["command"].startswith("python -m bench.scan --batch 4")
    assert data["speedup_eager_vs_naive"] == pytest.approx(data["naive_ms"] / data["eager_ms"])
    assert data["speedup_onnx_vs_naive"] == pytest.approx(data["naive_ms"] / data["onnx_ms"])
    assert max(data["max_abs_diff_eager"], data["max_abs_diff_onnx"]) < 1e-4
    assert data["shape"]["length"] == 9 and "| textbook loop (baseline, bench/scan.py) |" in text
