"""engine.model.tiling: tiles on the tile grid with a halo, features independent of the window with the
engine's halo, position-keyed tile noise made once per tile, default tile and batch sizes per device."""
from __future__ import annotations

import numpy as np

from engine.model.backends import make_backend
from engine.model.tiling import plan_tiles
from tests.engine.model import test_backends
from tests.engine.model.test_backends import _inputs

package = test_backends.package  # fixture


def test_tiles_start_at_multiples_of_the_tile_and_cover_the_area():
    tiles = plan_tiles((3, 5, 50, 70), tile=16, halo=12, stride=4)
    covered = np.zeros((60, 80), int)
    for t in tiles:
        assert (t.row0 + 12) % 16 == 0 and (t.col0 + 12) % 16 == 0
        assert t.height % 4 == 0 and t.width % 4 == 0
        r, c, h, w = t.core
        assert t.row0 + 12 <= r and r + h <= t.row0 + t.height - 12
        covered[r:r + h, c:c + w] += 1
    assert (covered[3:53, 5:75] == 1).all() and covered.sum() == 50 * 70


def test_features_are_identical_in_any_window_with_the_engine_halo(package):
    """The halo the engine uses (card halo + patch radius) makes features bitwise tile-independent."""
    from engine.model.tiling import effective_halo

    card = package.card
    halo, r = effective_halo(card["halo"], card["patch_size"], card["stride"]), card["patch_size"] // 2
    x, noise, _, _ = _inputs(package, h=2 * halo + 24, w=2 * halo + 24)
    backend = make_backend(package, "onnx", "cpu")
    whole = backend.features(x, noise)
    size = 8 + 2 * halo  # a window whose core is the 8 x 8 block at (halo + 8, halo + 8)
    part = backend.features(x[:, :, 8:8 + size, 8:8 + size], noise[:, :, 8:8 + size, 8:8 + size])
    core = slice(halo - r, halo + 8 + r)  # the core plus the patch margin
    whole_core = slice(8 + halo - r, 8 + halo + 8 + r)
    assert np.array_equal(part[:, :, core, core], whole[:, :, whole_core, whole_core])


def test_gpu_runs_get_larger_tiles_batches_and_dense_windows():
    """A GPU is starved at the CPU's sizes (docs/bench/gpu.md); a CPU spends less on halos with 256-px
    cores; a card's larger tile is kept (and a user's tile size is never overridden: classify.run)."""
    from engine.model.pixel_probs import STRIP_PX, dense_strip_rows
    from engine.model.tiling import CPU_BATCH_SHORT, CPU_TILE, GPU_TILE, default_batch, default_core

    assert default_core(128, "cpu") == CPU_TILE == 256 and default_core(128, "cuda") == GPU_TILE == 512
    assert default_core(1024, "cuda") == 1024 and default_core(384, "cpu") == 384
    assert default_batch(185, 120, 9, "cpu") <= 64 < default_batch(185, 120, 9, "cuda") <= 8192
    # versions 2 and 3's dense per-pixel step (a few tokens per pixel) takes larger CPU batches
    assert 64 < default_batch(185, 120, 9, "cpu", short_sequences=True) <= CPU_BATCH_SHORT == 256
    width = 512 + 8
    assert dense_strip_rows(width, 9, 512, STRIP_PX["cuda"]) == STRIP_PX["cuda"] // width - 8 > 400
    assert dense_strip_rows(width, 9, 512) == 9  # at least a patch of rows: the CPU keeps windows small


def test_dense_strips_are_shared_out_evenly_between_the_workers():
    """With strips in flight, a core's rows make a multiple of the workers' count of strips of equal height
    (the demo's 128 rows: 3 strips of 45 left one of 2 cores idle a third of the time), unless the strips
    would fall below a patch of rows."""
    from engine.model.pixel_probs import dense_strip_rows

    assert dense_strip_rows(164, 5, 128, 8192) == 45  # one at a time: as many rows as the budget allows
    assert dense_strip_rows(164, 5, 128, 8192, workers=2) == 32  # 4 strips, 2 per worker
    assert dense_strip_rows(164, 5, 128, 8192, workers=3) == 43  # 3 strips, one per worker
    assert dense_strip_rows(260, 5, 256, 8192) == 27  # 10 strips, the last of 13 rows
    assert dense_strip_rows(260, 5, 256, 8192, workers=2) == 26  # still 10 strips, of equal height
    assert dense_strip_rows(164, 5, 30, 8192, workers=4) == 30  # one strip: nothing to share out
    assert dense_strip_rows(164, 9, 60, 2000, workers=4) == 9  # 7 strips of 9; 8 of 8 would be below a patch


def test_tile_noise_is_made_once_per_tile_and_where_the_backend_asks():
    from engine.model.tiling import Tile, TileNoise, noise_array, tile_noise

    t = Tile(-8, 16, 24, 32, (0, 24, 16, 24))
    noise = TileNoise(3, t, 4, 2)
    assert noise.array() is noise.array()  # cached: the contribution passes reuse it
    np.testing.assert_array_equal(noise_array(noise), tile_noise(3, t, 4, 2))
    assert np.abs(noise.tensor("cpu").numpy() - noise.array()).max() < 1e-5
