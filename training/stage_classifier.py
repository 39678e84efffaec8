"""Stage 4: classifier training on P x P patches of the input stack and of the diffusion features,
mutual-learning loss, model selection on a validation split of the training pixels (best val OA)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from engine.nn.bdgf import BDGFClassifier
from engine.nn.losses import mutual_learning_loss
from engine.normalise import NEUTRAL_FILL
from training import checkpoint as ckpt
from training.config import TrainingConfig
from training.context import RunContext
from training.stage_ddpm import StopRequested, as_tensor, lr_at


class PatchSource:
    """Patches of x (C, h, w) zero-padded by r, and of features (F, h + 2r, w + 2r), by flat pixel index.

    `missing`: per modality that may be missing (the auxiliaries, then the spectral one when
    `spectral_variant` > 0), (its channels in x, the features of x with those channels at the neutral
    fill): variant v > 0 of a patch is the patch as the engine sees it when modality v - 1 of that list is
    not given (modality dropout and the missing-modality figures).
    """

    def __init__(self, x: np.ndarray, feats: np.ndarray, patch: int, device: torch.device,
                 missing: list[tuple[slice, np.ndarray]] = (), spectral_variant: int = 0):
        r = patch // 2
        self.patch, self.width = patch, x.shape[2]
        self.x = as_tensor(np.pad(x, ((0, 0), (r, r), (r, r))), device)
        self.d = as_tensor(feats, device)  # float16, converted per batch
        self.missing = [(channels, as_tensor(f, device)) for channels, f in missing]
        self.spectral_variant = spectral_variant  # > 0: that variant is the spectral modality missing
        offs = torch.arange(patch, device=device)
        self.dr, self.dc = offs[:, None], offs[None, :]

    def get(self, flat: torch.Tensor, variant: torch.Tensor | int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(x patches, feature patches) of the pixels `flat`; `variant`: one per pixel or one for all."""
        rows = (flat // self.width)[:, None, None] + self.dr
        cols = (flat % self.width)[:, None, None] + self.dc
        xp = self.x[:, rows, cols].permute(1, 0, 2, 3)
        dp = self.d[:, rows, cols].permute(1, 0, 2, 3).float()
        if isinstance(variant, int):
            if variant == 0:  # every patch complete: the common case (prediction, no dropout)
                return xp.contiguous(), dp.contiguous()
            variant = torch.full((len(flat),), variant, dtype=torch.long, device=flat.device)
        for v in variant.unique().tolist():
            if v == 0:
                continue
            channels, feats = self.missing[v - 1]
            sel = variant == v
            xp[sel, channels] = NEUTRAL_FILL
            dp[sel] = feats[:, rows[sel], cols[sel]].permute(1, 0, 2, 3).float()
        return xp.contiguous(), dp.contiguous()


def dropout_variants(n: int, source: PatchSource, tcfg: TrainingConfig, gen: torch.Generator,
                     device: torch.device) -> torch.Tensor | int:
    """Modality dropout: each patch, with probability tcfg.modality_dropout, loses one auxiliary modality
    (chosen uniformly), else with probability tcfg.spectral_dropout the spectral one. No draw at all when
    both are off, so runs without them keep their random streams."""
    if (tcfg.modality_dropout <= 0 and tcfg.spectral_dropout <= 0) or not source.missing:
        return 0
    n_aux = len(source.missing) - (1 if source.spectral_variant else 0)
    u = torch.rand(n, generator=gen)
    which = torch.randint(1, max(n_aux, 1) + 1, (n,), generator=gen)
    variant = torch.where(u < tcfg.modality_dropout, which, torch.zeros_like(which))
    if source.spectral_variant:
        spectral = (u >= tcfg.modality_dropout) & (u < tcfg.modality_dropout + tcfg.spectral_dropout)
        variant = torch.where(spectral, torch.full_like(which, source.spectral_variant), variant)
    return variant.to(device)


def augment(xp: torch.Tensor, dp: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random rotation by k x 90 degrees and optional flip for the batch."""
    k = int(torch.randint(0, 4, (1,), generator=gen))
    flip = bool(torch.randint(0, 2, (1,), generator=gen))
    xp, dp = torch.rot90(xp, k, (2, 3)), torch.rot90(dp, k, (2, 3))
    if flip:
        xp, dp = xp.flip(3), dp.flip(3)
    return xp, dp


class _TrainForward(nn.Module):
    def __init__(self, model: BDGFClassifier):
        super().__init__()
        self.model = model

    def forward(self, x, d):
        return self.model.forward_train(x, d)


@torch.no_grad()
def predict(ctx: RunContext, model: BDGFClassifier, source: PatchSource, flat: np.ndarray,
            batch: int = 512, desc: str | None = None, variant: int = 0,
            branches: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Fused class probabilities (N, n_classes) of the pixels `flat` (`variant`: see PatchSource); with
    `branches`, also each branch's softmax (N, n_branches, n_classes), from the same pass."""
    was = model.training
    model.eval()
    out, per_branch = [], []
    idx = torch.from_numpy(np.asarray(flat, np.int64)).to(source.x.device)
    bar = ctx.progress(len(idx), desc) if desc else None
    for s in range(0, len(idx), batch):
        xp, dp = source.get(idx[s:s + batch], variant)
        with ctx.autocast():
            if branches:
                probs, branch = model.forward_branches(xp, dp)
                per_branch.append(branch.float().cpu())
            else:
                probs = model(xp, dp)
            out.append(probs.float().cpu())
        if bar is not None:
            bar.update(len(xp))
    if bar is not None:
        bar.close()
    model.train(was)
    k = model.cfg.n_classes
    probs = torch.cat(out).numpy() if out else np.zeros((0, k), np.float32)
    if not branches:
        return probs
    return probs, (torch.cat(per_branch).numpy() if per_branch
                   else np.zeros((0, len(model.branch_names), k), np.float32))


def epoch_repeats(n_fit: int, tcfg: TrainingConfig, world: int = 1) -> int:
    """How many passes over the fitting pixels one epoch makes, so the run has >= tcfg.min_steps steps."""
    per_rank = -(-n_fit // world)
    per_pass = -(-per_rank // tcfg.batch_size)  # steps of one pass on one rank
    if tcfg.min_steps <= 0 or per_pass == 0:
        return 1
    return max(1, -(-tcfg.min_steps // (per_pass * tcfg.epochs)))


def train_classifier(ctx: RunContext, model: BDGFClassifier, source: PatchSource, labels: np.ndarray,
                     fit: np.ndarray, val: np.ndarray, tcfg: TrainingConfig, ckpt_dir: Path, seed: int,
                     stop_after: int | None = None, name: str = "classifier") -> tuple[list[dict], dict]:
    """Train in place; returns (history, selection info). With validation pixels the epoch with the best
    validation OA is kept (ties: the later one); without, the final epoch (train OA of a few labels
    saturates at 100 % and would select on noise)."""
    stem = ckpt_dir / name
    model.to(ctx.device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    flat_labels = torch.from_numpy(labels.ravel().astype(np.int64)).to(ctx.device)
    sampler = DistributedSampler(np.arange(len(fit)), num_replicas=ctx.world, rank=ctx.rank, shuffle=True,
                                 seed=seed, drop_last=False)
    history, best, start, best_state = [], {"val_oa": -1.0, "epoch": -1}, 0, None
    state = ckpt.resume_training(stem, model, opt)
    if state is not None:
        tensors, meta = state
        best_state = ckpt.unprefixed("best.", tensors) or None
        history, best, start = meta["history"], meta["best"], meta["epoch"]
        ctx.info(f"classifier: resumed after epoch {start}/{tcfg.epochs}")
    train_module = _TrainForward(model)
    if ctx.distributed:
        train_module = DistributedDataParallel(train_module, find_unused_parameters=True)
    repeats = epoch_repeats(len(fit), tcfg, ctx.world)
    steps_per_epoch = -(-len(sampler) * repeats // tcfg.batch_size)
    total_steps = steps_per_epoch * tcfg.epochs
    seen: list[int] = []
    bar = ctx.progress(tcfg.epochs, "classifier epochs", initial=start)
    for epoch in range(start, tcfg.epochs):
        passes = []
        for r in range(repeats):  # repeats == 1: the plain epoch (same order as before min_steps existed)
            sampler.set_epoch(epoch * repeats + r)
            passes.append(np.fromiter(iter(sampler), dtype=np.int64))
        order = fit[np.concatenate(passes)]
        if epoch == 0:
            seen = fit[passes[0]].tolist()  # the rank's shard of the first pass
        # RNG streams derived from (seed, rank, epoch): augmentation and dropout resume exactly
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        torch.manual_seed(int(np.random.SeedSequence([seed, 17, ctx.rank, epoch]).generate_state(1)[0]))
        loss_sum, correct, count = 0.0, 0, 0
        for b, s in enumerate(range(0, len(order), tcfg.batch_size)):
            step = epoch * steps_per_epoch + b
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total_steps, tcfg.lr, warmup=min(20, total_steps // 10))
            idx = torch.from_numpy(order[s:s + tcfg.batch_size]).to(ctx.device)
            xp, dp = augment(*source.get(idx, dropout_variants(len(idx), source, tcfg, gen, ctx.device)), gen)
            y = flat_labels[idx]
            with ctx.autocast():
                out = train_module(xp, dp)
                loss, _ = mutual_learning_loss(out["logits"], out["features"], y, model.cfg.mutual)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out["probs"].argmax(1) == y).sum())
            count += len(idx)
        val_oa = _oa(predict(ctx, model, source, val), labels.ravel()[val]) if len(val) else correct / count
        row = {"epoch": epoch + 1, "loss": loss_sum / max(count, 1), "train_oa": correct / max(count, 1),
               "val_oa": val_oa}
        history.append(row)
        if val_oa >= best["val_oa"] or not len(val):  # ties: the later (longer trained) epoch
            best = {"val_oa": val_oa, "epoch": epoch + 1}
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        bar.set_postfix(loss=f"{row['loss']:.3f}", val_oa=f"{val_oa:.3f}", refresh=False)
        bar.update(1)
        if ctx.is_main:
            _save(stem, model, opt, best_state, history, best, epoch + 1)
        ctx.barrier()
        if stop_after == epoch + 1 and epoch + 1 < tcfg.epochs:
            bar.close()
            raise StopRequested(f"stopped after classifier epoch {epoch + 1} (--stop-after)")
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if len(val):
        ctx.info(f"classifier: best validation OA {best['val_oa']:.4f} at epoch {best['epoch']}")
    else:
        ctx.info(f"classifier: no validation pixels; final epoch {best['epoch']} kept "
                 f"(train OA {best['val_oa']:.4f})")
    return history, {**best, "first_epoch_pixels": seen}


def _oa(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(1) == labels).mean()) if len(labels) else 0.0


def _save(stem, model, opt, best_state, history, best, epoch) -> None:
    opt_tensors, opt_meta = ckpt.optimizer_state(opt)
    rng_tensors, rng_meta = ckpt.rng_state({})
    tensors = {**ckpt.prefixed("model.", model.state_dict()), **opt_tensors, **rng_tensors}
    if best_state is not None:
        tensors.update(ckpt.prefixed("best.", best_state))
    ckpt.save_checkpoint(stem, tensors, {"epoch": epoch, "optimizer": opt_meta, "rng": rng_meta,
                                         "history": history, "best": best})
