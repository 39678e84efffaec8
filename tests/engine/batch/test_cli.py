"""`python -m engine batch` (engine/batch/cli.py) without Ray: a bad worker count is a one-line user error
(exit 2) before any work; a job whose every scene fails its check exits 3 with the summary (--json)."""
from __future__ import annotations

import json

from engine.__main__ import main
from engine.batch.job import BatchJob, SceneJob, write_job
from tests.engine.batch.test_run import DEMO, DEMO_MODEL


def test_bad_workers_and_a_job_whose_scenes_all_fail(tmp_path, capsys):
    missing = str(tmp_path / "missing_hsi.tif")
    scene = SceneJob("broken", missing, (DEMO["sar"], DEMO["dsm"]))
    job = BatchJob(DEMO_MODEL, str(tmp_path / "out"), (scene,))
    path = write_job(job, tmp_path / "job.json")
    assert main(["batch", path, "--workers", "0"]) == 2
    assert capsys.readouterr().err == "error: --workers must be at least 1, got 0.\n"
    assert not (tmp_path / "out").exists()
    assert main(["batch", path, "--json"]) == 3  # every scene failed in its check: Ray is never started
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["failed"] == ["broken"] and summary["workers"] == 0 and summary["pixels_computed"] == 0
    (scene,) = summary["scenes"]
    assert scene["status"] == "failed" and "missing_hsi.tif" in scene["error"] and scene["blocks"] == 0
    assert "Scene broken: FAILED before any work" in captured.err
    assert not (tmp_path / "out" / "broken").exists()
