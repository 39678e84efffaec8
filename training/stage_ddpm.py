"""Stage 2: multimodal DDPM pre-training on random tiles of all valid pixels (adaptive masking)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.nn.balance import contribution_shares, feature_change
from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
from training import checkpoint as ckpt
from training.config import TrainingConfig
from training.context import RunContext, all_reduce_mean


class StopRequested(Exception):
    """Raised after the checkpoint named by --stop-after was written (simulates a kill in tests)."""


class _DDPMLoss(nn.Module):
    """forward = the DDPM's balanced loss, so DistributedDataParallel can wrap it."""

    def __init__(self, ddpm: MultimodalDDPM):
        super().__init__()
        self.ddpm = ddpm

    def forward(self, x, step: int, generator):
        return self.ddpm.loss(x, step, generator=generator)


def as_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A copy in torch-allocated (64-byte aligned) memory: numpy buffers have varying alignment, and
    CPU kernels may round differently on differently aligned data, which would break bitwise resume."""
    return torch.from_numpy(array).clone().to(device)


def lr_at(step: int, total: int, base: float, warmup: int = 20) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def sample_tiles(x: np.ndarray, valid: np.ndarray, n: int, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n random (C, size, size) tiles holding some valid pixels (zero padded when the scene is small),
    flipped and rotated at random, with their (size, size) valid masks."""
    c, h, w = x.shape
    ph, pw = max(h, size), max(w, size)
    if (ph, pw) != (h, w):
        x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)))
        valid = np.pad(valid, ((0, ph - h), (0, pw - w)))
    out = np.empty((n, c, size, size), np.float32)
    ok = np.empty((n, size, size), bool)
    for i in range(n):
        for _ in range(10):  # prefer tiles that are mostly valid
            r, q = int(rng.integers(0, ph - size + 1)), int(rng.integers(0, pw - size + 1))
            if valid[r:r + size, q:q + size].mean() >= 0.5:
                break
        out[i], ok[i] = x[:, r:r + size, q:q + size], valid[r:r + size, q:q + size]
        if rng.random() < 0.5:
            out[i], ok[i] = out[i][:, :, ::-1], ok[i][:, ::-1]
        turns = int(rng.integers(0, 4))
        out[i], ok[i] = np.rot90(out[i], turns, axes=(1, 2)), np.rot90(ok[i], turns)
    return out, ok


class BalanceProbe:
    """A fixed probe batch (tiles, valid masks, noise drawn once from the run seed) on which the spectral
    share of the diffusion features is measured during pre-training; fixed so that the share's changes
    come from the DDPM, not from the data, and a resumed run measures exactly what it would have."""

    def __init__(self, x: np.ndarray, valid: np.ndarray, ddpm: MultimodalDDPM, tiles: int, size: int,
                 seed: int, device: torch.device):
        tiles_x, tiles_ok = sample_tiles(x, valid, tiles, size, np.random.default_rng([seed, 17]))
        self.x = as_tensor(tiles_x, device)
        self.valid = torch.from_numpy(np.ascontiguousarray(tiles_ok)).to(device)
        k = len(ddpm.cfg.ddpm.feature_timesteps)
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 19]).generate_state(1)[0]))
        self.noise = torch.randn((k, *tiles_x.shape[1:]), generator=gen).to(device)
        self.channels = list(ddpm.modality_channels)

    def shares(self, ddpm: MultimodalDDPM) -> np.ndarray:
        training = ddpm.training
        ddpm.eval()
        extractor = DiffusionFeatureExtractor(ddpm)
        change = feature_change(extractor, self.x, self.noise, self.channels, self.valid)
        ddpm.train(training)
        return contribution_shares(change[:, -1])


