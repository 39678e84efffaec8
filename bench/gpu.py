"""GPU checks and throughput (issue 12): python -m bench.gpu [--device cuda] [--networks cpu,paper]
[--size 332x485] [--bands 180,4,1] [--repeats 3] [--docs DIR]

Meant for a CUDA machine (the device machine: a copy of the tree, no GDAL, no git); `--device cpu` runs
the same code on the CPU (the smoke test in make test).
1. Environment: GPU, torch and CUDA, ONNX Runtime and its providers (whether the CUDA provider exists),
   whether mamba_ssm's fused selective scan imports (engine.nn.scan.fused_scan_available).
2. Fused scan against the CPU scan, per network, at its Mamba shapes (pixels x d_inner x P^2 steps,
   d_state): engine.nn.scan.selective_scan on the GPU (mamba_ssm's kernel when it imports) against
   engine.nn.scan.selective_scan_torch on the CPU (the scan CPU inference runs), same inputs: max |diff|
   (goal <= 1e-4), and the time of the fused kernel against the torch scan on the same GPU.
3. Whole classifier, same weights on both devices, TF32 off: the dense classifier (the engine's path)
   and the patchwise classifier on the GPU against the dense classifier on the CPU, on every pixel of a
   window: max |diff| of the probabilities.
4. Throughput on an Augsburg-size scene (uniform random normalised values held in memory: the device
   machine has no GDAL, so file reading and writing are not timed): the engine's PyTorch backend
   (engine.model.backends.TorchBackend) and its per-tile step (model.pixel_probs, the features
   with engine.model.tiling.tile_noise), tiles and batch as the engine sets them on that device, dense and
   patchwise; px/s (median of --repeats after one warm-up run), seconds per step.
The networks are random-init presets (training/presets.py) held in memory (`RandomInitWeights`):
weights do not change the work, and a paper-size package would not travel to the device machine.
Writes DOCS/gpu.json + gpu.md (DOCS defaults to docs/bench/).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.report import DOCS, md_table, ratio, write_markdown, write_results
from bench.stamp import command_line, make_stamp

SEED = 0
GOAL_PX_S = 500_000  # issue 12: on an H100/H200-class GPU
GOAL_DIFF = 1e-4
TITLE = "GPU checks and throughput"
CARD_TILE = 128  # training.export_model's tile_size: the core the engine uses unless told otherwise
# (name, tile core, batch, dense strip pixels); None: what the engine chooses on the device (model.tiling)
CONFIGS = {"engine": (None, None, None), "cpu-sized": (128, 1024, 8192)}


class RandomInitWeights:
    """What engine.model.backends.TorchBackend reads from a model package (card["network"],
    card["diffusion"]["timesteps"], tensors(prefix), path), from randomly initialised networks in memory."""

    def __init__(self, cfg, seed: int = SEED):
        import torch

        from engine.model.tiling import card_halo
        from engine.nn.bdgf import BDGFClassifier
        from engine.nn.ddpm import MultimodalDDPM

        torch.manual_seed(seed)
        ddpm, classifier = MultimodalDDPM(cfg).eval(), BDGFClassifier(cfg).eval()
        self.cfg = cfg
        self.path = f"random-init network (seed {seed})"
        self.stride = ddpm.stride()
        self.halo = card_halo(ddpm.receptive_radius(), self.stride)
        # the card entries the engine's per-tile step reads (a package's card has them too)
        self.card = {"network": cfg.to_dict(), "classes": [{"value": i + 1} for i in range(cfg.n_classes)],
                     "diffusion": {"timesteps": list(cfg.ddpm.feature_timesteps), "noise_seed": SEED},
                     "patch_size": cfg.patch_size, "stride": self.stride, "halo": self.halo,
                     "tile_size": CARD_TILE}
        self._state = {"ddpm.": ddpm.state_dict(), "classifier.": classifier.state_dict()}
        self.parameters = {k[:-1]: int(sum(t.numel() for t in s.values())) for k, s in self._state.items()}

    def tensors(self, prefix: str) -> dict:
        return {k: v.numpy() for k, v in self._state[prefix].items()}


def network(name: str, bands: tuple[int, ...], n_classes: int):
    from training.presets import preset

    return preset(name, list(bands), n_classes)[0]


def environment(device: str) -> dict:
    import torch

    from engine.nn.scan import fused_scan_available

    env = {"torch": torch.__version__, "torch_cuda": torch.version.cuda, "device": device,
           "fused_scan": fused_scan_available()}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2 ** 30, 1),
                   multiprocessors=props.multi_processor_count)
    try:
        import onnxruntime as ort

        env["onnxruntime"] = ort.__version__
        env["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError as exc:
        env["onnxruntime"] = f"unavailable ({exc})"
    try:
        import mamba_ssm

        env["mamba_ssm"] = mamba_ssm.__version__
    except Exception as exc:  # report whatever stopped the import
        env["mamba_ssm"] = f"unavailable ({type(exc).__name__}: {exc})"
    return env


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _median_seconds(fn, device: str, repeats: int) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def scan_check(cfg, device: str, pixels: int, repeats: int) -> dict:
    """Fused (when available) vs the CPU torch scan at the network's Mamba shapes, same inputs."""
    import torch

    from engine.nn.mamba import MambaBlock
    from engine.nn.scan import fused_scan_available, selective_scan, selective_scan_torch

    c = cfg.classifier
    gen = torch.Generator().manual_seed(SEED)
    block = MambaBlock(c.embed_dim, d_state=c.d_state, d_conv=c.d_conv, expand=c.expand)
    d, n, steps = block.d_inner, block.d_state, cfg.patch_size ** 2
    u = torch.randn(pixels, d, steps, generator=gen)
    delta = 0.5 * torch.randn(pixels, d, steps, generator=gen)
    bm, cm = (torch.randn(pixels, n, steps, generator=gen) for _ in range(2))
    z = torch.randn(pixels, d, steps, generator=gen)
    with torch.no_grad():
        a = -torch.exp(block.A_log)
        args = (u, delta, a, bm, cm, block.D.detach(), z, block.dt_proj.bias.detach(), True)
    with torch.inference_mode():
        cpu = selective_scan_torch(*args)
        dev_args = tuple(t.to(device) if torch.is_tensor(t) else t for t in args)
        out = selective_scan(*dev_args).cpu()
        t_default = _median_seconds(lambda: selective_scan(*dev_args), device, repeats)
        t_torch = _median_seconds(lambda: selective_scan_torch(*dev_args), device, repeats)
    fused = fused_scan_available() and device == "cuda"
    return {"shape": {"pixels": pixels, "d_inner": d, "steps": steps, "d_state": n},
            "fused_kernel": fused, "max_abs_diff_vs_cpu": float((out - cpu).abs().max()),
            "max_abs_value": float(cpu.abs().max()),
            "ms_selective_scan": 1e3 * t_default, "ms_torch_scan_same_device": 1e3 * t_torch}


