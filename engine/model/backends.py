"""Inference backends with one interface: ONNX Runtime (default) and PyTorch eager.

    features(x_tile, noise) -> feats      x_tile (1, C, H, W), noise (K, C, H, W) or a tiling.TileNoise
                                          (made on the device that uses it) -> (1, F, H, W)
    classify(x_patches, d_patches) -> probs   (B, C, P, P), (B, F, P, P) -> (B, n_classes)
    dense_maps(x_window, d_window) -> tables  (1, C, H, W), (1, F, H, W) -> one (H*W, M) table per
                                              branch (opaque: numpy or device tensors, for dense_pixels)
    dense_pixels(tables, index) -> probs      index (B, P*P) int64 window positions -> (B, n_classes)
    probabilities_branches / dense_pixels_branches -> (probs, branch_probs (B, n_branches, n_classes)): the
                                              same probs (bitwise) and each branch's softmax; when
                                              `branches` (ONNX: graphs with the output branch_probs)

`classify` is the patchwise classifier (the reference: tests, benchmarks, packages without the dense
graphs); `dense_maps` + `dense_pixels` compute the same probabilities sharing the work of overlapping
patches (engine/nn/dense.py). `dense` says whether a backend has them.

All arrays are float32 numpy. torch / onnxruntime are imported inside functions only.

Device policy: "auto" uses CUDA when it is really obtained, otherwise the CPU (with a log line);
"cuda" fails with BDGFError when CUDA cannot be used; "cpu" never tries CUDA.
The device actually used is read back after creation (session.get_providers() for ONNX Runtime),
never guessed from what is installed.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np

from ..errors import BDGFError
from ..progress import Progress, SilentProgress
from ..settings import BACKENDS, CPU_EP, CUDA_EP, DEVICES, onnx_providers
from .package import BRANCH_OUTPUT, ModelPackage
from .tiling import TileNoise, noise_array

_CUDA_EP, _CPU_EP = CUDA_EP, CPU_EP


def cpu_threads() -> int:
    """CPU cores this process may run on (affinity-aware), at most OMP_NUM_THREADS when that is set (the
    limit PyTorch and numpy's BLAS obey too: one variable caps every backend, e.g. on a shared CPU, where
    two threads competing with another job ran several times slower than one)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cores = max(1, os.cpu_count() or 1)
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(cores, int(limit)) if limit.isdigit() and int(limit) > 0 else cores


def _check_device(device: str) -> str:
    if device not in DEVICES:
        raise BDGFError(f"Unknown device {device!r}; expected one of {', '.join(DEVICES)}.")
    return device


def _missing_package(name: str, exc: Exception) -> BDGFError:
    from .environment import install_hint

    return BDGFError(f"The {name} package is needed for this backend but cannot be imported ({exc}). "
                     f"Install it with: {install_hint([name])}")


# The dense classifier's small per-pixel ops leave ONNX Runtime's intra-op threads waiting on each other:
# on 2 cores, 2 strips at once on 1 thread each ran the per-pixel graph at 71,700 px/s against 41,400 with
# 1 strip on 2 threads, and the per-window graph 1.5x faster (`cpu` preset, version 3, Augsburg-size
# scene). More than a few strips in flight only add memory (each holds its tables): on more cores each
# worker gets several threads.
MAX_STRIP_WORKERS = 4


