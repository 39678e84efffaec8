"""bench.inference at a tiny size: it runs and writes its JSON + Markdown, stamped; the bands it accepts."""
from __future__ import annotations

import pytest

from bench import inference
from tests.bench.test_stamp import _read


def test_inference_writes_json_and_markdown(tmp_path):
    argv = ["--size", "24x32", "--bands", "6,4,1", "--network", "quick", "--tile", "32", "--scales", "1,4",
            "--threads", "1", "--docs", str(tmp_path)]
    assert inference.main(argv) == 0
    data, text = _read(tmp_path, "inference")
    r = data["result"]
    paths = r["paths"]
    assert set(paths) == {"dense_onnx", "dense_torch", "patchwise_onnx", "old_dense_onnx", "old_dense_torch",
                          "prev_dense_onnx", "contribution_onnx"}
    # the previous network (version 2) ran and is compared with the new one's dense ONNX Runtime path
    assert r["speedup_vs_previous_network"] == pytest.approx(paths["prev_dense_onnx"]["seconds"]
                                                             / paths["dense_onnx"]["seconds"])
    assert data["flops_per_pixel"]["prev"]["dense_classifier"] > 0
    # the contribution's added time, from the run that wrote it, against that run's own classification
    c, run = r["contribution"], paths["contribution_onnx"]
    assert c["added_s"] == run["profile"]["modality contribution"] > 0
    assert c["added_vs_plain"] == pytest.approx(c["added_s"] / (run["seconds"] - c["added_s"]))
    assert r["baseline"] == "patchwise_onnx"
    # the new network's dense paths against the old network's, same backend, same run
    for new, old in (("dense_onnx", "old_dense_onnx"), ("dense_torch", "old_dense_torch")):
        ratio = paths[old]["seconds"] / paths[new]["seconds"]
        assert paths[new]["speedup_vs_old_network"] == pytest.approx(ratio)
    assert data["flops_per_pixel"]["old"]["dense_classifier"] > data["flops_per_pixel"]["dense_classifier"]
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
    assert "| old network (version 1), dense, ONNX Runtime" in text and "Modality contribution" in text
    assert "| previous network (version 2), dense, ONNX Runtime" in text
    assert "against the previous one" in text


def test_inference_bands_must_match_the_synthetic_scene():
    assert inference.parse_bands("180,4,1") == (180, 4, 1) and inference.parse_bands("20") == (20,)
    with pytest.raises(SystemExit, match="SAR"):
        inference.parse_bands("180,3,1")