def noise_check(device: str, channels: int = 185, side: int = 600) -> dict:
    """A tile window's noise made on `device` (engine.nn.noise, what TorchBackend uses there) against the
    numpy noise the CPU paths use: max |diff|, share of bitwise-equal values, and both timings."""
    from engine.model.tiling import Tile, TileNoise

    noise = TileNoise(SEED, Tile(-44, 212, side, side, (0, 256, side - 88, side - 88)), channels, 2)
    t0 = time.perf_counter()
    host = noise.array()
    t_host = time.perf_counter() - t0
    dev = noise.tensor(device).cpu().numpy()  # first call: kernels loaded
    t_dev = _median_seconds(lambda: noise.tensor(device), device, 3)
    return {"shape": list(host.shape), "max_abs_diff": float(np.abs(dev - host).max()),
            "bitwise_equal": float((dev == host).mean()), "seconds_host_numpy": t_host,
            "seconds_device": t_dev}


def network_check(weights: RandomInitWeights, device: str, side: int = 24) -> dict:
    """The classifier on `device` (dense, the engine's path, and patchwise) against the dense classifier on
    the CPU, same weights, every pixel of a side x side core (TF32 off)."""
    import torch

    from engine.model.pixel_probs import patch_batches, patch_index
    from engine.nn.bdgf import BDGFClassifier
    from engine.nn.dense_versions import dense_classifier

    cfg = weights.cfg
    p, r = cfg.patch_size, cfg.patch_size // 2
    c, f = cfg.in_channels, sum(cfg.feature_channels())
    state = {k: torch.from_numpy(v) for k, v in weights.tensors("classifier.").items()}
    nets = {}
    for where in ("cpu", device):
        net = BDGFClassifier(cfg).eval()
        net.load_state_dict(state)
        nets[where] = net.to(where)
    rng = np.random.default_rng(SEED)
    width = side + 2 * r
    x = rng.random((1, c, width, width), dtype=np.float32)
    d = rng.standard_normal((1, f, width, width), dtype=np.float32)
    rows, cols = np.divmod(np.arange(side * side), side)
    index = patch_index(rows + r, cols + r, width, p)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.inference_mode():
            out = {}
            for where in ("cpu", device):
                dense = dense_classifier(nets[where])
                xt, dt = torch.from_numpy(x).to(where), torch.from_numpy(d).to(where)
                idx = torch.from_numpy(index).to(where)
                out[f"dense_{where}"] = dense.pixels(*dense.maps(xt, dt), idx).cpu()
            parts = []
            for xp, dp, _ in patch_batches(x, d, rows + r, cols + r, p, 256):
                xp, dp = torch.from_numpy(xp).to(device), torch.from_numpy(dp).to(device)
                parts.append(nets[device](xp, dp).cpu())
            out[f"patchwise_{device}"] = torch.cat(parts)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    ref = out["dense_cpu"]
    result = {"pixels": side * side, "reference": "dense classifier on the CPU"}
    for key in (f"dense_{device}", f"patchwise_{device}"):
        result[key] = {"max_abs_diff": float((out[key] - ref).abs().max()),
                       "same_class": float((out[key].argmax(1) == ref.argmax(1)).float().mean())}
    return result


