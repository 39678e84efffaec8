"""The three diffusion-guided branches. Inputs: x (B, C, P, P) patches, d (B, F, P, P) diffusion
features split into the fine / mid / coarse levels. Each branch returns a (B, embed_dim) feature.
A branch built with guided=False has no guidance modules and ignores d."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ClassifierConfig
from .ddpm import PixelNorm
from .mamba import MambaBlock
from .scan import _exporting


def split_levels(d: torch.Tensor, feature_channels: list[int]) -> list[torch.Tensor]:
    return list(torch.split(d, list(feature_channels), dim=1))


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, P, P) -> (B, P*P, C), row-major pixels."""
    return x.flatten(2).transpose(1, 2)


def spiral_order(p: int, clockwise: bool = True) -> list[int]:
    """Row-major indices of a p x p grid visited ring by ring from the outside in, ending on the
    centre. The anticlockwise spiral is the clockwise one mirrored on the diagonal."""
    top, left, bottom, right = 0, 0, p - 1, p - 1
    cells = []
    while top <= bottom and left <= right:
        cells += [(top, c) for c in range(left, right + 1)]
        cells += [(r, right) for r in range(top + 1, bottom + 1)]
        if top < bottom:
            cells += [(bottom, c) for c in range(right - 1, left - 1, -1)]
        if left < right:
            cells += [(r, left) for r in range(bottom - 1, top, -1)]
        top, left, bottom, right = top + 1, left + 1, bottom - 1, right - 1
    if not clockwise:
        cells = [(c, r) for r, c in cells]
    return [r * p + c for r, c in cells]


class GatedFusion(nn.Module):
    """h + sigmoid(W [h, proj(d)]) * proj(d)  (per pixel)."""

    def __init__(self, channels: int, feat_channels: int):
        super().__init__()
        self.proj = nn.Conv2d(feat_channels, channels, 1)
        self.gate = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, h, d):
        g = self.proj(d)
        return h + torch.sigmoid(self.gate(torch.cat([h, g], 1))) * g


