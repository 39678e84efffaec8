"""The three diffusion-guided branches, network version 2: built so that what overlapping patches share
is computed once per window pixel by the dense path (engine/nn/dense_window.py). This file is the
patchwise reference: inputs x (B, C, P, P) patches, d (B, F, P, P) diffusion features (fine / mid /
coarse levels); each branch returns a (B, embed_dim) feature. guided=False: no guidance modules, d ignored.

What changed against version 1 (engine/nn/branches.py) and why (docs/METHOD_DECISIONS.md,
*Window-shared branches*):
- CNN: unpadded ("valid") 3x3 convs inside the patch instead of zero padding at the patch border, so a
  pixel's value after a stage no longer depends on where it lies in the patch: one map per window.
- Transformer: position terms added after the key and value projections, so the projections of a pixel
  are the same in every patch that holds it: computed once per window pixel.
- Mamba: the sequence is the patch's rings around the centre (mean of each ring, from box sums), P // 2 + 1
  tokens instead of P^2, scanned outside-in (centre last) and inside-out.
"""
from __future__ import annotations

import torch
from torch import nn

from .branches import GatedFusion, split_levels, to_tokens
from .config import ClassifierConfig
from .ddpm import PixelNorm
from .mamba import MambaBlock

STAGES = 3  # CNN stages, one per diffusion feature level


def cnn_kernels(patch: int) -> list[int]:
    """Kernel side of each CNN stage: 3 while the unpadded output still has a pixel, then 1 (a patch of 5
    holds two 3x3 stages; from 7 on all three are 3x3)."""
    kernels, side = [], patch
    for _ in range(STAGES):
        k = 3 if side >= 3 else 1
        kernels.append(k)
        side -= k - 1
    return kernels


def readout_side(patch: int) -> int:
    """Side of the last CNN stage's map inside a patch (the box its readout averages)."""
    return patch - sum(k - 1 for k in cnn_kernels(patch))


def _crop(t: torch.Tensor, m: int) -> torch.Tensor:
    return t if m == 0 else t[..., m:-m, m:-m]


