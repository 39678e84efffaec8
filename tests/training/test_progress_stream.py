"""training/progress_stream.py: the events a launcher reads, the whole-run percent, the cost estimate."""
import json
from pathlib import Path

from training.progress_stream import (
    FEATURE_CHANNELS,
    PRESET_SECONDS,
    REFERENCE_PIXEL_CHANNELS,
    REFERENCE_PROBE_S,
    STAGES,
    ProgressEvent,
    ProgressWriter,
    estimate_run,
    read_event,
)

REPO = Path(__file__).resolve().parents[2]


def test_an_event_survives_its_line_and_other_lines_are_not_events():
    event = ProgressEvent("ddpm", 120, 300, 31.4, 0.0412, 74.0)
    assert read_event(event.line()) == event
    assert read_event("20:22:38 INFO dsm missing: test OA 57.52 %") is None
    assert read_event(event.line()[:-5]) is None  # half a line
    assert event.describe() == "DDPM pre-training 120/300, loss 0.0412, about 1 min 14 s left"


def test_the_whole_run_percent_never_goes_back_and_only_done_is_100():
    lines = []
    clock = iter(range(10_000))
    writer = ProgressWriter(lines.append, seeds=2, clock=lambda: next(clock), min_interval_s=0)
    writer.update("prepare", force=True)
    for seed in range(2):
        writer.seed_started(seed)
        for stage in STAGES[1:]:
            for step in range(0, 11):
                writer.update(stage, step, 10)
            writer.update("ddpm", 0, 10)  # a late event of an earlier stage moves nothing back
    writer.done({"runs": []})
    percents = [read_event(line).percent for line in lines]
    assert percents == sorted(percents) and percents[-1] == 100 and max(percents[:-1]) < 100
    assert 40 < percents[len(percents) // 2] < 60  # two seeds: half way is about 50 %
    assert json.loads(read_event(lines[-1]).message) == {"runs": []}


def test_estimates_come_from_the_preset_benchmark_and_the_presets():
    runs = {(r["preset"], r["scene"]): r["stages_s"]
            for r in json.loads((REPO / "docs" / "bench" / "presets.json").read_text())["runs"]}
    for preset, (fixed, scaled) in PRESET_SECONDS.items():
        stages = runs[(preset, "100k px, 70 bands")]
        assert round(stages["ddpm"] + stages["classifier"] + stages["export"], 1) == fixed
        assert round(stages["features"] + stages["evaluation"], 1) == scaled
    from training.presets import preset as make_preset

    for name, channels in FEATURE_CHANNELS.items():
        net, _ = make_preset(name, [64, 4, 1], 6)
        assert sum(net.feature_channels()) == channels
    at_reference = estimate_run("quick", 100_000, REFERENCE_PIXEL_CHANNELS // 100_000)
    assert abs(at_reference.seconds - sum(PRESET_SECONDS["quick"])) < 1e-6
    # a machine half as fast, 2 seeds: four times the time
    slower = estimate_run("quick", 100_000, 75, seeds=2, probe_s=2 * REFERENCE_PROBE_S)
    assert abs(slower.seconds - 4 * at_reference.seconds) < 1e-6
    assert estimate_run("paper", 1000, 10).seconds is None
    assert estimate_run("cpu", 1000, 10).cache_bytes == 2 * 120 * 1000
