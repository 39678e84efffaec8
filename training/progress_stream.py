"""A training run's progress as machine-readable lines, for whoever launched it (bdgf:train in QGIS).

`python -m training.run ... --progress-stream` prints one line per event on stdout, between the log
lines (which go to stderr and train.log):

    BDGF-PROGRESS {"stage": "ddpm", "step": 120, "total": 300, "percent": 31.4, "loss": 0.0412,
                   "eta_s": 74.0, "message": ""}

`percent` is the whole run's (all stages, all seeds), never decreases, and is 100 only on the last event
("done", whose message is the run's summary as JSON). The reader side is `read_event(line)`: QGIS
imports this module (standard library only), the training child writes with `ProgressWriter`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

PREFIX = "BDGF-PROGRESS "
# Share of a seed's time per stage, from docs/bench/presets.json (quick and cpu presets on three scenes,
# medians rounded): the bar moves at about the same speed through the whole run.
STAGE_WEIGHTS = {"prepare": 0.03, "ddpm": 0.30, "features": 0.03, "classifier": 0.50, "evaluation": 0.10,
                 "export": 0.04}
STAGES = tuple(STAGE_WEIGHTS)
# The stages of training.run's progress bars (their `desc`) -> the stage they belong to.
BAR_STAGES = {"DDPM pre-training": "ddpm", "diffusion features": "features",
              "classifier epochs": "classifier", "prediction map": "evaluation"}


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # one of STAGES, "done" or "failed"
    step: int = 0
    total: int = 0
    percent: float = 0.0  # of the whole run, 0..100
    loss: float | None = None
    eta_s: float | None = None  # estimated seconds left
    message: str = ""

    def line(self) -> str:
        return PREFIX + json.dumps(asdict(self), separators=(",", ":"))

    def describe(self) -> str:
        """The log line a reader shows: 'DDPM pre-training 120/300, loss 0.0412, about 1 min 14 s left'."""
        names = {"prepare": "Preparing the data", "ddpm": "DDPM pre-training",
                 "features": "Diffusion features", "classifier": "Classifier training",
                 "evaluation": "Evaluation", "export": "Model package", "done": "Done", "failed": "Failed"}
        text = names.get(self.stage, self.stage)
        if self.total:
            text += f" {self.step}/{self.total}"
        if self.loss is not None:
            text += f", loss {self.loss:.4g}"
        if self.eta_s is not None and self.stage not in ("done", "failed"):
            text += f", about {format_seconds(self.eta_s)} left"
        return text


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def read_event(line: str) -> ProgressEvent | None:
    """The event a line carries, or None for any other line (a log line, a half-written one)."""
    if not line.startswith(PREFIX):
        return None
    try:
        data = json.loads(line[len(PREFIX):])
        return ProgressEvent(**{key: data[key] for key in ProgressEvent.__dataclass_fields__ if key in data})
    except (ValueError, TypeError):
        return None


class ProgressWriter:
    """Turns stage progress (stage, step of total) into whole-run events on `write` (a callable taking a
    line). `seeds` runs of stages 2-6 follow one data preparation; percent never goes back."""

    def __init__(self, write: Callable[[str], None], seeds: int = 1,
                 clock: Callable[[], float] = time.monotonic, min_interval_s: float = 0.5):
        self.write, self.seeds, self.clock = write, max(1, int(seeds)), clock
        self.min_interval_s = min_interval_s
        self.started = clock()
        self.seed = 0  # index of the seed being trained
        self.percent = 0.0
        self._last = -1e9

    def seed_started(self, index: int) -> None:
        self.seed = index

    def _whole(self, stage: str, fraction: float) -> float:
        if stage == "prepare":
            return 100.0 * STAGE_WEIGHTS["prepare"] * fraction
        per_seed = (1.0 - STAGE_WEIGHTS["prepare"]) / self.seeds
        before = sum(STAGE_WEIGHTS[s] for s in STAGES[1:STAGES.index(stage)]) / (1 - STAGE_WEIGHTS["prepare"])
        share = STAGE_WEIGHTS[stage] / (1 - STAGE_WEIGHTS["prepare"])
        done = STAGE_WEIGHTS["prepare"] + per_seed * (self.seed + before + share * fraction)
        return 100.0 * min(done, 0.999)  # 100 belongs to "done" alone

    def update(self, stage: str, step: int = 0, total: int = 0, loss: float | None = None,
               force: bool = False) -> None:
        """Progress within `stage` (step of total; total 0: the stage starts). Rate-limited unless forced."""
        fraction = min(1.0, step / total) if total else 0.0
        self.percent = max(self.percent, self._whole(stage, fraction))
        now = self.clock()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        elapsed = now - self.started
        eta = elapsed * (100.0 - self.percent) / self.percent if self.percent >= 1.0 else None
        self.write(ProgressEvent(stage, int(step), int(total), round(self.percent, 2), loss,
                                 None if eta is None else round(eta, 1)).line())

    def done(self, summary: dict) -> None:
        self.percent = 100.0
        self.write(ProgressEvent("done", percent=100.0, eta_s=0.0, message=json.dumps(summary)).line())


# ---------------------------------------------------------------- what a run will cost, before it starts

# `training.run --preset P --threads 1` on the 2-core reference machine (docs/bench/presets.json, scene
# "100k px, 70 bands": 100,000 px x 75 channels): seconds of the stages that do not grow with the scene
# (DDPM steps, classifier steps, export) and of those that do (features, evaluation). The paper preset
# was measured on a GPU only (docs/bench/gpu.md): no CPU estimate.
PRESET_SECONDS = {"quick": (102.3, 28.2), "cpu": (261.7, 28.4)}
REFERENCE_PIXEL_CHANNELS = 100_000 * 75
# Diffusion feature channels per preset (what the feature cache holds per pixel, float16).
FEATURE_CHANNELS = {"quick": 40, "cpu": 120, "paper": 400}
# probe_seconds() on that machine (the best of 5, 2026-12-06, the day of the presets run); a machine twice as
# fast takes half as long.
REFERENCE_PROBE_S = 0.015


def probe_seconds(repeats: int = 5) -> float:
    """Seconds of a fixed float32 matrix product workload (the best of `repeats`): this machine's speed."""
    import numpy as np

    a = np.random.default_rng(0).random((384, 384), np.float32)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(20):
            a @ a
        best = min(best, time.perf_counter() - started)
    return best