def pixels_profile(weights: RandomInitWeights, device: str, batch: int = 8192, top: int = 10) -> dict:
    """Where a dense-pixels batch spends its time on `device` (torch.profiler, self time per op, the top
    `top`): names what limits the classifier there."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from engine.model.pixel_probs import patch_index
    from engine.nn.bdgf import BDGFClassifier
    from engine.nn.dense_versions import dense_classifier

    cfg = weights.cfg
    p, r = cfg.patch_size, cfg.patch_size // 2
    net = BDGFClassifier(cfg).eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.tensors("classifier.").items()})
    dense = dense_classifier(net.to(device))
    side = int(np.ceil(np.sqrt(batch)))
    width = side + 2 * r
    gen = torch.Generator().manual_seed(SEED)
    x = torch.rand(1, cfg.in_channels, width, width, generator=gen).to(device)
    d = torch.randn(1, sum(cfg.feature_channels()), width, width, generator=gen).to(device)
    rows, cols = np.divmod(np.arange(batch), side)
    index = torch.from_numpy(patch_index(rows + r, cols + r, width, p)).to(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch.inference_mode():
        tables = dense.maps(x, d)
        dense.pixels(*tables, index)
        _sync(device)
        with profile(activities=activities) as prof:
            t0 = time.perf_counter()
            dense.pixels(*tables, index)
            _sync(device)
            seconds = time.perf_counter() - t0
    key = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0), reverse=True)
    total = sum(getattr(e, key, 0) for e in events) or 1
    ops = [{"op": e.key, "calls": e.count, "ms": getattr(e, key, 0) / 1e3,
            "share": getattr(e, key, 0) / total} for e in events[:top]]
    return {"batch": batch, "seconds": seconds, "px_s": batch / seconds, "time": key, "ops": ops}


def classify_scene(backend, card: dict, scene: np.ndarray, tile: int | None = None, batch: int | None = None,
                   strip_px: int | None = None, valid: np.ndarray | None = None) -> dict:
    """The engine's per-tile work on an in-memory normalised scene (C, H, W) with a model `card`: windows
    with their halo (zeros and invalid outside the scene or where `valid` is False), features with the
    engine's noise, then model.pixel_probs; tiles, batch and dense windows as the engine sets
    them on the backend's device unless given."""
    from engine.classify.run import engine_batch
    from engine.model.card import branch_names
    from engine.model.pixel_probs import Profile, pixel_probs
    from engine.model.tiling import TileNoise, core_size, default_core, effective_halo, iter_tiles

    ch, height, width = scene.shape
    p, stride, n_classes = int(card["patch_size"]), int(card["stride"]), len(card["classes"])
    core = core_size(tile or default_core(card["tile_size"], backend.device), card["tile_size"], stride)
    halo = effective_halo(card["halo"], p, stride)
    batch = batch or engine_batch(card, ch, backend)
    diffusion = card["diffusion"]
    steps, n_branches = len(diffusion["timesteps"]), len(branch_names(card))
    inside = np.ones((height, width), bool) if valid is None else valid
    prof, classes, pixels = Profile(), np.zeros((height, width), np.int16), 0
    all_probs = np.zeros((n_classes, height, width), np.float32)
    t_start = time.perf_counter()
    for t in iter_tiles((0, 0, height, width), core, halo, stride):
        t0 = time.perf_counter()
        x = np.zeros((1, ch, t.height, t.width), np.float32)
        ok = np.zeros((t.height, t.width), bool)
        r0, c0 = max(t.row0, 0), max(t.col0, 0)
        r1, c1 = min(t.row0 + t.height, height), min(t.col0 + t.width, width)
        x[0, :, r0 - t.row0:r1 - t.row0, c0 - t.col0:c1 - t.col0] = scene[:, r0:r1, c0:c1]
        ok[r0 - t.row0:r1 - t.row0, c0 - t.col0:c1 - t.col0] = inside[r0:r1, c0:c1]
        rows, cols = t.core_in_window()
        rr, cc = np.nonzero(ok[rows, cols])
        t0 = prof.add("window", t0)
        noise = TileNoise(int(diffusion["noise_seed"]), t, ch, steps, backend.threads)
        feats = backend.features(x, noise)
        prof.add("noise+features", t0)
        probs, _ = pixel_probs(x, feats, rows, cols, rr, cc, backend, batch, p, n_classes, n_branches, prof,
                               lambda fraction: None, False, strip_px)
        cr, ccol, h, w = t.core
        classes[cr:cr + h, ccol:ccol + w] = probs.argmax(0)
        all_probs[:, cr:cr + h, ccol:ccol + w] = probs
        pixels += len(rr)
    seconds = time.perf_counter() - t_start
    return {"seconds": seconds, "pixels": pixels, "px_s": pixels / seconds, "tile": core, "halo": halo,
            "batch": batch, "strip_px": strip_px, "profile": {k: round(v, 4) for k, v in prof.items()},
            "classes": classes, "probs": all_probs}


