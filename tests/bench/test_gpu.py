"""bench.gpu's code paths on the CPU (the GPU run itself happens on the device machine): the engine's
per-tile step on an in-memory scene, the scan and classifier checks, the report (the stamp of a run on a
machine without git: tests/bench/test_stamp.py)."""
import json

from bench.gpu import main
from engine.model.tiling import CPU_TILE


def test_gpu_bench_runs_on_cpu_and_reports(tmp_path, one_thread):
    assert main(["--device", "cpu", "--networks", "quick", "--size", "72x52", "--bands", "12,4,1",
                 "--repeats", "1", "--patchwise-rows", "48", "--scan-pixels", "32", "--check-side", "8",
                 "--noise-side", "40", "--profile-batch", "64", "--docs", str(tmp_path),
                 "--not-run", "nothing on a GPU: this is the smoke run"]) == 0
    data = json.loads((tmp_path / "gpu.json").read_text())
    net = data["networks"]["quick"]
    # CPU against CPU: the scan is the same function; dense and patchwise agree within float rounding
    assert net["scan"]["max_abs_diff_vs_cpu"] == 0.0 and not net["scan"]["fused_kernel"]
    assert net["network_check"]["patchwise_cpu"]["max_abs_diff"] < 1e-5
    tp = net["throughput"]
    assert {"dense_engine", "dense_cpu-sized", "patchwise_engine", "patchwise_cpu-sized"} == set(tp)
    for run in tp.values():
        assert run["pixels"] == 52 * run["rows"] and run["px_s"] > 0
        # dense and patchwise, any tiling: the same function, so the same classes
        assert run["vs_first"]["max_abs_prob_diff"] < 1e-5 and run["vs_first"]["same_class"] == 1.0
    assert tp["dense_engine"]["rows"] == 72 and tp["patchwise_engine"]["rows"] == 48
    assert tp["patchwise_engine"]["vs_first"]["rows_compared"] == 48 - tp["patchwise_engine"]["halo"] > 0
    assert tp["dense_engine"]["tile"] == CPU_TILE == 256 and tp["dense_cpu-sized"]["batch"] == 1024
    assert data["noise_check"]["max_abs_diff"] < 1e-5  # torch's noise on the CPU against numpy's
    assert net["pixels_profile"]["batch"] == 64 and net["pixels_profile"]["ops"]
    md = (tmp_path / "gpu.md").read_text()
    assert "nothing on a GPU: this is the smoke run" in md and "| `quick` |" in md
    ratio = tp["dense_engine"]["px_s"] / tp["patchwise_engine"]["px_s"]  # px/s: patchwise timed fewer rows
    assert f"| {ratio:.2f}× |" in md
    # the page again from the JSON (no measurement): the same tables, and a line saying so
    (tmp_path / "gpu.md").unlink()
    assert main(["--render", str(tmp_path / "gpu.json"), "--docs", str(tmp_path)]) == 0
    again = (tmp_path / "gpu.md").read_text()
    assert again.startswith(md.rstrip("\n")) and "rendered again from `gpu.json`" in again