class CNNBranch(nn.Module):
    """1x1 stem + 3 conv stages; diffusion level k (fine, mid, coarse) is fused after stage k."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig, guided: bool):
        super().__init__()
        e = cfg.embed_dim
        self.feature_channels, self.guided = list(feature_channels), guided
        self.stem = nn.Sequential(nn.Conv2d(in_channels, e, 1), PixelNorm(e), nn.SiLU())
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(e, e, 3, padding=1), PixelNorm(e), nn.SiLU()) for _ in range(3))
        self.fusions = nn.ModuleList(GatedFusion(e, f) for f in feature_channels) if guided else None

    def forward(self, x, d):
        h = self.stem(x)
        levels = split_levels(d, self.feature_channels) if self.guided else None
        for k, stage in enumerate(self.stages):
            h = h + stage(h)
            if self.guided:
                h = self.fusions[k](h, levels[k])
        c = h.shape[-1] // 2
        return h.mean((2, 3)) + h[:, :, c, c]


class MambaBranch(nn.Module):
    """Pixel tokens; group channel attention from the diffusion tokens; one Mamba layer per scan
    direction (clockwise and anticlockwise outside-in spirals, both ending on the centre)."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig,
                 patch_size: int, guided: bool):
        super().__init__()
        e, n_tok = cfg.embed_dim, patch_size * patch_size
        self.guided, self.groups = guided, cfg.mamba_groups
        if e % self.groups:
            raise ValueError("embed_dim must be divisible by mamba_groups")
        self.embed = nn.Linear(in_channels, e)
        self.pos = nn.Parameter(torch.randn(1, n_tok, e) * 0.02)
        self.group_weights = nn.Linear(sum(feature_channels), self.groups) if guided else None
        self.norms = nn.ModuleList(nn.LayerNorm(e) for _ in range(2))
        self.mambas = nn.ModuleList(MambaBlock(e, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand)
                                    for _ in range(2))
        self.out = nn.Sequential(nn.LayerNorm(2 * e), nn.Linear(2 * e, e))
        for i, cw in enumerate((True, False)):
            self.register_buffer(f"order{i}", torch.tensor(spiral_order(patch_size, cw)), persistent=False)

    def forward(self, x, d):
        tok = self.embed(to_tokens(x)) + self.pos
        if self.guided:
            w = 2.0 * torch.sigmoid(self.group_weights(to_tokens(d)))  # (B, L, G), 1 at zero logits
            b, n, e = tok.shape
            tok = (tok.reshape(b, n, self.groups, e // self.groups) * w.unsqueeze(-1)).reshape(b, n, e)
        outs = []
        for i in range(2):
            seq = tok.index_select(1, getattr(self, f"order{i}"))
            # the centre pixel ends both sequences and is the only output read
            outs.append(seq[:, -1] + self.mambas[i](self.norms[i](seq), last_only=True))
        return self.out(torch.cat(outs, 1))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q, self.kv, self.o = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

    def forward(self, q_in, kv_in):
        b, nq, e = q_in.shape
        h = self.heads
        q = self.q(q_in).reshape(b, nq, h, e // h).transpose(1, 2)
        k, v = self.kv(kv_in).reshape(b, -1, 2, h, e // h).permute(2, 0, 3, 1, 4)
        if _exporting():  # plain ops for the ONNX graph
            att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
            out = torch.matmul(att, v)
        else:  # fused kernel, several times faster in eager training
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.o(out.transpose(1, 2).reshape(b, nq, e))


class TransformerBranch(nn.Module):
    """Self-attention + MLP over pixel tokens, then cross-attention: the centre token queries the
    diffusion tokens (keys/values). Only the centre token is read out, so it is the only query."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig,
                 patch_size: int, guided: bool):
        super().__init__()
        e, n_tok = cfg.embed_dim, patch_size * patch_size
        self.guided, self.centre = guided, n_tok // 2
        self.embed = nn.Linear(in_channels, e)
        self.pos = nn.Parameter(torch.randn(1, n_tok, e) * 0.02)
        self.norm1, self.self_attn = nn.LayerNorm(e), Attention(e, cfg.heads)
        self.norm2 = nn.LayerNorm(e)
        self.mlp = nn.Sequential(nn.Linear(e, cfg.mlp_ratio * e), nn.GELU(), nn.Linear(cfg.mlp_ratio * e, e))
        if guided:
            self.d_embed = nn.Linear(sum(feature_channels), e)
            self.d_pos = nn.Parameter(torch.randn(1, n_tok, e) * 0.02)
            self.norm_q, self.norm_kv = nn.LayerNorm(e), nn.LayerNorm(e)
            self.cross_attn = Attention(e, cfg.heads)
        self.norm_out = nn.LayerNorm(e)

    def forward(self, x, d):
        tok = self.embed(to_tokens(x)) + self.pos
        y = self.norm1(tok)
        tok = tok + self.self_attn(y, y)
        tok = tok + self.mlp(self.norm2(tok))
        c = tok[:, self.centre:self.centre + 1]
        if self.guided:
            kv = self.norm_kv(self.d_embed(to_tokens(d)) + self.d_pos)
            c = c + self.cross_attn(self.norm_q(c), kv)
        return self.norm_out(c[:, 0])


def build_branch(name: str, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig,
                 patch_size: int) -> nn.Module:
    guided = bool(cfg.guidance.get(name, True))
    if name == "cnn":
        return CNNBranch(in_channels, feature_channels, cfg, guided)
    if name == "mamba":
        return MambaBranch(in_channels, feature_channels, cfg, patch_size, guided)
    if name == "transformer":
        return TransformerBranch(in_channels, feature_channels, cfg, patch_size, guided)
    raise ValueError(f"unknown branch {name!r}")