def throughput(weights: RandomInitWeights, device: str, size: tuple[int, int],
               repeats: int, configs: dict = CONFIGS, patchwise_rows: int | None = None,
               cpu_reference: bool = True) -> dict:
    """px/s of the engine's PyTorch backend on `device`, dense and patchwise, at each of `configs` (tile,
    batch, strip): median of `repeats` runs after a warm-up on the first 64 rows. Every run's classes and
    probabilities are compared with the first one's and, with cpu_reference, with one dense run of the
    same backend on this machine's CPU (engine settings there). patchwise_rows: time the patchwise path on
    the scene's first rows only (its patch copies are ~280 KB per pixel with the paper network: 46 GB per
    Augsburg-size run)."""
    from engine.model.backends import TorchBackend

    rng = np.random.default_rng(SEED)
    scene = rng.random((weights.cfg.in_channels, *size), dtype=np.float32)
    out, first = {}, None

    def compare(result: dict, ref: dict) -> dict:
        h = result["classes"].shape[0]
        if h < ref["classes"].shape[0]:  # a run on the first rows: its last rows lack the context below
            h -= result["halo"]
        if h <= 0:
            return {"same_class": None, "max_abs_prob_diff": None, "rows_compared": 0}
        return {"same_class": float((result["classes"][:h] == ref["classes"][:h]).mean()),
                "max_abs_prob_diff": float(np.abs(result["probs"][:, :h] - ref["probs"][:, :h]).max()),
                "rows_compared": h}

    for path in ("dense", "patchwise"):
        backend = TorchBackend(weights, device)
        backend.dense = path == "dense"  # the engine runs patchwise for a backend without the dense path
        part = scene[:, :patchwise_rows] if path == "patchwise" and patchwise_rows else scene
        for config, settings in configs.items():
            classify_scene(backend, weights.card, part[:, :64], *settings)  # warm-up: kernels, plans
            runs = [classify_scene(backend, weights.card, part, *settings) for _ in range(repeats)]
            med = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            first = med if first is None else first
            out[f"{path}_{config}"] = {**{k: v for k, v in med.items() if k not in ("classes", "probs")},
                                       "rows": part.shape[1],
                                       "seconds_all": [round(r["seconds"], 4) for r in runs],
                                       "backend": backend.describe(), "vs_first": compare(med, first)}
            key = f"{path}_{config}"
            print(f"  {key}: {med['px_s']:,.0f} px/s {out[key]['vs_first']}", flush=True)
    if cpu_reference and device != "cpu":
        ref = classify_scene(TorchBackend(weights, "cpu"), weights.card, scene)
        out["cpu_reference"] = {"px_s": ref["px_s"], "seconds": ref["seconds"], "tile": ref["tile"],
                                "batch": ref["batch"], "vs_first": compare(first, ref)}
        print(f"  cpu reference: {ref['px_s']:,.0f} px/s {out['cpu_reference']['vs_first']}", flush=True)
    return out


