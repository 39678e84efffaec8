"""Batch jobs on Ray: many scenes and large mosaics, block by block (`python -m engine batch JOB.json`).

The driver (this process) checks every scene before any work (`classify.plan_scene`: layers against the
card, outputs and free space, a sample of the values) and splits each scene's reference grid into blocks
aligned to the model's tile grid (`tiling.plan_blocks`): a block's tiles are the single-process run's
tiles and its halo is read from the neighbouring pixels, so the mosaic equals `engine classify` bitwise.
Ray actors take the blocks; each opens the model once (one ONNX Runtime session) and writes its blocks
through the engine's all-or-nothing writers, then a small manifest per block (sizes and sha256 of its
files), last. A scene's result is a VRT over its blocks and, optionally, one Cloud-Optimized GeoTIFF,
with the colour table, category names and QML of the class raster.

Resuming: a block whose manifest matches (same model, layers, per-layer settings, tile size, backend,
window and products; files of the recorded size and checksum) is never recomputed, so rerunning a killed
job continues where it stopped. A scene that cannot be read fails alone; the summary says which and why.

Ray is imported only inside this module's functions: `import engine` never needs it (nor does QGIS).
"""
from __future__ import annotations

import collections
import functools
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from ..classify.run import plan_scene
from ..errors import BDGFError, one_line
from ..model.package import ModelPackage
from ..model.tiling import plan_blocks
from ..progress import Progress, SilentProgress
from ..raster.read import GdalMessages, limit_gdal_cache
from ..settings import ClassifySettings
from .blocks import BlockDone, BlockTask, check_block, remove_partials, scene_fingerprint
from .job import BatchJob, SceneJob
from .lock import JobLock
from .summary import BatchSummary, SceneReport
from .worker import BlockWorker

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # engine/, shipped to the nodes
TASKS_PER_WORKER = 2  # queued on each actor, so that it never waits for the driver
WORKER_REPLACEMENTS = 2  # per worker asked for: a worker that dies is replaced, its blocks computed again
START_TIMEOUT_S = 600  # no worker started by then: the cluster lacks the resources asked for


# ---------------------------------------------------------------- Ray

