"""The three diffusion-guided branches, network version 3: block tokens. This file is the patchwise
reference (inputs x (B, C, P, P) patches, d (B, F, P, P) diffusion features; each branch returns a
(B, embed_dim) feature); engine/nn/dense_block.py computes the same for every pixel of a window.

The patch is cut into a 3 x 3 grid of blocks (`block_bands`); the Mamba and Transformer branches read ten
tokens: the mean of each block, clockwise from the top-left one and the centre block last, then the centre
pixel itself. What changed against version 2 (engine/nn/branches_window.py) and why
(docs/METHOD_DECISIONS.md, *Block tokens*):
- Mamba: version 2's ring means lost where a neighbour lies around the centre, and its Mamba branch alone
  lost 4.4 points of OA at 5 labels per class (docs/bench/scarcity_branches.md). Blocks keep eight
  directions; one scan, outside-in, centre pixel last, costs what version 2's two scans over five rings did.
- Transformer: the centre pixel attends to the ten tokens instead of every patch pixel: keys and values
  are block means of per-pixel projections (box sums in the dense path), eight times fewer to gather per
  pixel, and fewer, smoother tokens to fit from a few labels.
- CNN: version 2's, unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from .branches import to_tokens
from .branches_window import KeyPositionAttention, WindowCNNBranch, WindowTransformerBranch
from .config import ClassifierConfig
from .mamba import MambaBlock

# The blocks in token order as (row band, column band): clockwise from the top-left, the centre block last.
BLOCK_ORDER = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (1, 1))
N_TOKENS = len(BLOCK_ORDER) + 1  # + the centre pixel


def block_bands(patch: int) -> list[tuple[int, int]]:
    """The three bands of offsets (first, last) from the centre along one axis: a middle band of
    2 (r // 3) + 1 and the rest of each side (patch 9: 3 + 3 + 3; 7: 2 + 3 + 2; 11: 4 + 3 + 4;
    5: 2 + 1 + 2)."""
    r = patch // 2
    c = r // 3
    return [(-r, -c - 1), (-c, c), (c + 1, r)]


def token_boxes(patch: int) -> list[tuple[int, int, int, int]]:
    """Each token's box as (first row offset, first column offset, height, width) from the centre pixel."""
    bands = block_bands(patch)
    boxes = [(bands[i][0], bands[j][0], bands[i][1] - bands[i][0] + 1, bands[j][1] - bands[j][0] + 1)
             for i, j in BLOCK_ORDER]
    return boxes + [(0, 0, 1, 1)]


def token_matrix(patch: int) -> torch.Tensor:
    """(N_TOKENS, P * P): row k averages the row-major patch pixels of token k's box."""
    r = patch // 2
    idx = torch.arange(-r, r + 1)
    rows = []
    for r0, c0, h, w in token_boxes(patch):
        rows_in = (idx >= r0) & (idx < r0 + h)
        cols_in = (idx >= c0) & (idx < c0 + w)
        inside = rows_in[:, None] & cols_in[None, :]
        rows.append(inside.float().reshape(-1) / float(h * w))
    return torch.stack(rows)


class BlockMambaBranch(nn.Module):
    """Block tokens (+ a position embedding each); group channel attention from the block means of the
    diffusion features; one Mamba layer over the ten tokens, read at the last (the centre pixel)."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig, patch_size: int,
                 guided: bool):
        super().__init__()
        e = cfg.embed_dim
        self.guided, self.groups = guided, cfg.mamba_groups
        if e % self.groups:
            raise ValueError("embed_dim must be divisible by mamba_groups")
        self.embed = nn.Linear(in_channels, e)
        self.pos = nn.Parameter(torch.randn(1, N_TOKENS, e) * 0.02)
        self.group_weights = nn.Linear(sum(feature_channels), self.groups) if guided else None
        self.norm = nn.LayerNorm(e)
        self.mamba = MambaBlock(e, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand)
        self.out = nn.Sequential(nn.LayerNorm(e), nn.Linear(e, e))
        self.register_buffer("tokens", token_matrix(patch_size), persistent=False)

    def forward(self, x, d):
        tok = torch.matmul(self.tokens, self.embed(to_tokens(x)))  # (B, N, E)
        weights = None
        if self.guided:  # block means of the logits = logits of the block means (linear)
            weights = 2.0 * torch.sigmoid(torch.matmul(self.tokens, self.group_weights(to_tokens(d))))
        return self.scan(tok.transpose(0, 1), None if weights is None else weights.transpose(0, 1))

    def scan(self, tok: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        """Tokens, time-major (N, B, E), and group weights (N, B, G) -> (B, E); the dense path calls this with
        tokens gathered from its box-mean tables."""
        tok = tok + self.pos[0].unsqueeze(1)
        if weights is not None:
            n, b, e = tok.shape
            g = self.groups
            tok = (tok.reshape(n, b, g, e // g) * weights.contiguous().unsqueeze(-1)).reshape(n, b, e)
        return self.out(tok[-1] + self.mamba.forward_last(self.norm(tok)))


class BlockTransformerBranch(WindowTransformerBranch):
    """The centre pixel attends to the ten tokens of its normalised embeddings (self-attention, then an
    MLP), then to those of the diffusion tokens (cross-attention); position terms after the projections."""

    def __init__(self, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig, patch_size: int,
                 guided: bool):
        super().__init__(in_channels, feature_channels, cfg, patch_size, guided)
        e = cfg.embed_dim
        self.self_attn = KeyPositionAttention(e, cfg.heads, N_TOKENS)
        if guided:
            self.cross_attn = KeyPositionAttention(e, cfg.heads, N_TOKENS)
        self.register_buffer("tokens", token_matrix(patch_size), persistent=False)

    def forward(self, x, d):
        tok = self.embed(to_tokens(x))
        y = self.norm1(tok)
        c = self.centre
        centre = tok[:, c:c + 1] + self.self_attn(y[:, c:c + 1], torch.matmul(self.tokens, y))
        kv_in = torch.matmul(self.tokens, self.norm_kv(self.d_embed(to_tokens(d)))) if self.guided else None
        return self.finish(centre, kv_in)


BLOCK_BRANCHES = {"cnn": WindowCNNBranch, "mamba": BlockMambaBranch, "transformer": BlockTransformerBranch}