@dataclass(frozen=True)
class RunEstimate:
    seconds: float | None  # None: not measured for this preset on a CPU
    cache_bytes: int  # the diffusion feature cache (float16) per seed
    memory_bytes: int  # the scene, its features and the network's working set, roughly

    def lines(self, preset: str, device: str) -> list[str]:
        when = (f"about {format_seconds(self.seconds)} on this machine's CPU (the {preset} preset's measured "
                "stage times, docs/bench/presets.md, scaled by the scene and by this machine's speed)"
                if self.seconds is not None else
                f"not estimated: the {preset} preset was measured on a GPU only (docs/bench/gpu.md)")
        if device == "cuda":
            when += "; a GPU is usually several times faster"
        cache_mb, memory_mb = self.cache_bytes / 2 ** 20, self.memory_bytes / 2 ** 20
        return [f"Time: {when}.",
                f"Disk: about {cache_mb:,.0f} MB for the feature cache in the run folder, per seed.",
                f"Memory: about {memory_mb:,.0f} MB while training."]


def estimate_run(preset: str, pixels: int, channels: int, seeds: int = 1,
                 probe_s: float | None = None) -> RunEstimate:
    """What a run of `preset` on a scene of `pixels` x `channels` should take (probe_s: this machine's
    probe_seconds(); None: the reference machine's speed)."""
    factor = (probe_s or REFERENCE_PROBE_S) / REFERENCE_PROBE_S
    seconds = None
    if preset in PRESET_SECONDS:
        fixed, scaled = PRESET_SECONDS[preset]
        seconds = seeds * factor * (fixed + scaled * pixels * channels / REFERENCE_PIXEL_CHANNELS)
    feature_channels = FEATURE_CHANNELS.get(preset, 400)
    cache = 2 * feature_channels * pixels
    memory = 4 * channels * pixels * 3 + cache + (512 << 20)
    return RunEstimate(seconds, int(cache), int(memory))


if __name__ == "__main__":  # `python -m training.progress_stream`: this machine's probe_seconds()
    print(f"{probe_seconds():.4f}")