def _fetch(refs: list) -> bytes:
    """The bytes behind [ObjectRef] (a list: Ray passes it through unresolved), inside a worker."""
    import ray

    return ray.get(refs[0])


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start Ray for a batch run: a local Ray (address None; `num_cpus` cores, default all) or a running
    cluster (`ray start --head` ...). The engine's code travels with the job (runtime_env py_modules),
    so cluster nodes need only the Python packages (numpy, onnxruntime, ray, GDAL's bindings)."""
    import logging

    import ray

    runtime_env = {"py_modules": [ENGINE_DIR], "excludes": ["__pycache__", "*.pyc"]}
    common = {"runtime_env": runtime_env, "logging_level": logging.ERROR, "log_to_driver": True}
    try:
        if address:
            ray.init(address=address, **common)
        else:
            # "local": always a new Ray of this process, never a cluster `ray start` left running here
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if not address:
            raise BDGFError(f"Cannot start a local Ray: {exc}") from None
        raise BDGFError(
            f"Cannot connect to the Ray cluster at {address}: {one_line(str(exc))}. Check the address "
            "(`ray status` on the head node prints it) and, when the cluster uses token authentication, "
            "set RAY_AUTH_MODE=token here with the cluster's token (~/.ray/auth_token or RAY_AUTH_TOKEN)."
        ) from None


def _cluster_shape(ray, settings: ClassifySettings, workers: int | None) -> tuple[int, int, float]:
    """(workers, threads per worker, GPUs per worker) from the cluster's resources."""
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
    use_gpu = settings.device == "cuda" or (settings.device == "auto" and gpus > 0)
    if settings.device == "cuda" and gpus == 0:
        raise BDGFError("device=cuda was asked, but the Ray cluster has no GPU. Use device=auto or cpu, or "
                        "add GPU nodes (ray start ... --num-gpus N).")
    if workers is None:
        workers = gpus if use_gpu else cpus
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BDGFError(f"--workers must be at least 1, got {workers!r}.")
    threads = max(1, cpus // workers)
    return workers, threads, (1.0 if use_gpu else 0.0)


# ---------------------------------------------------------------- the driver

@dataclass
class _Scene:
    job_scene: SceneJob
    report: SceneReport
    tasks: list[BlockTask] = field(default_factory=list)
    left: int = 0  # blocks not written yet
    classified: int = 0
    warnings: set = field(default_factory=set)


def run_batch(job: BatchJob, *, address: str | None = None, workers: int | None = None,
              progress: Progress | None = None) -> BatchSummary:
    """Run a job: check every scene, compute the blocks not done yet on Ray, assemble each scene's VRT
    (and COG). Uses the running Ray session when there is one (else starts one, see `connect`, and stops
    it at the end). BDGFError before any work for what concerns the whole job (model, output folder,
    workers); a scene that cannot be read or written fails alone (its SceneReport says why)."""
    progress = progress or SilentProgress()
    started = time.perf_counter()
    limit_gdal_cache()
    package = ModelPackage(job.model)
    try:
        os.makedirs(job.out_dir, exist_ok=True)
    except OSError as exc:
        raise BDGFError(f"Cannot create the output folder {job.out_dir}: {exc.strerror or exc}") from None
    if not os.access(job.out_dir, os.W_OK):
        raise BDGFError(f"The output folder {job.out_dir} is not writable. Choose another out_dir.")
    with JobLock(job.out_dir):  # one driver per job: a second one would delete the first one's files
        return _run_locked(job, package, address, workers, progress, started)


def _run_locked(job: BatchJob, package: ModelPackage, address, workers, progress: Progress,
                started: float) -> BatchSummary:
    scenes = [_prepare(job, i, package, progress) for i in range(len(job.scenes))]
    pending = [t for s in scenes if s.report.status == "pending" for t in s.tasks
               if not _reuse(t, s, progress)]
    total = sum(s.report.blocks for s in scenes)
    progress.log(f"{len(job.scenes)} scene(s), {total} block(s): {total - len(pending)} already done, "
                 f"{len(pending)} to compute")
    for s in scenes:
        if s.report.status == "pending" and s.left == 0:
            _assemble(job, s, package, progress)
    shape, ray_seconds, compute = (0, 0), 0.0, (0.0, 0)
    if pending:
        shape, ray_seconds, compute = _compute(job, scenes, pending, package, address, workers, progress)
    summary = BatchSummary([s.report for s in scenes], shape[0], shape[1],
                           round(time.perf_counter() - started, 3), round(ray_seconds, 3),
                           round(compute[0], 3), compute[1])
    return summary


def _prepare(job: BatchJob, index: int, package: ModelPackage, progress: Progress) -> _Scene:
    """Check a scene before any work and list its blocks; a scene that fails here is reported failed."""
    scene = job.scenes[index]
    state = _Scene(scene, SceneReport(scene.name))
    folder = job.scene_dir(scene)
    try:
        os.makedirs(os.path.join(folder, "blocks"), exist_ok=True)
        final = job.cog_outputs(scene) or job.mosaic_outputs(scene)
        with GdalMessages(forward=lambda text: state.warnings.add(f"Warning: {text}")):
            plan = plan_scene(package, scene.inputs(), final, job.settings, bands=scene.bands,
                              nodata=scene.nodata, scale=scene.scale)
    except (BDGFError, OSError) as exc:
        for empty in (os.path.join(folder, "blocks"), folder):  # leave no empty folder for a failed scene
            try:
                os.rmdir(empty)
            except OSError:
                pass
        state.report.status, state.report.error = "failed", one_line(str(exc))
        progress.log(f"Scene {scene.name}: FAILED before any work: {state.report.error}")
        return state
    for warning in [*sorted(state.warnings), *(f"Warning: {w}" for w in plan.warnings)]:
        progress.log(f"Scene {scene.name}: {warning}")
    fingerprint = scene_fingerprint(job, scene, package.content_hash, plan.tile)
    blocks = plan_blocks(plan.grid.height, plan.grid.width, plan.tile, job.block_size_px)
    state.tasks = [BlockTask(index, b, os.path.join(folder, "blocks", f"r{b[0]:06d}_c{b[1]:06d}"),
                             job.products(), fingerprint) for b in blocks]
    state.report.blocks = state.left = len(blocks)
    state.report.pixels = plan.grid.width * plan.grid.height
    remove_partials(os.path.join(folder, "blocks"))
    progress.log(f"Scene {scene.name}: {plan.grid.describe()}; {len(blocks)} block(s) of up to "
                 f"{blocks[0][2]} x {blocks[0][3]} px (tile {plan.tile} px + halo {plan.halo} px)")
    return state


def _reuse(task: BlockTask, state: _Scene, progress: Progress) -> bool:
    manifest, why = check_block(task)
    if manifest is None:
        if why != "not done":
            block = os.path.basename(task.prefix)
            progress.log(f"Scene {state.report.name}: block {block} is computed again: {why}")
        return False
    state.report.reused += 1
    state.left -= 1
    state.classified += int(manifest.get("pixels_classified", 0))
    return True


def _compute(job, scenes, pending, package, address, workers, progress):
    import ray

    t0 = time.perf_counter()
    own = not ray.is_initialized()
    if own:
        handlers = _signal_handlers()
        connect(address)
        _restore(handlers)  # Ray replaces SIGTERM's handler: the CLI's (exit 143, one line) comes back
    pool = None
    try:
        n, threads, gpus = _cluster_shape(ray, job.settings, workers)
        ray_seconds = time.perf_counter() - t0
        progress.log(f"Ray: {n} worker(s) x {threads} thread(s){' + 1 GPU' if gpus else ''} "
                     f"(Ray ready in {ray_seconds:.1f} s)")
        with open(job.model, "rb") as fh:
            model_ref = ray.put(fh.read())
        actor_class = ray.remote(BlockWorker).options(num_cpus=threads, num_gpus=gpus)
        # the model reaches each worker through the object store, fetched in the actor (also when Ray
        # restarts it): the driver's copy, so cluster nodes need no copy of the file
        fetch = functools.partial(_fetch, [model_ref])
        pool = _Pool(ray, lambda: actor_class.remote(fetch, package.content_hash, job, threads), n)
        compute = _dispatch(ray, job, scenes, pending, pool, package, progress)
        return (n, threads), ray_seconds, compute
    finally:
        if pool is not None:
            pool.close()
        if own:
            ray.shutdown()
        for state in scenes:  # what killed or interrupted workers left half-written
            remove_partials(os.path.join(job.scene_dir(state.job_scene), "blocks"))


def _signal_handlers() -> dict:
    """This process's SIGINT / SIGTERM handlers (main thread only: elsewhere nothing to restore)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}


def _restore(handlers: dict) -> None:
    for number, handler in handlers.items():
        if handler is not None:
            signal.signal(number, handler)


class _Pool:
    """The workers: started ones with the blocks queued on each, starting ones, and replacements for
    workers that die (a killed process, a lost node): up to WORKER_REPLACEMENTS per worker asked for."""

    def __init__(self, ray, spawn, n: int):
        self.ray, self.spawn = ray, spawn
        self.replacements_left = WORKER_REPLACEMENTS * n
        self.starting = {}  # ready() future -> actor
        self.load = {}  # started actor -> blocks queued on it
        self.start_errors: list[str] = []
        for _ in range(n):
            self._start()

    def _start(self) -> None:
        actor = self.spawn()
        self.starting[actor.ready.remote()] = actor

    def idle(self) -> list:
        return [a for a, n in self.load.items() if n < TASKS_PER_WORKER]

    def started(self, future, progress: Progress) -> None:
        actor = self.starting.pop(future)
        try:
            name, _pid, describe = self.ray.get(future)
        except Exception as exc:  # the model or backend cannot be opened there: its message says why
            self.start_errors.append(_cause(exc))
            progress.log(f"A worker could not start: {self.start_errors[-1]}")
            return
        self.load[actor] = 0
        progress.log(f"Worker {name} ready: {describe}")

    def died(self, actor, progress: Progress) -> None:
        """A worker died: forget it and start another (once per dead worker)."""
        if self.load.pop(actor, None) is None:
            return
        if self.replacements_left > 0:
            self.replacements_left -= 1
            progress.log("A worker died; starting another one. Its blocks are computed again.")
            self._start()

    def close(self) -> None:
        for actor in [*self.load, *self.starting.values()]:
            self.ray.kill(actor)


def _dispatch(ray, job, scenes, pending, pool: _Pool, package, progress) -> tuple[float, int]:
    """Hand out blocks to the workers that started, TASKS_PER_WORKER at a time; returns (seconds, pixels)."""
    queue = collections.deque(pending)
    inflight: dict = {}  # future -> (actor, task)
    attempts: collections.Counter = collections.Counter()
    t0, done, pixels, total = None, 0, 0, len(pending)
    waited = time.perf_counter()
    while True:
        for actor in pool.idle():
            while queue and pool.load[actor] < TASKS_PER_WORKER:
                task = queue.popleft()
                if scenes[task.scene].report.status == "failed":
                    continue
                t0 = t0 or time.perf_counter()
                inflight[actor.run.remote(task)] = (actor, task)
                pool.load[actor] += 1
        if not queue and not inflight:
            break
        if not inflight and not pool.starting and not pool.load:
            reason = pool.start_errors[0] if pool.start_errors else "every worker died"
            for task in queue:
                _fail(scenes[task.scene], f"no worker left to compute it: {reason}", progress)
            break
        ready, _ = ray.wait(list(pool.starting) + list(inflight), num_returns=1, timeout=10)
        if not ready:
            if not pool.load and time.perf_counter() - waited > START_TIMEOUT_S:
                raise BDGFError(f"No Ray worker started within {START_TIMEOUT_S} s: the cluster lacks the "
                                "CPUs / GPUs asked for (see `ray status`); use fewer --workers.")
            continue
        future = ready[0]
        if future in pool.starting:
            pool.started(future, progress)
            continue
        actor, task = inflight.pop(future)
        state, block = scenes[task.scene], os.path.basename(task.prefix)
        try:
            result: BlockDone = ray.get(future)
        except ray.exceptions.RayActorError as exc:  # the worker process died (killed, node lost)
            pool.died(actor, progress)
            attempts[task] += 1
            if attempts[task] > WORKER_REPLACEMENTS:
                _fail(state, f"block {block}: its worker died {attempts[task]} times ({_cause(exc)})",
                      progress)
            else:
                queue.appendleft(task)
            continue
        except Exception as exc:  # a block that cannot be read or written: its scene fails
            pool.load[actor] -= 1
            _fail(state, f"block {block}: {_cause(exc)}", progress)
            continue
        pool.load[actor] -= 1
        done, pixels = done + 1, pixels + task.pixels
        state.report.computed += 1
        state.left -= 1
        state.classified += result.pixels_classified
        for line in result.warnings:
            if line not in state.warnings:
                state.warnings.add(line)
                progress.log(f"Scene {state.report.name}: {line}")
        elapsed = time.perf_counter() - t0
        progress.log(f"[batch] {done}/{total} blocks · scene {state.report.name} "
                     f"{state.report.computed + state.report.reused}/{state.report.blocks} · "
                     f"{pixels / max(elapsed, 1e-9):,.0f} px/s · {elapsed:.1f} s")
        progress.set_progress(100.0 * done / total)
        if state.left == 0 and state.report.status == "pending":
            _assemble(job, state, package, progress)
    return (time.perf_counter() - t0 if t0 else 0.0), pixels


def _cause(exc: BaseException) -> str:
    """The message of what went wrong on a worker: the original exception of a Ray task error, or the
    last line of a Ray error's text (where Ray quotes the worker's traceback)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return one_line(str(cause))
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error: " in line]
    return (errors[-1] if errors else lines[0] if lines else type(exc).__name__)[:500]


def _fail(state: _Scene, reason: str, progress: Progress) -> None:
    if state.report.status != "failed":
        state.report.status, state.report.error = "failed", reason
        progress.log(f"Scene {state.report.name}: FAILED: {reason}")


def _assemble(job: BatchJob, state: _Scene, package: ModelPackage, progress: Progress) -> None:
    """The scene's VRT over its blocks (and COG): all or nothing, like every output."""
    from ..classify.writers import product_layout
    from ..raster.mosaic import write_cog, write_vrt

    scene, report = state.job_scene, state.report
    report.pixels_classified = state.classified
    remove_partials(os.path.join(job.scene_dir(scene), "blocks"))  # left by workers that died
    if not state.classified:
        _fail(state, "no pixel was classified: every pixel is nodata in at least one layer (check each "
                     "layer's nodata value and that the layers cover the same place)", progress)
        return
    card = package.card
    meta = {"bdgf_model": card.get("name", ""), "bdgf_content_hash": package.content_hash}
    mosaics, cogs = job.mosaic_outputs(scene), job.cog_outputs(scene)
    try:
        for product in job.products():
            vrt = getattr(mosaics, product)
            sources = [getattr(t.outputs(), product) for t in state.tasks]
            bands, classes, qml = product_layout(product, card)
            report.outputs.append(write_vrt(vrt, sources, classes=classes, band_names=bands, metadata=meta,
                                            qml=qml))
            if cogs:
                cog = getattr(cogs, product)
                if report.computed or not os.path.exists(cog):
                    write_cog(cog, vrt, classes=classes, qml=qml)
                report.outputs.append(cog)
    except BDGFError as exc:
        _fail(state, one_line(str(exc)), progress)
        return
    report.status = "done"
    progress.log(f"Scene {scene.name}: done ({report.computed} block(s) computed, {report.reused} reused, "
                 f"{report.pixels_classified} px classified): {', '.join(report.outputs)}")


