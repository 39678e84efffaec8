"""Network version 3's block tokens (engine/nn/branches_block.py) and the box means its dense path reads them
from (engine/nn/dense_block.py)."""
import pytest
import torch

from engine.nn.branches_block import N_TOKENS, block_bands, token_boxes, token_matrix
from engine.nn.dense_block import box_mean


@pytest.mark.parametrize("patch", [3, 5, 7, 9, 11, 13])
def test_the_nine_blocks_tile_the_patch_and_the_last_token_is_the_centre(patch):
    rows = token_matrix(patch)
    assert rows.shape == (N_TOKENS, patch * patch)
    assert torch.allclose(rows.sum(1), torch.ones(N_TOKENS))  # each token a mean
    blocks = (rows[:-1] > 0).float()
    assert torch.equal(blocks.sum(0), torch.ones(patch * patch))  # every pixel in exactly one block
    centre = torch.zeros(patch * patch)
    centre[patch * patch // 2] = 1
    assert torch.equal(rows[-1], centre)
    assert torch.equal(rows[-2] > 0, _block(patch, 1, 1))  # the centre block comes just before it
    bands = block_bands(patch)
    assert bands[0][0] == -(patch // 2) and bands[2][1] == patch // 2
    assert bands[1][0] == -bands[1][1]  # the middle band is centred


def _block(patch, i, j):
    r = patch // 2
    (a0, a1), (c0, c1) = block_bands(patch)[i], block_bands(patch)[j]
    idx = torch.arange(-r, r + 1)
    return (((idx >= a0) & (idx <= a1))[:, None] & ((idx >= c0) & (idx <= c1))[None, :]).reshape(-1)


def test_blocks_go_clockwise_from_the_top_left():
    boxes = token_boxes(9)
    corners = [(r0, c0) for r0, c0, _, _ in boxes[:8]]
    assert corners == [(-4, -4), (-4, -1), (-4, 2), (-1, 2), (2, 2), (2, -1), (2, -4), (-1, -4)]
    assert boxes[8] == (-1, -1, 3, 3) and boxes[9] == (0, 0, 1, 1)


def test_box_mean_is_the_mean_of_the_box_below_and_right_of_each_pixel():
    torch.manual_seed(0)
    t = torch.randn(1, 3, 8, 11, dtype=torch.float64)
    for h, w in ((1, 1), (2, 3), (4, 4), (3, 2)):
        got = box_mean(t, h, w)
        assert got.shape == t.shape
        for y, x in ((0, 0), (4, 7), (7 - h + 1, 10 - w + 1)):
            assert torch.allclose(got[0, :, y, x], t[0, :, y:y + h, x:x + w].mean((1, 2)))
        assert not torch.allclose(got, t) or (h, w) == (1, 1)
