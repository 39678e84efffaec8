"""`python -m engine batch` on a real local Ray (2 workers, one session for the module), real GDAL and ONNX
Runtime, on the demo scene split into several blocks: the mosaic equals `python -m engine classify`
bitwise; a killed worker is replaced and a killed driver resumes without recomputing finished blocks; an
unreadable scene fails alone; a job needing branch outputs the model lacks fails before any work;
bdgf:exportjob writes a job that runs. (Job files: test_job.py; a block's window: classify/test_run.py.)
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from engine.batch.job import BatchJob, SceneJob, load_job, write_job

REPO = Path(__file__).resolve().parents[3]
DEMO = {name: str(REPO / "resources" / "demo" / f"{name}.tif") for name in ("hsi", "sar", "dsm")}
DEMO_MODEL = str(REPO / "resources" / "models" / "demo.bdgf")


def _env() -> dict:
    # taken when called: starting the module's Ray sets RAY_AUTH_MODE=token (Ray >= 2.59 secures local
    # clusters with ~/.ray/auth_token), which a driver joining it with --address needs too
    return {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}


def _engine(*args, cwd=REPO, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _read(path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


TRUST = ("entropy", "contribution", "dominant_modality")  # trust outputs a job writes (one of each kind)


def _job(out_dir, block: int, broken: bool = False, trust: tuple[str, ...] = ()) -> BatchJob:
    scenes = [SceneJob("demo", DEMO["hsi"], (DEMO["sar"], DEMO["dsm"]))]
    if broken:
        missing = str(Path(out_dir).parent / "missing_hsi.tif")
        scenes.append(SceneJob("broken", missing, (DEMO["sar"], DEMO["dsm"])))
    return BatchJob(DEMO_MODEL, str(out_dir), tuple(scenes), block_size_px=block,
                    **dict.fromkeys(trust, True))


@pytest.fixture(scope="module")
def ray_address():
    """One local Ray of 2 CPUs for the module (start-up costs seconds); drivers in subprocesses join it."""
    import ray

    from engine.batch.run import connect

    connect(num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def single_process(tmp_path_factory) -> np.ndarray:
    """`python -m engine classify` on the demo scene: the map every batch run must equal."""
    out = tmp_path_factory.mktemp("single") / "classes.tif"
    done = _engine("classify", "--spectral", DEMO["hsi"], "--aux", DEMO["sar"], "--aux", DEMO["dsm"],
                   "--model", DEMO_MODEL, "--out", out, "--device", "auto")
    assert done.returncode == 0, done.stderr
    return _read(out)


@pytest.fixture(scope="module")
def single_trust(tmp_path_factory) -> dict:
    """`python -m engine classify` with the trust outputs a job writes: {output: array}."""
    out = tmp_path_factory.mktemp("single_trust")
    flags = [a for t in TRUST for a in (f"--{t.replace('_', '-')}", out / f"{t}.tif")]
    done = _engine("classify", "--spectral", DEMO["hsi"], "--aux", DEMO["sar"], "--aux", DEMO["dsm"],
                   "--model", DEMO_MODEL, "--out", out / "classes.tif", "--device", "auto", *flags)
    assert done.returncode == 0, done.stderr
    return {t: _read(out / f"{t}.tif") for t in TRUST}


class Lines:
    def __init__(self):
        self.lines = []

    def set_progress(self, percent):
        pass

    def log(self, message):
        self.lines.append(message)

    def is_cancelled(self):
        return False


def test_the_mosaic_equals_the_single_process_map_and_a_broken_scene_fails_alone(
        ray_address, single_process, single_trust, tmp_path):
    from engine.batch.run import run_batch
    from engine.model.package import ModelPackage

    job = _job(tmp_path / "out", block=64, broken=True, trust=TRUST)
    progress = Lines()
    summary = run_batch(job, workers=2, progress=progress)
    demo, broken = summary.scenes
    assert (demo.status, demo.blocks, demo.computed, demo.reused) == ("done", 6, 6, 0)  # 160 x 128 px
    assert summary.workers == 2 and summary.pixels_computed == 160 * 128 and summary.pixels_per_second > 0
    assert broken.status == "failed" and "missing_hsi.tif" in broken.error and broken.blocks == 0
    assert [s.name for s in summary.failed] == ["broken"] and not (tmp_path / "out" / "broken").exists()
    assert any(line.startswith("[batch] 6/6 blocks") and "px/s" in line for line in progress.lines)

    folder = tmp_path / "out" / "demo"
    classes = ModelPackage(DEMO_MODEL).card["classes"]
    for path in (folder / "classes.vrt", folder / "classes.tif"):
        assert np.array_equal(_read(path), single_process), path  # bitwise
        ds = gdal.Open(str(path))
        ds.GetGeoTransform()  # GDAL 3.6 loads a GeoTIFF's .aux.xml (category names) on such calls
        band = ds.GetRasterBand(1)
        names = band.GetCategoryNames()
        assert [names[c["value"]] for c in classes] == [c["name"] for c in classes]
        r, g, b, _ = band.GetColorTable().GetColorEntry(classes[0]["value"])
        assert f"#{r:02x}{g:02x}{b:02x}" == classes[0]["color"].lower()
    assert gdal.Open(str(folder / "classes.tif")).GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    assert 'type="paletted"' in (folder / "classes.qml").read_text(encoding="utf-8")
    blocks = sorted(p.name for p in (folder / "blocks").iterdir())
    assert len([b for b in blocks if b.endswith(".json")]) == 6 and not [b for b in blocks if "partial" in b]
    manifest = json.loads((folder / "blocks" / "r000064_c000128.json").read_text(encoding="utf-8"))
    assert manifest["window"] == [64, 128, 64, 32]  # the last block is clipped at the grid's edge
    last = folder / "blocks" / "r000064_c000128.classes.tif"
    assert manifest["files"]["classes"]["bytes"] == last.stat().st_size
    # the trust outputs: mosaics equal to the single-process rasters, with their bands, nodata and styles
    card = ModelPackage(DEMO_MODEL).card
    for product, expected in single_trust.items():
        for path in (folder / f"{product}.vrt", folder / f"{product}.tif"):
            assert np.array_equal(_read(path), expected), path
    contribution = gdal.Open(str(folder / "contribution.tif"))
    assert [contribution.GetRasterBand(i + 1).GetDescription() for i in range(contribution.RasterCount)] == \
        [m["name"] for m in card["modalities"]]
    assert gdal.Open(str(folder / "entropy.tif")).GetRasterBand(1).GetNoDataValue() == -1
    for product in ("entropy", "contribution"):  # the 0..1 ramp (one .qml for the VRT and the COG)
        assert "singlebandpseudocolor" in (folder / f"{product}.qml").read_text(encoding="utf-8")
    assert 'type="paletted"' in (folder / "dominant_modality.qml").read_text(encoding="utf-8")


def _manifests(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.json")} if folder.is_dir() else set()


def _wait(condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def _worker_pids(log: Path) -> list[int]:
    """The driver logs 'Worker HOST:PID ready: ...' as each worker starts."""
    return [int(m) for m in re.findall(r"^Worker \S+:(\d+) ready", log.read_text(), re.M)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_worker_is_replaced_and_a_killed_driver_resumes(ray_address, single_process, tmp_path):
    """Kill one worker process for real mid-job, then the driver: rerunning reuses every finished block
    (same files, same mtimes), computes the rest and gives the single-process map."""
    job_path = write_job(_job(tmp_path / "out", block=32, broken=True), tmp_path / "job.json")  # 20 blocks
    blocks = tmp_path / "out" / "demo" / "blocks"
    log = open(tmp_path / "driver.log", "w")
    driver = subprocess.Popen([sys.executable, "-m", "engine", "batch", job_path, "--address", ray_address,
                               "--workers", "2"], cwd=REPO, env=_env(), stdout=log, stderr=log)
    try:
        log_path = tmp_path / "driver.log"
        _wait(lambda: (len(_manifests(blocks)) >= 3 and len(_worker_pids(log_path)) == 2)
              or driver.poll() is not None, 120, "3 blocks and 2 workers")
        assert driver.poll() is None, "the job ended before a worker could be killed"
        killed = _worker_pids(log_path)[0]
        os.kill(killed, signal.SIGKILL)
        _wait(lambda: len(_manifests(blocks)) >= 8 or driver.poll() is not None, 120, "8 blocks")
        assert driver.poll() is None, "the job ended before the driver could be killed"
        driver.kill()
        driver.wait(30)
        for pid in set(_worker_pids(log_path)) - {killed}:  # they die with the driver (Ray kills the
            _wait(lambda pid=pid: not _alive(pid), 30, f"worker {pid} to stop")  # actors it owned)
    finally:
        if driver.poll() is None:
            driver.kill()
        log.close()
    text = (tmp_path / "driver.log").read_text()
    assert "A worker died; starting another one" in text
    done = sorted(_manifests(blocks))
    assert 8 <= len(done) < 20, text
    mtimes = {name: os.stat(blocks / name.replace(".json", ".classes.tif")).st_mtime_ns for name in done}

    rerun = _engine("batch", job_path, "--address", ray_address, "--workers", "2")
    assert rerun.returncode == 3, rerun.stderr  # 3: some scenes failed (the broken one), the others done
    assert f"demo: done, 20 block(s) ({20 - len(done)} computed, {len(done)} reused)" in rerun.stdout
    assert "broken: FAILED: " in rerun.stdout and "missing_hsi.tif" in rerun.stdout
    assert "1 done, 1 failed (broken)" in rerun.stdout
    assert {name: os.stat(blocks / name.replace(".json", ".classes.tif")).st_mtime_ns
            for name in done} == mtimes  # not one finished block was written again
    assert np.array_equal(_read(tmp_path / "out" / "demo" / "classes.tif"), single_process)
    assert not [p for p in blocks.iterdir() if ".partial-" in p.name]  # the killed writers' temp files


@pytest.mark.qgis
def test_exportjob_in_qgis_writes_a_job_that_runs(bdgf_plugin, ray_address, single_process, tmp_path):
    import processing
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProject, QgsRasterLayer

    params = {"SPECTRAL": DEMO["hsi"], "SAR": DEMO["sar"], "LIDAR": DEMO["dsm"], "MODEL": DEMO_MODEL,
              "DEVICE": 0, "BLOCK_SIZE": 64, "OUTPUT": str(tmp_path / "job.json")}
    results = processing.run("bdgf:exportjob", {**params, "WRITE_DISAGREEMENT": True})
    job = load_job(results["OUTPUT"])
    assert job.disagreement and job.products() == ("classes", "disagreement")
    results = processing.run("bdgf:exportjob", params)
    job = load_job(results["OUTPUT"])
    assert job.scenes[0].inputs() == [DEMO["hsi"], DEMO["sar"], DEMO["dsm"]]
    assert job.out_dir == str(tmp_path / "job_out") and job.block_size_px == 64 and job.cog
    command = results["COMMAND"]
    assert command.endswith(f"python3 -m engine batch {results['OUTPUT']}") and command.startswith("cd ")
    for needed in ("ray==2.60.0", "onnxruntime", "'numpy<2'", "python3-gdal", "--address"):
        assert needed in results["INSTRUCTIONS"], needed
    plugin_dir = command[3:command.index(" && ")]
    run = _engine("batch", results["OUTPUT"], "--address", ray_address, cwd=plugin_dir)  # with our Python
    assert run.returncode == 0, run.stderr
    assert np.array_equal(_read(tmp_path / "job_out" / "hsi" / "classes.tif"), single_process)

    # a layer that is not a file GDAL can read elsewhere is refused, by name, before anything is written
    gdal.Translate("/vsimem/bdgf_hsi.tif", DEMO["hsi"])
    memory = QgsRasterLayer("/vsimem/bdgf_hsi.tif", "hsi in memory")
    QgsProject.instance().addMapLayer(memory)
    try:
        algorithm = QgsApplication.processingRegistry().createAlgorithmById("bdgf:exportjob")
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        ok, message = algorithm.checkParameterValues(
            {**params, "SPECTRAL": memory.id(), "OUTPUT": str(tmp_path / "refused.json")}, context)
        assert not ok and "Layer 'hsi in memory' cannot go into a batch job" in message
        assert "in-memory GDAL file, which exists only inside this QGIS" in message
        assert not (tmp_path / "refused.json").exists()
    finally:
        QgsProject.instance().removeMapLayer(memory.id())
        gdal.Unlink("/vsimem/bdgf_hsi.tif")


def test_a_job_asking_for_branch_outputs_the_model_lacks_fails_before_any_work(fixture_scene, tmp_path):
    from engine.batch.run import run_batch
    from tests.ui.test_helpers import write_tiny_package

    model = write_tiny_package(tmp_path / "old.bdgf", fixture_scene)  # graphs without branch outputs
    scene = SceneJob("s", fixture_scene["hsi"], (fixture_scene["sar"], fixture_scene["dsm"]))
    job = BatchJob(model, str(tmp_path / "out"), (scene,), disagreement=True)
    progress = Lines()
    summary = run_batch(job, progress=progress)  # every scene fails in its check: Ray is never started
    (report,) = summary.scenes
    assert report.status == "failed" and "--add-branch-outputs" in report.error
    assert report.blocks == 0 and not (tmp_path / "out" / "s").exists()


def test_sigterm_stops_a_driver_with_its_own_ray_in_one_line_and_leaves_no_partial_file(tmp_path):
    """Issue 26, case 5: Ray replaced the CLI's SIGTERM handler (exit 15 and Ray's stack dump); the
    half-written block files stayed until the next run."""
    job_path = write_job(_job(tmp_path / "out", block=32), tmp_path / "job.json")
    blocks = tmp_path / "out" / "demo" / "blocks"
    driver = subprocess.Popen([sys.executable, "-m", "engine", "batch", job_path, "--workers", "1"], cwd=REPO,
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: len(_manifests(blocks)) >= 1 or driver.poll() is not None, 180, "a first block")
        assert driver.poll() is None, "the job ended before it could be terminated"
        driver.send_signal(signal.SIGTERM)
        _, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 143, stderr[-3000:]
    assert "terminated (SIGTERM): the finished blocks are kept" in stderr and "Traceback" not in stderr
    assert not [p for p in blocks.iterdir() if ".partial-" in p.name]
    assert not (tmp_path / "out" / ".bdgf-batch.lock").exists()  # the lock goes with the driver