def train_ddpm(ctx: RunContext, ddpm: MultimodalDDPM, x: np.ndarray, valid: np.ndarray, tcfg: TrainingConfig,
               ckpt_dir: Path, seed: int, stop_after: int | None = None) -> list[dict]:
    """Train in place; resumes from ckpt_dir/ddpm.* when present. Returns the loss history."""
    steps, stem = tcfg.ddpm_steps, ckpt_dir / "ddpm"
    ddpm.to(ctx.device).train()
    opt = torch.optim.AdamW(ddpm.parameters(), lr=tcfg.ddpm_lr, weight_decay=0.0)
    gen = torch.Generator()
    scaler = torch.amp.GradScaler("cuda") if ctx.amp_dtype == torch.float16 else None
    history: list[dict] = []
    start = 0
    state = ckpt.resume_training(stem, ddpm, opt)
    if state is not None:
        _, meta = state
        ddpm.masking.load_state_dict(meta["masking"])
        if scaler is not None and meta.get("scaler"):
            scaler.load_state_dict(meta["scaler"])
        history, start = meta["history"], meta["step"]
        ctx.info(f"DDPM: resumed at step {start}/{steps}")
    loss_module = _DDPMLoss(ddpm)
    if ctx.distributed:
        loss_module = DistributedDataParallel(loss_module, find_unused_parameters=True)
    every = max(1, steps // 8)
    log_every = max(1, steps // 60)
    names = [f"loss_{i}" for i in range(len(ddpm.modality_channels))]
    probe = BalanceProbe(x, valid, ddpm, ddpm.cfg.masking.probe_tiles, tcfg.ddpm_tile, seed, ctx.device)
    bar = ctx.progress(steps, "DDPM pre-training", initial=start)
    for step in range(start, steps):
        if ddpm.masking.probe_due(step):  # steer (adaptive) / log (off, fixed) by the measured share
            ddpm.masking.observe_shares(probe.shares(ddpm), step)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, tcfg.ddpm_lr)
        # RNG streams derived from (seed, rank, step): a resumed run draws exactly the same tiles / noise
        rng = np.random.default_rng([seed, 11, ctx.rank, step])
        gen.manual_seed(int(np.random.SeedSequence([seed, 13, ctx.rank, step]).generate_state(1)[0]))
        batch = as_tensor(sample_tiles(x, valid, tcfg.ddpm_batch, tcfg.ddpm_tile, rng)[0], ctx.device)
        with ctx.autocast():
            total, per = loss_module(batch, step, gen)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(total).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(ddpm.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
        else:
            total.backward()
            torch.nn.utils.clip_grad_norm_(ddpm.parameters(), 1.0)
            opt.step()
        per = all_reduce_mean(per.float(), ctx).cpu()
        if step % log_every == 0 or step == steps - 1:
            r_s, p_m = ddpm.masking.ratios(step)
            row = {"step": step, "loss": float(per.mean()), **{n: float(v) for n, v in zip(names, per)},
                   "structure_ratio": r_s, "sample_ratio": p_m, "spectral_share": ddpm.masking.share,
                   "masking_factor": ddpm.masking.factor()}
            history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
        bar.update(1)
        done = step + 1
        if done % every == 0 or done == steps or done == stop_after:
            if ctx.is_main:
                _save(stem, ddpm, opt, scaler, history, done)
            ctx.barrier()
            if done == stop_after and done < steps:
                bar.close()
                raise StopRequested(f"stopped after DDPM step {done} (--stop-after)")
    bar.close()
    if history:
        share = ddpm.masking.share
        ctx.info(f"DDPM: {steps} steps, final balanced loss {history[-1]['loss']:.4f}, spectral share of the "
                 f"features {'-' if share is None else round(share, 3)} (target "
                 f"{ddpm.masking.target_share():.3f}), masking factor {ddpm.masking.factor():.3f}")
    ddpm.eval()
    return history


def _save(stem, ddpm, opt, scaler, history, step) -> None:
    opt_tensors, opt_meta = ckpt.optimizer_state(opt)
    rng_tensors, rng_meta = ckpt.rng_state({})
    tensors = {**ckpt.prefixed("model.", ddpm.state_dict()), **opt_tensors, **rng_tensors}
    meta = {"step": step, "optimizer": opt_meta, "rng": rng_meta, "masking": ddpm.masking.state_dict(),
            "history": history, "scaler": scaler.state_dict() if scaler is not None else None}
    ckpt.save_checkpoint(stem, tensors, meta)
