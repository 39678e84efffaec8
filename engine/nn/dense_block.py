"""Dense inference of network version 3 (engine/nn/branches_block.py): the patch classifier's function
for every pixel of a window, with the interface of engine/nn/dense.py (`maps` per window, then `pixels`
for B pixels from their patch index).

A token of version 3 is the mean of a box at a fixed offset from the centre pixel, so the mean of
anything linear in the pixels over that box is a box-mean map of the window read at the offset:
- per window (`maps`): for each distinct box size, the box means of the Mamba embedding and group
  logits (the sigmoid of the latter applied to the map: it is the same function of the same mean), and of
  the Transformer's key and value projections (affine after the per-pixel norms, so the mean of the
  projections is the projection of the mean); the CNN branch as in version 2.
- per pixel (`pixels`): ten rows gathered from each table (the box sizes interleaved per pixel, so a
  token's row is window position * sizes + size: no shape arithmetic in the graph), one Mamba scan over
  ten tokens, two attentions over ten keys.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .bdgf import BDGFClassifier
from .branches_block import token_boxes
from .dense import _conv1x1, _pixel_major
from .dense_window import TableClassifier, WindowDenseClassifier


def box_mean(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Mean of t (1, M, H, W) over the height x width box whose top-left pixel is each pixel (zeros past
    the bottom and right edges: never read for a pixel whose patch lies inside the window)."""
    if height == 1 and width == 1:
        return t
    return F.avg_pool2d(F.pad(t, (0, width - 1, 0, height - 1)), (height, width), stride=1)


class BlockDenseClassifier(TableClassifier):
    """Version 3's patch classifier for every pixel of a window (see the module docstring)."""

    version = 3

    def __init__(self, classifier: BDGFClassifier):
        super().__init__(classifier)
        p = self.patch
        boxes = token_boxes(p)
        self.sizes = sorted({(h, w) for _, _, h, w in boxes})
        r = p // 2
        # a token's top-left pixel as a patch position, and its box size's slot in the tables
        self.register_buffer("token_pos", torch.tensor([(r0 + r) * p + (c0 + r) for r0, c0, _, _ in boxes]),
                             persistent=False)
        self.register_buffer("token_size", torch.tensor([self.sizes.index((h, w)) for _, _, h, w in boxes]),
                             persistent=False)

    # ------------------------------------------------------------ per window

    def _box_table(self, t: torch.Tensor) -> torch.Tensor:
        """(1, M, H, W) -> (H * W * sizes, M): row q * sizes + s is the mean over box size s at pixel q."""
        means = [_pixel_major(box_mean(t, h, w)) for h, w in self.sizes]
        return torch.stack(means, 1).reshape(-1, t.shape[1])

    def maps(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (1, C, H, W), d (1, F, H, W) -> the tables named in `table_names`: cnn_table (H*W, n_classes);
        mamba_table (H*W*S, E [+ G]) box means of the embedding [and group weights]; transformer_centre
        (H*W, 2E) embedding and query; transformer_k, _v (H*W*S, E) [_dk, _dv: the cross-attention's]."""
        out = []
        for name in self.branch_names:
            branch = self.classifier.branches[name]
            if name == "cnn":
                feat = WindowDenseClassifier._cnn_feature(branch, x, d)
                out.append(torch.softmax(F.linear(_pixel_major(feat), *self._head(name)), dim=-1))
            elif name == "mamba":
                e = branch.embed.out_features
                parts = [_conv1x1(x, branch.embed.weight, branch.embed.bias)]
                if branch.guided:
                    parts.append(_conv1x1(d, branch.group_weights.weight, branch.group_weights.bias))
                table = self._box_table(torch.cat(parts, 1))
                if branch.guided:
                    table = torch.cat([table[:, :e], 2.0 * torch.sigmoid(table[:, e:])], 1)
                out.append(table)
            else:
                h, w = x.shape[2], x.shape[3]
                tok = _pixel_major(_conv1x1(x, branch.embed.weight, branch.embed.bias))
                y = branch.norm1(tok)
                out.append(torch.cat([tok, branch.self_attn.q(y)], 1))
                out += self._kv_tables(branch.self_attn.kv(y), h, w)
                if branch.guided:
                    dt = _pixel_major(_conv1x1(d, branch.d_embed.weight, branch.d_embed.bias))
                    out += self._kv_tables(branch.cross_attn.kv(branch.norm_kv(dt)), h, w)
        return tuple(out)

    def _kv_tables(self, kv: torch.Tensor, h, w) -> list[torch.Tensor]:
        """Pixel-major keys and values (H*W, 2E) -> their box-mean tables (H*W*S, E) each."""
        as_map = kv.t().reshape(1, kv.shape[1], h, w)
        return list(self._box_table(as_map).chunk(2, dim=1))

    # ------------------------------------------------------------ per pixel

    def _token_rows(self, index: torch.Tensor) -> torch.Tensor:
        """(B, N): each token's row, window position * sizes + its box size's slot."""
        return index.index_select(1, self.token_pos) * len(self.sizes) + self.token_size

    def _mamba_feature(self, branch, table, centre, rows) -> torch.Tensor:
        e = branch.embed.out_features
        tok = F.embedding(rows, table).transpose(0, 1)  # (N, B, E [+ G])
        return branch.scan(tok[..., :e], tok[..., e:] if branch.guided else None)
