"""engine.batch.summary: what a batch run reports, as a dict (--json) and as text, for a run with a done and
a failed scene and for a run that computed nothing."""
from __future__ import annotations

import io
import json

from engine.batch.summary import BatchSummary, SceneReport, print_summary


def _summary(compute_seconds: float = 4.0, pixels: int = 10_000) -> BatchSummary:
    done = SceneReport("north", "done", blocks=6, computed=4, reused=2, pixels=20_480,
                       pixels_classified=19_000, outputs=["out/north/classes.vrt", "out/north/classes.tif"])
    failed = SceneReport("south", "failed", error="Cannot open raster south.tif")
    return BatchSummary([done, failed], workers=2, threads_per_worker=3, seconds=9.5, ray_start_seconds=2.0,
                        compute_seconds=compute_seconds, pixels_computed=pixels)


def test_to_dict_adds_the_rate_and_the_failed_scenes():
    data = _summary().to_dict()
    assert data["pixels_per_second"] == 2500.0 and data["failed"] == ["south"]
    assert [s["name"] for s in data["scenes"]] == ["north", "south"] and data["scenes"][0]["reused"] == 2
    assert json.loads(json.dumps(data)) == data  # what --json prints
    idle = _summary(compute_seconds=0.0, pixels=0)
    assert idle.pixels_per_second is None and idle.to_dict()["pixels_per_second"] is None


def test_print_summary_lines():
    out = io.StringIO()
    print_summary(_summary(), out)
    assert out.getvalue().splitlines() == [
        "north: done, 6 block(s) (4 computed, 2 reused), 19000 px classified -> out/north/classes.vrt, "
        "out/north/classes.tif",
        "south: FAILED: Cannot open raster south.tif",
        "2 scene(s): 1 done, 1 failed (south); 10000 px computed in 4.0 s (2,500 px/s, 2 worker(s) x "
        "3 thread(s)); 9.5 s in all"]
    out = io.StringIO()
    print_summary(_summary(compute_seconds=0.0, pixels=0), out)
    last = out.getvalue().splitlines()[-1]
    assert last == "2 scene(s): 1 done, 1 failed (south); 0 px computed in 0.0 s; 9.5 s in all"