def strip_workers(threads: int) -> tuple[int, int]:
    """(strips in flight, intra-op threads of each) for the dense classifier on `threads` CPU threads."""
    workers = max(1, min(int(threads), MAX_STRIP_WORKERS))
    return workers, max(1, int(threads) // workers)


class Backend:
    """Common interface; subclasses set `name` and `device` ("cpu" or "cuda")."""

    name = "base"
    device = "cpu"
    dense = False
    branches = False
    threads = 1  # CPU threads it computes on (the tile noise is made on as many)
    workers = 1  # dense strips it computes at once (model.pixel_probs), each on threads // workers threads

    def features(self, x_tile: np.ndarray, noise: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @cached_property
    def strip_pool(self) -> ThreadPoolExecutor:
        """The `workers` threads that compute dense strips at once (model.pixel_probs), made once per
        backend: with new threads for every tile, the peak RSS of a 2.6-Mpx mosaic rose 16-23 % above the
        Augsburg-size scene's, with the same threads 9 % (glibc keeps memory per thread). Its threads end
        when the backend is collected."""
        return ThreadPoolExecutor(self.workers, "bdgf-strip")

    def probabilities(self, x_patches: np.ndarray, d_patches: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def probabilities_branches(self, x_patches: np.ndarray, d_patches: np.ndarray) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def dense_pixels_branches(self, tables, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def dense_maps(self, x_window: np.ndarray, d_window: np.ndarray) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def dense_pixels(self, tables: tuple[np.ndarray, ...], index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} on {self.device}"


# ---------------------------------------------------------------- ONNX Runtime

class OnnxBackend(Backend):
    """Two ONNX Runtime sessions (features, classifier) built from the package's bytes."""

    name = "onnx"

    def __init__(self, package: ModelPackage, device: str = "auto", threads: int | None = None,
                 progress: Progress | None = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise _missing_package("onnxruntime", exc) from exc
        progress = progress or SilentProgress()
        device = _check_device(device)
        want_cuda = device in ("auto", "cuda")
        has_cuda_ep = _CUDA_EP in ort.get_available_providers()
        if device == "cuda" and not has_cuda_ep:
            raise BDGFError(
                "device=cuda was requested, but this ONNX Runtime has no CUDA support "
                f"(onnxruntime {ort.__version__}, providers: {', '.join(ort.get_available_providers())}). "
                "Install onnxruntime-gpu instead of onnxruntime (never both), or use device=auto/cpu.")
        providers = onnx_providers(ort.get_available_providers(), device)
        threads = threads or cpu_threads()
        workers, per_worker = strip_workers(threads)

        def session_options(arena: bool = True, intra: int = threads):
            options = ort.SessionOptions()
            options.intra_op_num_threads = intra
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            options.enable_cpu_mem_arena = arena
            return options

        options = session_options()
        if _CUDA_EP in providers:
            # a CUDA provider that fails to load logs errors; we report the fallback ourselves
            ort.set_default_logger_severity(4)
        try:
            self._features = self._session(ort, package, "features", options, providers)
            self._classifier = self._session(ort, package, "classifier", options, providers)
            self.dense = package.has_dense
            self.branches = package.has_branch_probs
            if self.dense:
                # no CPU arena: with it the many mid-size tensors of these graphs raised the peak RSS
                # by ~300 MB (Augsburg-size run: 912 -> 580 MB), at the same speed
                lean = session_options(arena=False, intra=per_worker)
                self._maps = self._session(ort, package, "classifier_maps", lean, providers)
                self._pixels = self._session(ort, package, "classifier_pixels", lean, providers)
                self._tables = [o.name for o in self._maps.get_outputs()]
            else:
                progress.log("This model package has no dense classifier graphs (it was written before "
                             "them): the patchwise classifier runs, slower. Add them from the "
                             "package's own weights: python -m training.export_model --add-dense MODEL.bdgf")
        finally:
            if _CUDA_EP in providers:
                ort.set_default_logger_severity(2)
        used = [s.get_providers() for s in (self._features, self._classifier)]
        on_cuda = all(_CUDA_EP in p for p in used)
        self.device = "cuda" if on_cuda else "cpu"
        self.threads = options.intra_op_num_threads
        # dense strips in flight at once (pixel_probs): on a GPU one, its kernels queue on one stream
        self.workers = workers if self.device == "cpu" and self.dense else 1
        if want_cuda and has_cuda_ep and not on_cuda:
            message = ("CUDA was requested but ONNX Runtime could not use it (CUDA/cuDNN libraries "
                       "missing or no GPU); ")
            if device == "cuda":
                raise BDGFError(message + "stopping because device=cuda was asked explicitly. "
                                "Use device=auto to fall back to the CPU.")
            progress.log("Warning: " + message + "running on the CPU instead.")

    @staticmethod
    def _session(ort, package, name, options, providers):
        try:
            return ort.InferenceSession(package.onnx(name), sess_options=options, providers=providers)
        except BDGFError:
            raise
        except Exception as exc:  # ORT raises its own exception types
            raise BDGFError(f"{package.path}: the {name} graph cannot be loaded by ONNX Runtime ({exc}).") \
                from exc

    def features(self, x_tile, noise):
        return self._features.run(["feats"], {"x": _f32(x_tile), "noise": _f32(noise_array(noise))})[0]

    def probabilities(self, x_patches, d_patches):
        return self._classifier.run(["probs"], {"x": _f32(x_patches), "d": _f32(d_patches)})[0]

    def dense_maps(self, x_window, d_window):
        return tuple(self._maps.run(self._tables, {"x": _f32(x_window), "d": _f32(d_window)}))

    def dense_pixels(self, tables, index):
        return self._pixels.run(["probs"], self._pixel_feeds(tables, index))[0]

    def probabilities_branches(self, x_patches, d_patches):
        feeds = {"x": _f32(x_patches), "d": _f32(d_patches)}
        probs, branch = self._classifier.run(["probs", BRANCH_OUTPUT], feeds)
        return probs, branch

    def dense_pixels_branches(self, tables, index):
        probs, branch = self._pixels.run(["probs", BRANCH_OUTPUT], self._pixel_feeds(tables, index))
        return probs, branch

    def _pixel_feeds(self, tables, index) -> dict:
        feeds = dict(zip(self._tables, tables))
        feeds["index"] = np.ascontiguousarray(index, dtype=np.int64)
        return feeds

    def describe(self):
        extra = f", {self.threads} thread{'s' * (self.threads != 1)}" if self.device == "cpu" else ""
        return f"ONNX Runtime on {self.device}{extra}" + ("" if self.dense else ", patchwise classifier")


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


# ---------------------------------------------------------------- PyTorch

class TorchBackend(Backend):
    """The engine.nn modules rebuilt from card["network"], weights loaded strictly, eval + no_grad."""

    name = "torch"

    def __init__(self, package: ModelPackage, device: str = "auto", progress: Progress | None = None):
        try:
            import torch
        except ImportError as exc:
            raise _missing_package("torch", exc) from exc
        from ..nn.bdgf import BDGFClassifier
        from ..nn.config import BDGFConfig
        from ..nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
        from ..nn.dense_versions import dense_classifier

        progress = progress or SilentProgress()
        device = _check_device(device)
        cuda_ok = torch.cuda.is_available()
        if device == "cuda" and not cuda_ok:
            raise BDGFError("device=cuda was requested, but PyTorch sees no CUDA GPU "
                            f"(torch {torch.__version__}). Use device=auto or cpu.")
        if device == "auto" and not cuda_ok:
            progress.log("No CUDA GPU visible to PyTorch: running on the CPU.")
        self._torch = torch
        self._dev = torch.device("cuda" if device != "cpu" and cuda_ok else "cpu")
        self.device = self._dev.type
        if self.device == "cuda":
            # fp32 as on the CPU: cuDNN's default TF32 convolutions round inputs to 10 mantissa bits, so
            # classes depended on tile sizes (docs/METHOD_DECISIONS.md, Dense inference). Process-wide.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        try:
            cfg = BDGFConfig.from_dict(package.card["network"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BDGFError(f"{package.path}: the card's 'network' section cannot be read ({exc}).") from exc
        ddpm = self._load(MultimodalDDPM(cfg), package, "ddpm.")
        timesteps = package.card.get("diffusion", {}).get("timesteps")
        self._features = DiffusionFeatureExtractor(ddpm, timesteps).to(self._dev).eval()
        self._classifier = self._load(BDGFClassifier(cfg), package, "classifier.")
        self._dense = dense_classifier(self._classifier).eval()
        self.dense = True
        self.branches = True  # rebuilt from the weights: every branch's softmax is at hand

    def _load(self, module, package, prefix):
        torch = self._torch
        state = {k: torch.from_numpy(np.array(v)) for k, v in package.tensors(prefix).items()}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BDGFError(f"{package.path}: weights '{prefix}*' do not match the card's network "
                            f"({str(exc).splitlines()[0]}).") from exc
        return module.to(self._dev).eval()

    def _run(self, module, *arrays):
        torch = self._torch
        with torch.inference_mode():
            tensors = [torch.from_numpy(_f32(a)).to(self._dev, non_blocking=True) for a in arrays]
            return module(*tensors).float().cpu().numpy()

    def dense_maps(self, x_window, d_window):
        torch = self._torch
        with torch.inference_mode():
            x, d = (torch.from_numpy(_f32(a)).to(self._dev) for a in (x_window, d_window))
            return tuple(self._dense.maps(x, d))  # tensors: they stay on the device for dense_pixels

    def dense_pixels(self, tables, index):
        return self._pixels(self._dense.pixels, tables, index)

    def dense_pixels_branches(self, tables, index):
        return self._pixels(self._dense.pixels_branches, tables, index)

    def _pixels(self, method, tables, index):
        torch = self._torch
        with torch.inference_mode():
            index = torch.from_numpy(np.ascontiguousarray(index, dtype=np.int64)).to(self._dev)
            return _numpy(method(*tables, index))

    def probabilities_branches(self, x_patches, d_patches):
        torch = self._torch
        with torch.inference_mode():
            x, d = (torch.from_numpy(_f32(a)).to(self._dev) for a in (x_patches, d_patches))
            return _numpy(self._classifier.forward_branches(x, d))

    def features(self, x_tile, noise):
        if isinstance(noise, TileNoise) and self.device == "cuda":  # made on the GPU, not copied there
            torch = self._torch
            with torch.inference_mode():
                x = torch.from_numpy(_f32(x_tile)).to(self._dev)
                return self._features(x, noise.tensor(self._dev)).float().cpu().numpy()
        return self._run(self._features, x_tile, noise_array(noise))

    def probabilities(self, x_patches, d_patches):
        return self._run(self._classifier, x_patches, d_patches)

    @property
    def threads(self) -> int:
        return self._torch.get_num_threads()

    def describe(self):
        n = self._torch.get_num_threads()
        extra = f", {n} thread{'s' * (n != 1)}" if self.device == "cpu" else ""
        return f"PyTorch eager on {self.device}{extra}"


def _numpy(result):
    """A torch tensor, or a tuple of them, as float32 numpy arrays."""
    if isinstance(result, tuple):
        return tuple(_numpy(t) for t in result)
    return result.float().cpu().numpy()


def make_backend(package: ModelPackage, backend: str = "onnx", device: str = "auto",
                 progress: Progress | None = None) -> Backend:
    """Build the backend and log the device actually used."""
    progress = progress or SilentProgress()
    if backend == "onnx":
        made = OnnxBackend(package, device, progress=progress)
    elif backend == "torch":
        made = TorchBackend(package, device, progress=progress)
    else:
        raise BDGFError(f"Unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}.")
    progress.log(f"Device actually used: {made.describe()}")
    return made
