"""Run context: device, mixed precision, torchrun (DDP) ranks, logging to train.log, progress bars."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from engine.errors import BDGFError
from engine.raster.read import GdalMessages
from training.progress_stream import BAR_STAGES, ProgressWriter


@dataclass
class RunContext:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    amp_dtype: torch.dtype | None = None  # bf16 / fp16 autocast on CUDA only
    log: logging.Logger | None = None
    gdal_messages: GdalMessages | None = None  # GDAL's warnings -> log, while logging is set up
    stream: ProgressWriter | None = None  # --progress-stream: machine-readable progress on stdout
    stage: str = "prepare"  # the stage running now (the stream's events name it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def info(self, message: str) -> None:
        if self.log is not None and self.is_main:
            self.log.info(message)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def progress(self, total: int, desc: str, initial: int = 0):
        """tqdm bar with ETA on rank 0 (disabled elsewhere, or by TQDM_DISABLE=1); with a progress stream,
        the stage's bars (BAR_STAGES) also move the whole run's percent."""
        off = not self.is_main or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
        bar = tqdm(total=total, initial=initial, desc=desc, disable=off, leave=False,
                   dynamic_ncols=True, mininterval=1.0, file=sys.stderr)
        if self.stream is None or not self.is_main or BAR_STAGES.get(desc) != self.stage:
            return bar
        return _StreamedBar(bar, self.stream, self.stage, total, initial)

    def start_stage(self, stage: str) -> None:
        """A stage begins (the stream says so at once)."""
        self.stage = stage
        if self.stream is not None and self.is_main:
            self.stream.update(stage, force=True)


class _StreamedBar:
    """A tqdm bar whose updates (and losses, from set_postfix) also go to the progress stream."""

    def __init__(self, bar, stream: ProgressWriter, stage: str, total: int, initial: int):
        self.bar, self.stream, self.stage, self.total, self.n = bar, stream, stage, total, initial
        self.loss: float | None = None

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        self.n += n
        self.stream.update(self.stage, self.n, self.total, self.loss, force=self.n >= self.total)

    def set_postfix(self, refresh: bool = False, **values) -> None:
        self.bar.set_postfix(refresh=refresh, **values)
        loss = values.get("loss")
        try:
            self.loss = None if loss is None else float(loss)
        except ValueError:
            pass

    def close(self) -> None:
        self.bar.close()

    def __getattr__(self, name):
        return getattr(self.bar, name)


def make_context(device: str = "auto") -> RunContext:
    """Pick the device, initialise torch.distributed when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise BDGFError(f"--device cuda was requested, but PyTorch {torch.__version__} sees no CUDA GPU; "
                        "use --device auto or cpu")
    use_cuda = device != "cpu" and cuda
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dev, amp = torch.device("cpu"), None
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return RunContext(device=dev, rank=rank, world=world, local_rank=local_rank, amp_dtype=amp)


def setup_logging(ctx: RunContext, out_dir: Path) -> logging.Logger:
    """Logger writing to out_dir/train.log (rank 0) and to stderr; GDAL's warnings (e.g. a label polygon
    GDAL had to repair) go to it too, instead of only to stderr where a finished run's log misses them."""
    logger = logging.getLogger(f"bdgf.train.{out_dir}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(out_dir / "train.log", encoding="utf-8")
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    ctx.log = logger
    if ctx.gdal_messages is None:
        ctx.gdal_messages = GdalMessages(forward=logger.warning)
        ctx.gdal_messages.__enter__()
    return logger


def close_logging(ctx: RunContext) -> None:
    if ctx.gdal_messages is not None:
        ctx.gdal_messages.__exit__(None, None, None)
        ctx.gdal_messages = None
    if ctx.log is not None:
        for handler in list(ctx.log.handlers):
            ctx.log.removeHandler(handler)
            handler.close()


def all_reduce_mean(tensor: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    if ctx.distributed:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        tensor /= ctx.world
    return tensor
