"""Dense inference of network version 2 (engine/nn/branches_window.py): the patch classifier's function
for every pixel of a window, with the interface of engine/nn/dense.py (`maps` per window, then `pixels`
for B pixels from their patch index).

Version 2's branches are built so that nearly everything is per window pixel:
- CNN: the unpadded convs of the patch are the window's convs (padded at the window edge; values within
  the patch radius of the edge are never read for a pixel whose patch lies inside the window); the
  readout is a box mean of the last map plus the map itself. The whole branch, head and softmax
  included, is one table row per pixel.
- Mamba: ring means of the embedding and of the group logits from box sums (differences of average
  pools), one table row per pixel holding all its rings; the per-pixel step is the two scans over
  P // 2 + 1 tokens of the centre's row.
- Transformer: embedding, norm, query and the key/value projections per pixel (two tables: the centre's
  own values, and the keys/values its patch gathers); the per-pixel step adds the position terms and
  attends.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .bdgf import BDGFClassifier, fuse_branches
from .branches import split_levels
from .dense import _conv1x1, _pixel_major


def _box_sum(t: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over the (2 radius + 1)^2 box around each pixel of t (1, M, H, W), zeros past the edge."""
    if radius == 0:
        return t
    side = 2 * radius + 1
    return F.avg_pool2d(t, side, stride=1, padding=radius, count_include_pad=True) * float(side * side)


