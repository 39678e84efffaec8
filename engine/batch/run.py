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
import hashlib
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from ..classify.run import batch_size, classify_window, plan_scene
from ..errors import BDGFError
from ..model.package import ModelPackage
from ..model.tiling import plan_blocks
from ..progress import Progress, SilentProgress
from ..raster.atomic import PARTIAL, atomic_file, remove_quietly
from ..raster.read import GdalMessages, limit_gdal_cache
from ..settings import ClassifyOutputs, ClassifySettings
from .job import BatchJob, SceneJob

ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))
MANIFEST_FORMAT = "bdgf-block"
TASKS_PER_WORKER = 2  # queued on each actor, so that it never waits for the driver
WORKER_REPLACEMENTS = 2  # per worker asked for: a worker that dies is replaced, its blocks computed again
START_TIMEOUT_S = 600  # no worker started by then: the cluster lacks the resources asked for


# ---------------------------------------------------------------- what runs where

@dataclass(frozen=True)
class BlockTask:
    """One block of one scene: its window on the reference grid and where its files go."""

    scene: int  # index in job.scenes
    window: tuple[int, int, int, int]
    prefix: str  # <scene dir>/blocks/r000000_c000000: files <prefix>.<product>.tif, manifest <prefix>.json
    products: tuple[str, ...]
    fingerprint: str

    def outputs(self) -> ClassifyOutputs:
        paths = {p: f"{self.prefix}.{p}.tif" for p in self.products}
        return ClassifyOutputs(**paths)

    @property
    def manifest(self) -> str:
        return self.prefix + ".json"

    @property
    def pixels(self) -> int:
        return self.window[2] * self.window[3]


@dataclass(frozen=True)
class BlockDone:
    task: BlockTask
    pixels_classified: int
    seconds: float
    worker: str
    warnings: tuple[str, ...] = ()


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


# ---------------------------------------------------------------- block files and manifests

def scene_fingerprint(job: BatchJob, scene: SceneJob, content_hash: str, tile: int) -> str:
    """What a block's pixels depend on: model, layers and their per-layer settings, tile size, backend,
    products. A manifest with another fingerprint is stale."""
    key = {"model": content_hash, "inputs": scene.inputs(), "bands": scene.bands, "nodata": scene.nodata,
           "scale": scene.scale, "tile": tile, "backend": job.settings.backend, "products": job.products()}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(task: BlockTask, pixels_classified: int, seconds: float, worker: str) -> None:
    """The block's manifest, written last (temporary file + rename): its presence means the block is done."""
    files = {}
    for product, path in zip(task.products, task.outputs().paths()):
        files[product] = {"name": os.path.basename(path), "bytes": os.path.getsize(path),
                          "sha256": _sha256(path)}
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "fingerprint": task.fingerprint,
                "window": list(task.window), "files": files, "pixels_classified": pixels_classified,
                "seconds": seconds, "worker": worker}
    with atomic_file(task.manifest, "w") as fh:
        json.dump(manifest, fh, indent=1)


def check_block(task: BlockTask) -> tuple[dict | None, str]:
    """(manifest, '') when the block's files are complete and match its manifest, else (None, why not)."""
    try:
        with open(task.manifest, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except FileNotFoundError:
        return None, "not done"
    except (OSError, ValueError) as exc:
        return None, f"unreadable manifest ({exc})"
    if manifest.get("fingerprint") != task.fingerprint:
        return None, "made with another model, layers or settings"
    if manifest.get("window") != list(task.window):
        return None, "another window"
    files = manifest.get("files", {})
    for product, path in zip(task.products, task.outputs().paths()):
        entry = files.get(product)
        if not entry or not os.path.isfile(path):
            return None, f"{product} file missing"
        if os.path.getsize(path) != entry.get("bytes") or _sha256(path) != entry.get("sha256"):
            return None, f"{os.path.basename(path)} differs from its manifest (size or checksum)"
    return manifest, ""


# ---------------------------------------------------------------- the worker (a Ray actor)

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
    file); its content hash is checked against the driver's."""

    PLANS_KEPT = 4  # scenes whose layers stay open

    def __init__(self, model: list, content_hash: str, job: BatchJob, threads: int):
        import ray

        limit_gdal_cache()
        self.job = job
        self.log = _Collect()
        with tempfile.TemporaryDirectory(prefix="bdgf-worker-") as folder:
            path = os.path.join(folder, "model.bdgf")
            with open(path, "wb") as fh:
                fh.write(ray.get(model[0]))  # [ObjectRef]: fetched here, also when Ray restarts the actor
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


# ---------------------------------------------------------------- Ray

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
            f"Cannot connect to the Ray cluster at {address}: {_one_line(str(exc))}. Check the address "
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
        state.report.status, state.report.error = "failed", _one_line(str(exc))
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
    _remove_partials(os.path.join(folder, "blocks"))
    progress.log(f"Scene {scene.name}: {plan.grid.describe()}; {len(blocks)} block(s) of up to "
                 f"{blocks[0][2]} x {blocks[0][3]} px (tile {plan.tile} px + halo {plan.halo} px)")
    return state


def _remove_partials(folder: str) -> None:
    """Temporary files a killed worker left (its writers could not clean up after SIGKILL)."""
    for name in os.listdir(folder):
        if PARTIAL in name:
            remove_quietly(os.path.join(folder, name))


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
        connect(address)
    pool = None
    try:
        n, threads, gpus = _cluster_shape(ray, job.settings, workers)
        ray_seconds = time.perf_counter() - t0
        progress.log(f"Ray: {n} worker(s) x {threads} thread(s){' + 1 GPU' if gpus else ''} "
                     f"(Ray ready in {ray_seconds:.1f} s)")
        with open(job.model, "rb") as fh:
            model_ref = ray.put(fh.read())
        actor_class = ray.remote(BlockWorker).options(num_cpus=threads, num_gpus=gpus)
        pool = _Pool(ray, lambda: actor_class.remote([model_ref], package.content_hash, job, threads), n)
        compute = _dispatch(ray, job, scenes, pending, pool, package, progress)
        return (n, threads), ray_seconds, compute
    finally:
        if pool is not None:
            pool.close()
        if own:
            ray.shutdown()


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
        return _one_line(str(cause))
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
    _remove_partials(os.path.join(job.scene_dir(scene), "blocks"))  # left by workers that died
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
        _fail(state, _one_line(str(exc)), progress)
        return
    report.status = "done"
    progress.log(f"Scene {scene.name}: done ({report.computed} block(s) computed, {report.reused} reused, "
                 f"{report.pixels_classified} px classified): {', '.join(report.outputs)}")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:1] + ["; ".join(lines[1:])]).strip()


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