class WindowCNNBranch(nn.Module):
    """1x1 stem + 3 unpadded conv stages (residual on the centre crop); diffusion level k is fused after
    stage k; readout: the mean of the last map + its centre."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig, patch_size: int,
                 guided: bool):
        super().__init__()
        e = cfg.embed_dim
        self.feature_channels, self.guided = list(feature_channels), guided
        self.kernels = cnn_kernels(patch_size)
        self.readout = readout_side(patch_size)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, e, 1), PixelNorm(e), nn.SiLU())
        self.stages = nn.ModuleList(nn.Sequential(nn.Conv2d(e, e, k), PixelNorm(e), nn.SiLU())
                                    for k in self.kernels)
        self.fusions = nn.ModuleList(GatedFusion(e, f) for f in feature_channels) if guided else None

    def forward(self, x, d):
        h = self.stem(x)
        levels = split_levels(d, self.feature_channels) if self.guided else None
        margin = 0
        for k, stage in enumerate(self.stages):
            m = (self.kernels[k] - 1) // 2
            margin += m
            h = _crop(h, m) + stage(h)
            if self.guided:
                h = self.fusions[k](h, _crop(levels[k], margin))
        c = h.shape[-1] // 2
        return h.mean((2, 3)) + h[:, :, c, c]


def ring_matrix(patch: int) -> torch.Tensor:
    """(P // 2 + 1, P * P): row k averages the row-major patch pixels at Chebyshev distance k from the
    centre (row 0: the centre alone)."""
    r = patch // 2
    idx = torch.arange(-r, r + 1)
    dist = torch.maximum(idx[:, None].abs(), idx[None, :].abs()).reshape(-1)
    rings = (dist[None, :] == torch.arange(r + 1)[:, None]).float()
    return rings / rings.sum(1, keepdim=True)


class WindowMambaBranch(nn.Module):
    """Ring tokens (the mean embedding of each ring of the patch, plus a ring embedding); group channel
    attention from the ring means of the diffusion features; one Mamba layer per direction: outside-in
    (centre last) and inside-out; each reads its last output."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig, patch_size: int,
                 guided: bool):
        super().__init__()
        e, n_tok = cfg.embed_dim, patch_size // 2 + 1
        self.guided, self.groups = guided, cfg.mamba_groups
        if e % self.groups:
            raise ValueError("embed_dim must be divisible by mamba_groups")
        self.embed = nn.Linear(in_channels, e)
        self.pos = nn.Parameter(torch.randn(1, n_tok, e) * 0.02)  # per ring, centre first
        self.group_weights = nn.Linear(sum(feature_channels), self.groups) if guided else None
        self.norms = nn.ModuleList(nn.LayerNorm(e) for _ in range(2))
        self.mambas = nn.ModuleList(MambaBlock(e, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand)
                                    for _ in range(2))
        self.out = nn.Sequential(nn.LayerNorm(2 * e), nn.Linear(2 * e, e))
        self.register_buffer("rings", ring_matrix(patch_size), persistent=False)
        self.register_buffer("outside_in", torch.arange(n_tok - 1, -1, -1), persistent=False)

    def forward(self, x, d):
        tok = torch.matmul(self.rings, self.embed(to_tokens(x)))  # (B, R, E), ring means, centre first
        weights = None
        if self.guided:  # ring means of the logits = logits of the ring means (linear)
            weights = 2.0 * torch.sigmoid(torch.matmul(self.rings, self.group_weights(to_tokens(d))))
        return self.scan(tok.transpose(0, 1), None if weights is None else weights.transpose(0, 1))

    def scan(self, tok: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        """Ring tokens, time-major (R, B, E), centre first, and group weights (R, B, G) -> (B, E); the dense
        path calls this with ring tokens from box sums."""
        tok = tok + self.pos[0].unsqueeze(1)
        if weights is not None:
            n, b, e = tok.shape
            g = self.groups
            tok = (tok.reshape(n, b, g, e // g) * weights.contiguous().unsqueeze(-1)).reshape(n, b, e)
        outs = []
        for i, seq in enumerate((tok.index_select(0, self.outside_in), tok)):  # centre last; inside-out
            outs.append(seq[-1] + self.mambas[i].forward_last(self.norms[i](seq)))
        return self.out(torch.cat(outs, 1))


class KeyPositionAttention(nn.Module):
    """Attention of one query over L tokens whose position terms are added after the projections:
    k = W_k y + pos_k, v = W_v y + pos_v (so W_k y and W_v y of a pixel are the same in every patch)."""

    def __init__(self, dim: int, heads: int, n_tok: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q, self.kv, self.o = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.pos_k = nn.Parameter(torch.randn(1, n_tok, dim) * 0.02)
        self.pos_v = nn.Parameter(torch.randn(1, n_tok, dim) * 0.02)
        # (E, heads): 1 where channel e belongs to head h; built once, not on every per-pixel call
        head_mask = torch.repeat_interleave(torch.eye(heads), dim // heads, dim=0)
        self.register_buffer("head_mask", head_mask, persistent=False)

    def forward(self, q_in, kv_in):
        """q_in (B, 1, E), kv_in (B, L, E) -> (B, 1, E)."""
        k, v = self.kv(kv_in).chunk(2, dim=-1)
        return self.attend(self.q(q_in), k, v)

    def attend(self, q, k, v):
        """Projected q (B, 1, E), k and v (B, L, E) without their position terms -> (B, 1, E).

        One query per pixel: the heads are a block-diagonal query (E, heads), so scores and mixing are two
        batched MatMuls, the same ops in eager and in the ONNX graph (B * heads matrix-vector MatMuls, or
        broadcast products, ran several times slower in ONNX Runtime; separating the position terms into
        their own GEMMs was slower again, measured)."""
        mask = self.head_mask.to(q.dtype)  # (E, h)
        scores = torch.matmul(k + self.pos_k, q.transpose(1, 2) * mask) * self.scale  # (B, L, h)
        mixed = torch.matmul(torch.softmax(scores, dim=1).transpose(1, 2), v + self.pos_v)  # (B, h, E)
        return self.o((mixed * mask.t()).sum(1, keepdim=True))


class WindowTransformerBranch(nn.Module):
    """The centre pixel attends to the patch's pixels (self-attention, then an MLP), then to the patch's
    diffusion tokens (cross-attention); keys and values carry their position after the projection."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig, patch_size: int,
                 guided: bool):
        super().__init__()
        e, n_tok = cfg.embed_dim, patch_size * patch_size
        self.guided, self.centre = guided, n_tok // 2
        self.embed = nn.Linear(in_channels, e)
        self.norm1, self.self_attn = nn.LayerNorm(e), KeyPositionAttention(e, cfg.heads, n_tok)
        self.norm2 = nn.LayerNorm(e)
        self.mlp = nn.Sequential(nn.Linear(e, cfg.mlp_ratio * e), nn.GELU(), nn.Linear(cfg.mlp_ratio * e, e))
        if guided:
            self.d_embed = nn.Linear(sum(feature_channels), e)
            self.norm_q, self.norm_kv = nn.LayerNorm(e), nn.LayerNorm(e)
            self.cross_attn = KeyPositionAttention(e, cfg.heads, n_tok)
        self.norm_out = nn.LayerNorm(e)

    def forward(self, x, d):
        tok = self.embed(to_tokens(x))
        y = self.norm1(tok)
        c = self.centre
        centre = tok[:, c:c + 1] + self.self_attn(y[:, c:c + 1], y)
        return self.finish(centre, self.norm_kv(self.d_embed(to_tokens(d))) if self.guided else None)

    def finish(self, centre, kv_in=None, kv=None):
        """The MLP, the cross-attention and the output norm of the centre token (B, 1, E); the cross-
        attention's keys/values from kv_in (B, L, E), or already projected as kv = (k, v)."""
        centre = centre + self.mlp(self.norm2(centre))
        if self.guided:
            q = self.cross_attn.q(self.norm_q(centre))
            k, v = kv if kv is not None else self.cross_attn.kv(kv_in).chunk(2, dim=-1)
            centre = centre + self.cross_attn.attend(q, k, v)
        return self.norm_out(centre[:, 0])


WINDOW_BRANCHES = {"cnn": WindowCNNBranch, "mamba": WindowMambaBranch, "transformer": WindowTransformerBranch}