def ring_means(t: torch.Tensor, patch: int) -> list[torch.Tensor]:
    """Mean of t (1, M, H, W) over each ring around every pixel (Chebyshev distance 0 .. P // 2), centre
    first: branches_window.ring_matrix applied to every pixel's patch."""
    out, inner = [t], t
    for k in range(1, patch // 2 + 1):
        box = _box_sum(t, k)
        out.append((box - inner) / float(8 * k))
        inner = box
    return out


class TableClassifier(nn.Module):
    """What the dense classifiers of versions 2 and 3 share: the tables they name, and the per-pixel step
    that gathers a pixel's rows from them. A version says where its Transformer keys and values lie for a
    pixel (`_token_rows`) and how its Mamba branch reads its table (`_mamba_feature`)."""

    version = 0

    def __init__(self, classifier: BDGFClassifier):
        super().__init__()
        if classifier.version != self.version:
            raise ValueError(f"{type(self).__name__} needs a version {self.version} network; "
                             "use dense_classifier()")
        self.classifier = classifier
        self.patch = classifier.cfg.patch_size
        self.branch_names = list(classifier.branch_names)
        self.table_names = []
        for name in self.branch_names:
            if name == "transformer":  # separate key and value tables: no split of a gathered (B, L, 4E)
                guided = classifier.branches[name].guided
                self.table_names += ["transformer_centre", "transformer_k", "transformer_v",
                                     *(["transformer_dk", "transformer_dv"] if guided else [])]
            else:
                self.table_names.append(f"{name}_table")

    def _head(self, name: str):
        lin = self.classifier.heads[name].classifier
        return lin.weight, lin.bias

    def pixels(self, *tables_and_index: torch.Tensor) -> torch.Tensor:
        """tables (from `maps`) and index (B, P*P) int64 (engine/model/pixel_probs.patch_index) ->
        probs (B, n_classes)."""
        return fuse_branches(self._branch_probs(tables_and_index))

    def pixels_branches(self, *tables_and_index: torch.Tensor):
        """As `pixels`, plus the branch softmaxes (B, n_branches, n_classes)."""
        branch = self._branch_probs(tables_and_index)
        return fuse_branches(branch), torch.stack(branch, dim=1)

    def _branch_probs(self, tables_and_index) -> list:
        *tables, index = tables_and_index
        centre = index[:, index.shape[1] // 2]
        rows = self._token_rows(index)
        tables = list(tables)
        out = []
        for name in self.branch_names:
            branch = self.classifier.branches[name]
            if name == "cnn":
                out.append(F.embedding(centre, tables.pop(0)))
                continue
            if name == "mamba":
                feat = self._mamba_feature(branch, tables.pop(0), centre, rows)
            else:
                own = F.embedding(centre, tables.pop(0))
                kv = [F.embedding(rows, tables.pop(0)) for _ in range(4 if branch.guided else 2)]
                feat = self._transformer(branch, own, kv)
            out.append(torch.softmax(F.linear(feat, *self._head(name)), dim=1))
        return out

    def _token_rows(self, index: torch.Tensor) -> torch.Tensor:
        """(B, L) rows of the key and value tables a pixel's attention reads, from its patch index."""
        raise NotImplementedError

    def _mamba_feature(self, branch, table: torch.Tensor, centre: torch.Tensor,
                       rows: torch.Tensor) -> torch.Tensor:
        """The Mamba branch's feature (B, E) from its table, the pixels' own rows and their token rows."""
        raise NotImplementedError

    @staticmethod
    def _transformer(branch, own: torch.Tensor, kv: list) -> torch.Tensor:
        """own (B, 2E): the centre's embedding and query; kv: its keys and values (B, L, E) each,
        self-attention's then [the cross-attention's] -> the branch feature (B, E)."""
        e = branch.embed.out_features
        tok, q = own[:, None, :e], own[:, None, e:]
        centre = tok + branch.self_attn.attend(q, kv[0], kv[1])
        return branch.finish(centre, kv=(kv[2], kv[3]) if branch.guided else None)


class WindowDenseClassifier(TableClassifier):
    """Version 2's patch classifier for every pixel of a window (see the module docstring)."""

    version = 2

    # ------------------------------------------------------------ per window

    def maps(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (1, C, H, W), d (1, F, H, W) -> the pixel-major tables named in `table_names`:
        cnn_table (H*W, n_classes) softmax; mamba_table (H*W, R*E [+ R*G]) ring tokens [and group weights];
        transformer_centre (H*W, 2E) embedding and query; transformer_k, _v (H*W, E) the self-attention's keys
        and values [transformer_dk, _dv: the cross-attention's, from the diffusion tokens]."""
        out = []
        for name in self.branch_names:
            branch = self.classifier.branches[name]
            if name == "cnn":
                feat = self._cnn_feature(branch, x, d)
                out.append(torch.softmax(F.linear(_pixel_major(feat), *self._head(name)), dim=-1))
            elif name == "mamba":
                parts = ring_means(_conv1x1(x, branch.embed.weight, branch.embed.bias), self.patch)
                if branch.guided:
                    logits = _conv1x1(d, branch.group_weights.weight, branch.group_weights.bias)
                    parts += [2.0 * torch.sigmoid(r) for r in ring_means(logits, self.patch)]
                out.append(_pixel_major(torch.cat(parts, 1)))
            else:
                tok = _pixel_major(_conv1x1(x, branch.embed.weight, branch.embed.bias))
                y = branch.norm1(tok)
                out.append(torch.cat([tok, branch.self_attn.q(y)], 1))
                out += list(branch.self_attn.kv(y).chunk(2, dim=1))
                if branch.guided:
                    dt = _pixel_major(_conv1x1(d, branch.d_embed.weight, branch.d_embed.bias))
                    out += list(branch.cross_attn.kv(branch.norm_kv(dt)).chunk(2, dim=1))
        return tuple(out)

    @staticmethod
    def _cnn_feature(branch, x, d) -> torch.Tensor:
        """WindowCNNBranch.forward of every patch as a (1, E, H, W) map."""
        h = branch.stem(x)
        levels = split_levels(d, branch.feature_channels) if branch.guided else None
        for k, (conv, norm, act) in enumerate(branch.stages):
            h = h + act(norm(F.conv2d(h, conv.weight, conv.bias, padding=(branch.kernels[k] - 1) // 2)))
            if branch.guided:
                h = branch.fusions[k](h, levels[k])
        return h + _box_sum(h, branch.readout // 2) / float(branch.readout ** 2)

    # ------------------------------------------------------------ per pixel

    def _token_rows(self, index: torch.Tensor) -> torch.Tensor:
        return index  # keys and values per patch pixel

    def _mamba_feature(self, branch, table, centre, rows) -> torch.Tensor:
        """The centre's table row (R*E [+ R*G]): its ring tokens [and group weights], scanned."""
        row = F.embedding(centre, table)
        e, n = branch.embed.out_features, self.patch // 2 + 1
        b = row.shape[0]
        tok = row[:, :n * e].reshape(b, n, e).transpose(0, 1)
        weights = row[:, n * e:].reshape(b, n, branch.groups).transpose(0, 1) if branch.guided else None
        return branch.scan(tok, weights)
