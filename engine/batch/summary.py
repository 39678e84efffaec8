"""What a batch run reports: each scene's status, blocks and outputs, and the run's throughput (the CLI
prints it, `--json` gives it as a dict)."""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field


@dataclass
class SceneReport:
    """How a scene went: 'done' or 'failed' (with the reason), its blocks and its outputs."""

    name: str
    status: str = "pending"
    error: str | None = None
    blocks: int = 0
    computed: int = 0
    reused: int = 0
    pixels: int = 0  # of the reference grid
    pixels_classified: int = 0
    outputs: list[str] = field(default_factory=list)


@dataclass
class BatchSummary:
    scenes: list[SceneReport]
    workers: int
    threads_per_worker: int
    seconds: float
    ray_start_seconds: float
    compute_seconds: float  # first block handed out -> last block written
    pixels_computed: int  # of the blocks computed in this run

    @property
    def failed(self) -> list[SceneReport]:
        return [s for s in self.scenes if s.status != "done"]

    @property
    def pixels_per_second(self) -> float | None:
        return round(self.pixels_computed / self.compute_seconds, 1) if self.compute_seconds > 0 else None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["pixels_per_second"] = self.pixels_per_second
        out["failed"] = [s.name for s in self.failed]
        return out


def print_summary(summary: BatchSummary, out=sys.stdout) -> None:
    for s in summary.scenes:
        if s.status == "done":
            print(f"{s.name}: done, {s.blocks} block(s) ({s.computed} computed, {s.reused} reused), "
                  f"{s.pixels_classified} px classified -> {', '.join(s.outputs)}", file=out)
        else:
            print(f"{s.name}: FAILED: {s.error}", file=out)
    failed = summary.failed
    rate = summary.pixels_per_second
    print(f"{len(summary.scenes)} scene(s): {len(summary.scenes) - len(failed)} done, {len(failed)} failed"
          + (f" ({', '.join(s.name for s in failed)})" if failed else "")
          + f"; {summary.pixels_computed} px computed in {summary.compute_seconds:.1f} s"
          + (f" ({rate:,.0f} px/s, {summary.workers} worker(s) x {summary.threads_per_worker} thread(s))"
             if rate else "")
          + f"; {summary.seconds:.1f} s in all", file=out)