def markdown(data: dict) -> list[str]:
    env = data["environment"]
    providers = ", ".join(env.get("onnxruntime_providers", []))
    lines = [f"Device: **{env.get('gpu', env['device'])}**; torch {env['torch']} (CUDA {env['torch_cuda']}); "
             f"mamba_ssm {env['mamba_ssm']}; fused selective scan in use: **{env['fused_scan']}**; "
             f"ONNX Runtime {env.get('onnxruntime')} with providers {providers}.",
             "", data["scene_note"], ""]
    nc = data["noise_check"]
    lines += [f"Noise of a {' × '.join(map(str, nc['shape']))} tile window made on the device "
              f"(engine.nn.noise) against numpy's (the CPU paths'): max |diff| {nc['max_abs_diff']:.1e}, "
              f"{nc['bitwise_equal']:.1%} bitwise equal; {nc['seconds_device'] * 1e3:.1f} ms there against "
              f"{nc['seconds_host_numpy'] * 1e3:.0f} ms with numpy on the host.", ""]
    rows = []
    for name, net in data["networks"].items():
        tp = net["throughput"]
        for config in data["configs"]:
            dense, patchwise = tp[f"dense_{config}"], tp[f"patchwise_{config}"]
            rows.append([f"`{name}`", f"{net['parameters']['classifier']:,} + {net['parameters']['ddpm']:,}",
                         config, f"{dense['tile']} / {dense['batch']} / {dense['strip_px'] or 'engine'}",
                         f"{dense['px_s']:,.0f}", f"{patchwise['px_s']:,.0f}",
                         ratio(dense["px_s"], patchwise["px_s"]),  # px/s: patchwise may time fewer rows
                         " / ".join("–" if r["vs_first"]["same_class"] is None
                                    else f"{r['vs_first']['same_class']:.4%}" for r in (dense, patchwise)),
                         "yes" if dense["px_s"] >= GOAL_PX_S else "no"])
    rows_note = (f" The patchwise path was timed on the scene's first {data['patchwise_rows']} rows (px/s is "
                 "a rate; its patch copies make whole-scene runs long)." if data["patchwise_rows"] else "")
    lines += ["## Throughput (engine PyTorch backend, fp32, median of "
              f"{data['repeats']} after a warm-up)", "",
              "Settings: `engine` = what the engine chooses on this device (model.tiling: default_core, "
              "default_batch, STRIP_PX); `cpu-sized` = tile 128, batch 1,024, dense windows of 8,192 px "
              "(the engine's GPU settings before they were raised)." + rows_note, "",
              *md_table(["network", "parameters (classifier + DDPM)", "settings", "tile / batch / strip px",
                         "dense px/s", "patchwise px/s", "dense vs patchwise", "same class as dense `engine` "
                         "(dense / patchwise)",
                         f"≥ {GOAL_PX_S:,} px/s"], rows, "lrlrrrrrl"), ""]
    rows = []
    for name, net in data["networks"].items():
        tp = net["throughput"]
        for key, run in tp.items():
            vs = run["vs_first"]
            if vs["rows_compared"]:
                rows.append([f"`{name}`", key, vs["rows_compared"], f"{vs['same_class']:.4%}",
                             f"{vs['max_abs_prob_diff']:.1e}"])
    lines += ["Each run against the dense `engine` run of the same network (`cpu_reference`: the dense "
              "engine run on this machine's CPU against that GPU run). A random-init network's probabilities "
              "are nearly uniform, so any rounding difference can flip a class; the probability "
              "difference is the measure.",
              "", *md_table(["network", "run", "rows compared", "same class", "max abs Δp"], rows, "llrrr"),
              ""]
    rows = []
    for name, net in data["networks"].items():
        for key, run in net["throughput"].items():
            if "profile" not in run:
                continue
            prof = ", ".join(f"{k} {v:.3f}" for k, v in run["profile"].items())
            rows.append([f"`{name}`", key, f"{run['seconds']:.3f}", prof])
    lines += ["Seconds per step of the median run:", "",
              *md_table(["network", "path", "seconds", "steps (s)"], rows, "llrl"), ""]
    rows = []
    for name, net in data["networks"].items():
        s, n = net["scan"], net["network_check"]
        dev = data["environment"]["device"]
        rows.append([f"`{name}`", "{pixels} × {d_inner} × {steps} steps, N {d_state}".format(**s["shape"]),
                     "fused mamba_ssm" if s["fused_kernel"] else "torch", f"{s['max_abs_diff_vs_cpu']:.2e}",
                     f"{s['ms_selective_scan']:.2f}", f"{s['ms_torch_scan_same_device']:.2f}",
                     f"{n[f'dense_{dev}']['max_abs_diff']:.2e}",
                     f"{n[f'patchwise_{dev}']['max_abs_diff']:.2e}"])
    lines += [f"## Equality with the CPU path (goal ≤ {GOAL_DIFF:g})", "",
              *md_table(["network", "scan shape", "scan on the device", "scan max diff vs CPU scan",
                         "scan ms", "torch scan ms (same device)", "dense probs max diff vs CPU dense",
                         "patchwise probs max diff vs CPU dense"], rows, "lllrrrrr"), "",
              "Probabilities compared on every pixel of a "
              f"{data['check_side']} × {data['check_side']} window with TF32 off; the throughput runs use "
              "the backend's settings (TorchBackend turns TF32 off on CUDA).", ""]
    for name, net in data["networks"].items():
        prof = net["pixels_profile"]
        rows = [[f"`{op['op']}`", op["calls"], f"{op['ms']:.2f}", f"{op['share']:.1%}"] for op in prof["ops"]]
        lines += [f"## Where a dense-pixels batch of `{name}` spends its time", "",
                  f"{prof['batch']:,} pixels in {prof['seconds'] * 1e3:.1f} ms ({prof['px_s']:,.0f} px/s for "
                  f"the per-pixel step alone, under the profiler); torch.profiler, {prof['time']}:", "",
                  *md_table(["op", "calls", "ms", "share"], rows, "lrrr"), ""]
    lines += ["## Not run here", "", *[f"- {line}" for line in data["not_run"]]]
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--networks", default="cpu,paper")
    ap.add_argument("--size", default="332x485", help="scene rows x cols (Augsburg: 332x485)")
    ap.add_argument("--bands", default="180,4,1", help="spectral, SAR, nDSM bands (Augsburg: 180,4,1)")
    ap.add_argument("--classes", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scan-pixels", type=int, default=4096)
    ap.add_argument("--check-side", type=int, default=24)
    ap.add_argument("--profile-batch", type=int, default=8192, help="pixels of the profiled dense batch")
    ap.add_argument("--noise-side", type=int, default=600, help="tile window side of the noise check")
    ap.add_argument("--patchwise-rows", type=int, default=0,
                    help="time the patchwise path on the scene's first rows only (0: all)")
    ap.add_argument("--not-run", action="append", default=[],
                    help="a line for the 'Not run here' list (what could not be checked, and why)")
    ap.add_argument("--docs", default=str(DOCS))
    ap.add_argument("--render", metavar="JSON",
                    help="write DOCS/gpu.md again from an existing gpu.json (no measurement, e.g. on a "
                         "machine without a GPU after the page's code changed)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    import torch

    args = parse_args(argv)
    if args.render:
        data = json.loads(Path(args.render).read_text(encoding="utf-8"))
        body = markdown(data) + ["", f"*Page rendered again from `{Path(args.render).name}` by "
                                     f"`{command_line('bench.gpu', argv)}` at commit "
                                     f"{make_stamp('')['commit_short']} (no new measurement).*"]
        print(f"wrote {write_markdown(args.docs, 'gpu', TITLE, data, body)}")
        return 0
    stamp = make_stamp(command_line("bench.gpu", argv))
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but PyTorch sees no CUDA GPU; --device cpu for a smoke run")
    bands = tuple(int(v) for v in args.bands.split(","))
    size = tuple(int(v) for v in args.size.lower().split("x"))
    data = {"stamp": stamp, "environment": environment(args.device), "repeats": args.repeats,
            "noise_check": noise_check(args.device, side=args.noise_side),
            "check_side": args.check_side, "bands": list(bands), "size": list(size),
            "scene_note": (f"Scene: {size[0]} × {size[1]} px, {' + '.join(map(str, bands))} bands, uniform "
                           "random values in memory (no file I/O: the GPU machine has no GDAL), random-init "
                           "preset networks (training/presets.py)."),
            "configs": list(CONFIGS), "patchwise_rows": args.patchwise_rows, "networks": {},
            "not_run": list(args.not_run)}
    for name in args.networks.split(","):
        weights = RandomInitWeights(network(name, bands, args.classes))
        print(f"[{name}] parameters {weights.parameters}", flush=True)
        net = {"parameters": weights.parameters, "patch": weights.cfg.patch_size,
               "scan": scan_check(weights.cfg, args.device, args.scan_pixels, max(args.repeats, 5)),
               "network_check": network_check(weights, args.device, args.check_side)}
        print(f"[{name}] scan {net['scan']}\n[{name}] network {net['network_check']}", flush=True)
        net["pixels_profile"] = pixels_profile(weights, args.device, args.profile_batch)
        net["throughput"] = throughput(weights, args.device, size, args.repeats,
                                       patchwise_rows=args.patchwise_rows or None)
        data["networks"][name] = net
    json_path, md_path = write_results(args.docs, "gpu", TITLE, data, markdown(data))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
