"""engine.batch.blocks: a block's manifest is written last and all or nothing; a rerun reuses a block only
when its manifest has the same fingerprint and window and its files the recorded size and sha256."""
from __future__ import annotations

import os

import numpy as np
from osgeo import osr

from engine.batch.blocks import BlockTask, check_block, remove_partials, scene_fingerprint, write_manifest
from engine.batch.job import BatchJob, SceneJob
from engine.raster.grid import Grid
from engine.raster.write import write_class_raster
from engine.settings import ClassifySettings

CLASSES = [{"value": 1, "name": "Trees", "color": "#1b7837"}]


def _done_block(folder) -> BlockTask:
    """A block whose class raster is written (its manifest not yet)."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    grid = Grid(8, 8, (500000.0, 2.0, 0.0, 5000000.0, 0.0, -2.0), srs.ExportToWkt())
    task = BlockTask(0, (32, 64, 8, 8), os.path.join(folder, "r000032_c000064"), ("classes",), "f" * 64)
    write_class_raster(task.outputs().classes, grid, CLASSES, np.ones((8, 8), np.uint8), write_qml=False)
    return task


def test_a_finished_block_is_reused_only_while_it_matches_its_manifest(tmp_path):
    task = _done_block(str(tmp_path))
    assert check_block(task) == (None, "not done")
    write_manifest(task, pixels_classified=64, seconds=0.5, worker="host:1")
    assert not [name for name in os.listdir(tmp_path) if ".partial-" in name]
    manifest, why = check_block(task)
    assert why == "" and manifest["window"] == [32, 64, 8, 8] and manifest["pixels_classified"] == 64
    assert manifest["files"]["classes"]["bytes"] == os.path.getsize(task.outputs().classes)
    other = BlockTask(task.scene, task.window, task.prefix, task.products, "0" * 64)
    assert check_block(other) == (None, "made with another model, layers or settings")
    moved = BlockTask(task.scene, (32, 72, 8, 8), task.prefix, task.products, task.fingerprint)
    assert check_block(moved) == (None, "another window")
    with open(task.outputs().classes, "r+b") as fh:  # same size, one byte changed
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0xFF]))
    assert check_block(task) == (None, "r000032_c000064.classes.tif differs from its manifest (size or "
                                       "checksum)")
    os.remove(task.outputs().classes)
    assert check_block(task) == (None, "classes file missing")
    with open(task.manifest, "w", encoding="utf-8") as fh:
        fh.write("{not json")
    assert check_block(task)[1].startswith("unreadable manifest")


def test_remove_partials_removes_only_temporary_files(tmp_path):
    for name in ("r0_c0.classes.partial-1a2b3c4d.tif", "r0_c0.json.partial-00ff00ff", "r0_c0.classes.tif",
                 "r0_c0.json"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    remove_partials(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["r0_c0.classes.tif", "r0_c0.json"]


def test_the_fingerprint_changes_with_what_the_pixels_depend_on(tmp_path):
    scene = SceneJob("a", "hsi.tif", ("sar.tif",))

    def fingerprint(content_hash="sha256:1", tile=128, scene=scene, **job):
        job = BatchJob("m.bdgf", str(tmp_path), (scene,), **job)
        return scene_fingerprint(job, scene, content_hash, tile)

    base = fingerprint()
    assert len(base) == 64 and base == fingerprint(block_size_px=64)  # blocks cut the same pixels
    assert base == scene_fingerprint(BatchJob("elsewhere/m.bdgf", "out", (scene,)), scene, "sha256:1", 128)
    with_nodata = SceneJob("a", "hsi.tif", ("sar.tif",), nodata={"hsi": "0"})
    changed = {fingerprint("sha256:2"), fingerprint(tile=64), fingerprint(entropy=True),
               fingerprint(settings=ClassifySettings(backend="torch")), fingerprint(scene=with_nodata)}
    assert len(changed) == 5 and base not in changed
