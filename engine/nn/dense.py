"""Dense inference: the patch classifier's function for every pixel of a window, sharing what
overlapping patches share.

`BDGFClassifier.forward(x (B, C, P, P), d (B, F, P, P))` is the per-patch reference ("patchwise"): a
pixel's probabilities come from the P x P patch centred on it. `DenseClassifier` computes the same
function (same weights, same result up to float rounding) in two steps:

    maps = dense.maps(x (1, C, H, W), d (1, F, H, W))    # per-pixel tables of a window, pixel-major
    probs = dense.pixels(*maps, index (B, L))             # B pixels; index = window positions of
                                                          # each pixel's patch, row-major (patch_index)

What depends on the patch as a whole and what on the pixel alone:
- CNN. The 1x1 stem and the guidance projections are per pixel. The 3x3 convs are zero-padded at
  the *patch* border, so after stage s a pixel's value depends on where it lies in the patch, but
  only through its row's key (min(i, s), min(P-1-i, s)) (which of the rows within s of it exist)
  and its column's key. One map over the window per key pair and stage (at most (2s+1)^2 of them,
  not P^2) holds every patch's values: stage s's map for a key pair reads, per conv tap, stage
  s-1's map of the neighbour's key pair, or nothing where the neighbour is outside the patch. The
  readout (patch mean + centre) is a sum of box sums of the last stage's maps.
- Mamba. Embedding and group weights are per pixel (tables). A token is a (pixel, position in the
  patch) pair: the position embedding makes it different in each patch, and each pair occurs in
  exactly one patch, so the LayerNorm, projections and scan run once per token, as patchwise, on
  tokens gathered from the tables (40 numbers per token instead of a C + F channel patch copy).
  Only the centre (the last token of both spirals) is read: the gate and the scan's output are
  computed for it alone (MambaBlock.forward_last).
- Transformer. Embeddings are per pixel (tables); only the centre token is read out, so self- and
  cross-attention need the centre as the only query and the MLP runs on the centre alone; keys and
  values (LayerNorm after the position embedding) are per token.
- Heads and softmax: per pixel; fusion = mean of the branch softmaxes in branch order, as patchwise.

Windows may hold nodata (0 after normalisation) and the halo padding; both are just inputs, as in
the patchwise path. Map values near the window edge whose 3x3 reach leaves the window are never read
for a pixel whose patch lies inside the window.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .bdgf import BDGFClassifier, fuse_branches
from .branches import split_levels


def axis_key(i: int, p: int, s: int) -> tuple[int, int]:
    """What a stage-s CNN value at patch row (or column) i depends on: how many of the s rows above
    and below exist in a patch of p rows, capped at s."""
    return min(i, s), min(p - 1 - i, s)


def _neighbour_key(key: tuple[int, int], step: int, s: int) -> tuple[int, int] | None:
    """Stage s-1 key of the row `step` (-1, 0, +1) away from a row with stage-s key `key`; None when
    that row is outside the patch (the conv reads zero padding there)."""
    top, bottom = key
    if step < 0:
        return None if top == 0 else (top - 1, min(bottom + 1, s - 1))
    if step > 0:
        return None if bottom == 0 else (min(top + 1, s - 1), bottom - 1)
    return min(top, s - 1), min(bottom, s - 1)


def _conv1x1(x: torch.Tensor, linear_weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return F.conv2d(x, linear_weight[:, :, None, None], bias)


def _pixel_major(t: torch.Tensor) -> torch.Tensor:
    """(1, M, H, W) -> (H * W, M)."""
    return t[0].flatten(1).t().contiguous()


def _crop(t: torch.Tensor, pad: int, dy: int, dx: int) -> torch.Tensor:
    """Channels-last t (1, H + 2 pad, W + 2 pad, E) read at (y + dy, x + dx) for every unpadded (y, x).
    Constant slice bounds (negative ends): one Slice node each in the exported graph."""
    return t[:, pad + dy:(dy - pad) or None, pad + dx:(dx - pad) or None]


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 2, 3, 1).contiguous()


def _pixel_norm(t: torch.Tensor, norm, channels: int) -> torch.Tensor:
    """PixelNorm (ddpm.PixelNorm: LayerNorm over channels, biased variance) on channels-last maps;
    `channels` a Python int (a static shape for the export)."""
    return F.layer_norm(t, (channels,), norm.weight, norm.bias, norm.eps)


class DenseClassifier(nn.Module):
    """The patch classifier's function for every pixel of a window (see the module docstring).

    Holds the classifier (its weights are used as they are, nothing is copied or changed)."""

    def __init__(self, classifier: BDGFClassifier):
        super().__init__()
        self.classifier = classifier
        self.patch = classifier.cfg.patch_size
        self.branch_names = list(classifier.branch_names)
        self.table_names = [f"{n}_table" for n in self.branch_names]

    # ------------------------------------------------------------ per window

    def maps(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (1, C, H, W), d (1, F, H, W) -> one pixel-major table per branch (branch order):
        cnn: (H*W, n_classes) softmax; mamba: (H*W, E [+ G]) embedding [and group weights];
        transformer: (H*W, E [+ E]) embedding [and diffusion-token embedding]."""
        out = []
        for name in self.branch_names:
            branch = self.classifier.branches[name]
            if name == "cnn":
                feat = self._cnn_feature(branch, x, d)  # channels last
                out.append(torch.softmax(F.linear(feat, *self._head(name)), dim=-1).flatten(0, 2))
            elif name == "mamba":
                parts = [_conv1x1(x, branch.embed.weight, branch.embed.bias)]
                if branch.guided:
                    parts.append(2.0 * torch.sigmoid(_conv1x1(d, branch.group_weights.weight,
                                                              branch.group_weights.bias)))
                out.append(_pixel_major(torch.cat(parts, 1)))
            else:
                parts = [_conv1x1(x, branch.embed.weight, branch.embed.bias)]
                if branch.guided:
                    parts.append(_conv1x1(d, branch.d_embed.weight, branch.d_embed.bias))
                out.append(_pixel_major(torch.cat(parts, 1)))
        return tuple(out)

    def _head(self, name: str):
        lin = self.classifier.heads[name].classifier
        return lin.weight, lin.bias

    def _cnn_feature(self, branch, x, d) -> torch.Tensor:
        """CNNBranch.forward of every patch, as a channels-last (1, H, W, E) map (valid where the
        patch fits in the window).

        One map per stage and key pair, processed one at a time: a map stays in the caches through its
        norm, activation and fusion (stacked, a stage's maps are tens of MB and every elementwise pass
        went to memory: ~3x slower). Channels last: PixelNorm is one fused layer_norm (one ONNX node
        instead of ~12) and the 1x1 convs are plain matmuls."""
        p, r = self.patch, self.patch // 2
        stem_conv, stem_norm, stem_act = branch.stem
        e = stem_conv.out_channels
        h = _channels_last(_conv1x1(x, stem_conv.weight[:, :, 0, 0], stem_conv.bias))
        maps = {((0, 0), (0, 0)): stem_act(_pixel_norm(h, stem_norm, e))}  # stage 0: one key pair
        levels = split_levels(d, branch.feature_channels) if branch.guided else None
        for s, stage in enumerate(branch.stages, 1):
            conv, norm, act = stage
            keys = sorted({axis_key(i, p, s) for i in range(p)})
            uses: dict = {}  # source key pair -> {tap (ky, kx): [output key pairs]}
            for rk in keys:
                for ck in keys:
                    for ky in range(3):
                        src_r = _neighbour_key(rk, ky - 1, s)
                        for kx in range(3):
                            src_c = _neighbour_key(ck, kx - 1, s)
                            if src_r is not None and src_c is not None:
                                uses.setdefault((src_r, src_c), {}).setdefault((ky, kx), []).append((rk, ck))
            pre: dict = {}
            for src, by_tap in uses.items():
                # the taps this source feeds, in one matmul over the zero-padded source map
                taps = list(by_tap)
                weight = torch.cat([conv.weight[:, :, ky, kx] for ky, kx in taps])
                y = F.linear(F.pad(maps[src], (0, 0, 1, 1, 1, 1)), weight)
                for t, (ky, kx) in enumerate(taps):
                    part = _crop(y[..., t * e:(t + 1) * e], 1, ky - 1, kx - 1)
                    for out_key in by_tap[(ky, kx)]:
                        pre[out_key] = part if out_key not in pre else pre[out_key] + part
            if branch.guided:
                fusion = branch.fusions[s - 1]
                g = _channels_last(fusion.proj(levels[s - 1]))  # per pixel
                gate_w = fusion.gate.weight[:, :, 0, 0]
                gate_g = F.linear(g, gate_w[:, e:], fusion.gate.bias)  # the gate's share from g
            new = {}
            for (rk, ck), v in pre.items():
                same = (_neighbour_key(rk, 0, s), _neighbour_key(ck, 0, s))
                h = maps[same] + act(_pixel_norm(v + conv.bias, norm, e))
                if branch.guided:
                    h = h + torch.sigmoid(F.linear(h, gate_w[:, :e]) + gate_g) * g
                new[(rk, ck)] = h
            maps = new
        # readout: mean over the patch + centre; the patch positions of one key pair form a box
        s = len(branch.stages)
        offsets: dict = {}
        for i in range(p):
            offsets.setdefault(axis_key(i, p, s), []).append(i - r)
        total = None  # defined on the window less r on each side
        for (rk, ck), m in maps.items():
            line = None  # sum over the box's columns, then over its rows
            for dx in offsets[ck]:
                part = m[:, :, r + dx:(dx - r) or None]
                line = part if line is None else line + part
            for dy in offsets[rk]:
                part = line[:, r + dy:(dy - r) or None]
                total = part if total is None else total + part
        centre = axis_key(r, p, s)
        return F.pad(total / (p * p), (0, 0, r, r, r, r)) + maps[(centre, centre)]

    # ------------------------------------------------------------ per pixel

    def pixels(self, *tables_and_index: torch.Tensor) -> torch.Tensor:
        """tables (from `maps`, branch order) and index (B, L) int64 -> probs (B, n_classes).

        index[b, k] is the flat window position (row * W + col) of patch pixel k (row-major) of the
        b-th pixel's patch; its centre column is the pixel itself."""
        return fuse_branches(self._branch_probs(tables_and_index))

    def pixels_branches(self, *tables_and_index: torch.Tensor):
        """As `pixels`, plus the branch softmaxes: (probs (B, n_classes), branch_probs (B, n_branches,
        n_classes)), as BDGFClassifier.forward_branches."""
        branch = self._branch_probs(tables_and_index)
        return fuse_branches(branch), torch.stack(branch, dim=1)

    def _branch_probs(self, tables_and_index) -> list:
        *tables, index = tables_and_index
        out = []
        for name, table in zip(self.branch_names, tables):
            branch = self.classifier.branches[name]
            if name == "cnn":
                p = F.embedding(index[:, index.shape[1] // 2], table)
            else:
                feat = (self._mamba(branch, table, index) if name == "mamba"
                        else self._transformer(branch, table, index))
                p = torch.softmax(F.linear(feat, *self._head(name)), dim=1)
            out.append(p)
        return out

    @staticmethod
    def _mamba(branch, table, index):
        e = branch.embed.out_features
        outs = []
        for i in range(2):
            order = getattr(branch, f"order{i}")
            tokens = F.embedding(index.index_select(1, order).t(), table)  # (L, B, E [+ G]), time-major
            tok = tokens[..., :e] + branch.pos[0].index_select(0, order).unsqueeze(1)
            if branch.guided:
                L, b = tok.shape[:2]
                g = branch.groups
                w = tokens[..., e:].contiguous().unsqueeze(-1)  # contiguous: see MambaBlock._causal_conv
                tok = (tok.reshape(L, b, g, e // g) * w).reshape(L, b, e)
            outs.append(tok[-1] + branch.mambas[i].forward_last(branch.norms[i](tok)))
        return branch.out(torch.cat(outs, 1))

    @staticmethod
    def _transformer(branch, table, index):
        e = branch.embed.out_features
        c = branch.centre
        tokens = F.embedding(index, table)  # (B, L, E [+ E])
        tok = tokens[..., :e] + branch.pos
        y = branch.norm1(tok)
        centre = tok[:, c:c + 1] + branch.self_attn(y[:, c:c + 1], y)
        centre = centre + branch.mlp(branch.norm2(centre))
        if branch.guided:
            kv = branch.norm_kv(tokens[..., e:] + branch.d_pos)
            centre = centre + branch.cross_attn(branch.norm_q(centre), kv)
        return branch.norm_out(centre[:, 0])

