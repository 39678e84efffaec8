"""The batch worker (a Ray actor): one opened model and backend, the scene plans it needs; it classifies
its blocks through the engine's all-or-nothing writers and writes each block's manifest last.
"""
from __future__ import annotations

import collections
import os
import socket
import tempfile
from collections.abc import Callable

from ..classify.run import batch_size, classify_window, plan_scene
from ..errors import BDGFError
from ..model.package import ModelPackage
from ..progress import Progress, SilentProgress
from ..raster.read import GdalMessages, limit_gdal_cache
from ..settings import ClassifySettings
from .blocks import BlockDone, BlockTask, write_manifest
from .job import BatchJob


def open_backend(package: ModelPackage, settings: ClassifySettings, threads: int, progress: Progress):
    """The model's backend on `threads` CPU threads (a worker gets its share of its node's cores)."""
    if settings.backend == "onnx":
        from ..model.backends import OnnxBackend

        backend = OnnxBackend(package, settings.device, threads=threads, progress=progress)
        progress.log(f"Device actually used: {backend.describe()}")
        return backend
    import torch

    from ..model.backends import make_backend

    torch.set_num_threads(threads)
    return make_backend(package, settings.backend, settings.device, progress)


class _Collect(SilentProgress):
    """A worker's log: kept and sent back with the block (the driver prints it once)."""

    def __init__(self):
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        if message not in self.lines:
            self.lines.append(message)


class BlockWorker:
    """A Ray actor: one opened model and backend, plans per scene; classifies and writes blocks.

    The model arrives through Ray's object store (the driver's copy, so cluster nodes need no copy of the
    file); its content hash is checked against the driver's. This module never imports ray (batch/run.py
    does): the worker is a plain class that run.py makes an actor of."""

    PLANS_KEPT = 4  # scenes whose layers stay open

    def __init__(self, fetch_model: Callable[[], bytes], content_hash: str, job: BatchJob, threads: int):
        limit_gdal_cache()
        self.job = job
        self.log = _Collect()
        with tempfile.TemporaryDirectory(prefix="bdgf-worker-") as folder:
            path = os.path.join(folder, "model.bdgf")
            with open(path, "wb") as fh:
                fh.write(fetch_model())  # the driver's model from Ray's object store (run._fetch)
            self.package = ModelPackage(path)
            if self.package.content_hash != content_hash:
                raise BDGFError(f"The model a worker received has content hash {self.package.content_hash}, "
                                f"the driver's has {content_hash}.")
            self.backend = open_backend(self.package, job.settings, threads, self.log)
        self.plans: collections.OrderedDict = collections.OrderedDict()
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def ready(self) -> tuple[str, int, str]:
        return self.name, os.getpid(), self.backend.describe()

    def _plan(self, scene: int):
        if scene not in self.plans:
            s = self.job.scenes[scene]
            self.plans[scene] = plan_scene(self.package, s.inputs(), None, self.job.settings,
                                           bands=s.bands, nodata=s.nodata, scale=s.scale)
            while len(self.plans) > self.PLANS_KEPT:
                self.plans.popitem(last=False)
        self.plans.move_to_end(scene)
        return self.plans[scene]

    def run(self, task: BlockTask) -> BlockDone:
        log = _Collect()
        with GdalMessages(forward=lambda text: log.log(f"Warning: {text}")):
            plan = self._plan(task.scene)
            batch = batch_size(plan, self.job.settings, self.backend)
            result = classify_window(plan, self.backend, task.outputs(), task.window, batch, progress=log,
                                     qml=False)
        write_manifest(task, result.pixels_classified, result.seconds, self.name)
        return BlockDone(task, result.pixels_classified, result.seconds, self.name, tuple(log.lines))
