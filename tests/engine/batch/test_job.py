"""engine.batch.job: a job file is checked as a whole before any work (every problem named); relative paths
are relative to the job file; write_job and load_job round-trip."""
from __future__ import annotations

import json

import pytest

from engine.batch.job import load_job, write_job
from engine.errors import BDGFError
from tests.engine.batch.test_run import _engine


def test_a_job_file_is_checked_before_any_work(tmp_path):
    bad = {"format": "bdgf-batch-job", "version": 1, "model": "m.bdgf", "out_dir": "/vsis3/bucket/out",
           "settings": {"device": "tpu", "threads": 4}, "block_size_px": 0,
           "scenes": [{"name": "a b", "spectral": "x.tif"}, {"name": "c", "aux": ["y.tif"]}]}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(BDGFError) as info:
        load_job(path)
    for expected in ("out_dir: must be a folder every worker can write", "Unknown device 'tpu'",
                     "settings.threads: unknown key", "block_size_px: a positive whole number",
                     "scenes[0].name: letters, digits", "scenes[1].spectral: missing"):
        assert expected in str(info.value), expected
    cli = _engine("batch", path)
    assert cli.returncode == 2 and cli.stderr.startswith("error: ") and "Traceback" not in cli.stderr
    assert not (tmp_path / "out").exists()
    # relative paths are relative to the job file; what write_job writes reads back the same
    good = {**bad, "out_dir": "out", "settings": {"device": "cpu"}, "block_size_px": 64,
            "scenes": [{"spectral": "hsi.tif", "aux": ["/vsicurl/https://example.org/sar.tif"]}]}
    path.write_text(json.dumps(good), encoding="utf-8")
    job = load_job(path)
    assert job.model == str(tmp_path / "m.bdgf") and job.out_dir == str(tmp_path / "out")
    assert job.scenes[0].name == "hsi" and job.scenes[0].aux == ("/vsicurl/https://example.org/sar.tif",)
    assert load_job(write_job(job, tmp_path / "again.json")) == job
