"""engine.batch.worker without Ray: the backend a worker opens on its threads, and a BlockWorker that
receives the model's bytes, refuses another model, classifies a block like `engine classify` and writes
its manifest last."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from engine.batch.blocks import BlockTask, check_block
from engine.batch.job import BatchJob, SceneJob
from engine.batch.worker import BlockWorker, open_backend
from engine.classify.run import classify
from engine.errors import BDGFError
from engine.model.package import ModelPackage
from engine.settings import ClassifyOutputs, ClassifySettings
from tests.conftest import LogProgress

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py




def test_open_backend_gives_the_onnx_backend_on_the_cpu_with_its_threads(engine_model):
    log = LogProgress()
    backend = open_backend(ModelPackage(engine_model), ClassifySettings(device="cpu"), 1, log)
    assert backend.device == "cpu" and backend.describe().startswith("ONNX Runtime on cpu, 1 thread")
    assert log.lines == [f"Device actually used: {backend.describe()}"]


def test_a_worker_classifies_a_block_like_classify_and_writes_its_manifest(engine_model, fixture_scene,
                                                                          tmp_path):
    scene = SceneJob("s", fixture_scene["hsi"], (fixture_scene["sar"], fixture_scene["dsm"]))
    job = BatchJob(engine_model, str(tmp_path), (scene,), ClassifySettings(device="cpu"), block_size_px=32)
    package = ModelPackage(engine_model)
    data = open(engine_model, "rb").read()
    with pytest.raises(BDGFError, match="The model a worker received has content hash"):
        BlockWorker(lambda: data, "sha256:" + "0" * 64, job, threads=1)
    worker = BlockWorker(lambda: data, package.content_hash, job, threads=1)
    name, pid, described = worker.ready()
    assert name.endswith(f":{pid}") and described.startswith("ONNX Runtime on cpu")
    task = BlockTask(0, (0, 32, 32, 32), str(tmp_path / "r000000_c000032"), ("classes",), "f" * 64)
    done = worker.run(task)
    assert done.task == task and done.worker == name and 0 < done.pixels_classified <= 32 * 32
    manifest, why = check_block(task)
    assert why == "" and manifest["pixels_classified"] == done.pixels_classified
    whole = tmp_path / "whole.tif"
    classify(scene.inputs(), engine_model, ClassifyOutputs(str(whole)), ClassifySettings(device="cpu"))
    block = gdal.Open(task.outputs().classes).ReadAsArray()
    assert np.array_equal(block, gdal.Open(str(whole)).ReadAsArray()[0:32, 32:64])  # the same pixels
