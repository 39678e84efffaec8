"""End-to-end `python -m training.run --preset quick` on the fixture scene, resume and torchrun (gloo)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.model.package import ModelPackage

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
FIGURES = ("confusion_matrix.png", "prediction_map.png", "training_curves.png", "tsne_features.png",
           "modality_balance.png")


ENV = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}


def command(config, out, *extra, launcher=()) -> list[str]:
    return [*(launcher or [sys.executable]), "-m", "training.run", "--config", str(config), "--out", str(out),
            "--preset", "quick", "--device", "cpu", *extra]


def train(config, out, *extra, launcher=(), timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(command(config, out, *extra, launcher=launcher), cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def kill_when(path: Path, proc: subprocess.Popen, timeout: float = 300) -> int:
    """SIGKILL `proc` as soon as `path` exists (a checkpoint was written); returns its exit code."""
    deadline = time.monotonic() + timeout
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


@pytest.fixture()
def quick_run(engine_trained_run):
    """One uninterrupted quick run on the fixture scene (conftest's session fixture, shared with the
    engine tests: the same command as `train(config, out)` here)."""
    return Path(engine_trained_run)


def test_quick_run_writes_every_artefact(quick_run):
    for name in ("model.bdgf", "metrics.json", "report.md", "train.log", *FIGURES):
        assert (quick_run / name).is_file() and (quick_run / name).stat().st_size > 0, name
    assert list((quick_run / "cache").glob("features_*.npy"))
    log = (quick_run / "train.log").read_text()
    # the fixture has 7-27 training pixels per class: below val_min_per_class, so no validation split
    assert "DDPM:" in log and "classifier: no validation pixels; final epoch" in log and "test OA" in log
    for stage in ("stage 1 (data", "stage 2 (DDPM pre-training)", "stage 3 (diffusion features)",
                  "stage 4 (classifier)", "stage 5 (evaluation)", "stage 6 (model package)"):
        assert stage in log, stage  # stage durations go to train.log, not only report.md
    assert "spectral share of the features" in log
    report = (quick_run / "report.md").read_text()
    assert "Confusion matrix" in report and "Modality balance" in report and "## Modality masking" in report


def test_quick_run_beats_the_majority_baseline(quick_run):
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert metrics["oa"] >= metrics["majority_baseline_oa"] + 0.15, metrics
    assert set(metrics) >= {"oa", "aa", "kappa", "classes", "confusion_matrix", "modality_balance",
                            "modality_shares", "masking"}
    history = metrics["masking"]["history"]  # the controller curve: measured share, r_s, p_m per step
    assert len(history) > 10 and all(set(r) == {"step", "spectral_share", "structure_ratio", "sample_ratio"}
                                     for r in history)
    assert any(r["spectral_share"] is not None for r in history)
    assert len(metrics["classes"]) == 6 and all("producers_accuracy" in c for c in metrics["classes"])
    # unclassified test pixels are counted: coverage and the OA over all test pixels sit next to the OA
    assert 0 < metrics["coverage"] <= 1 and metrics["oa_classified"] == metrics["oa"]
    assert metrics["oa_all_reference"] == pytest.approx(metrics["oa"] * metrics["coverage"])
    assert "OA over all test pixels (unclassified = wrong)" in (quick_run / "report.md").read_text()
    card = ModelPackage(quick_run / "model.bdgf").card["metrics"]
    assert (card["coverage"], card["oa_all_reference"]) == (metrics["coverage"], metrics["oa_all_reference"])
    # each branch scored alone, from the same pass: what carries the fusion and what drags it
    branches = ModelPackage(quick_run / "model.bdgf").card["network"]["classifier"]["branches"]
    assert list(metrics["branch_oa"]) == branches == ["cnn", "mamba", "transformer"]
    assert all(metrics["majority_baseline_oa"] < v <= 1.0 for v in metrics["branch_oa"].values())
    assert card["branch_oa"] == metrics["branch_oa"]
    assert "Each branch alone (its softmax without the fusion): cnn " in (quick_run / "report.md").read_text()


def test_quick_run_measures_missing_modalities_and_self_trains(quick_run):
    """The quick preset trains with modality dropout and one self-training round: the card states the
    test OA with each auxiliary modality missing, and what the round added."""
    metrics = json.loads((quick_run / "metrics.json").read_text())
    missing = metrics["missing_modality"]
    assert set(missing) == {"sar", "dsm"}  # the auxiliary modalities only
    for name, m in missing.items():
        assert 0.0 <= m["oa"] <= 1.0 and m["test_pixels"] == metrics["n"], name
    assert min(m["oa"] for m in missing.values()) > metrics["majority_baseline_oa"]
    card = ModelPackage(quick_run / "model.bdgf").card
    assert card["metrics"]["missing_modality"] == missing
    assert card["training"]["hyperparameters"]["modality_dropout"] > 0
    rounds = card["training"]["self_training"]
    assert len(rounds) == 1 and rounds[0]["round"] == 1 and rounds[0]["added"] == sum(rounds[0]["per_class"])
    assert 0 < rounds[0]["added"] <= 6 * card["training"]["hyperparameters"]["pseudo_per_class"]
    log = (quick_run / "train.log").read_text()
    assert "self-training round 1" in log and "sar missing: test OA" in log


def test_package_card_and_weights(quick_run, fixture_scene):
    package = ModelPackage(quick_run / "model.bdgf")
    card = package.card
    assert [c["name"] for c in card["classes"]] == [c["name"] for c in fixture_scene["classes"]]
    assert [(m["name"], m["role"], m["bands"]) for m in card["modalities"]] == [
        ("hsi", "spectral", 24), ("sar", "sar", 4), ("dsm", "lidar", 1)]
    assert len(card["modalities"][0]["wavelengths_nm"]) == 24
    assert card["modalities"][1]["band_names"] == ["VV", "VH", "HH", "HV"]
    assert card["metrics"]["oa"] > 0 and card["training"]["seed"] == 0
    assert card["training"]["preset"] == "quick"
    masking = card["training"]["masking"]  # the controller's final state, without its history
    assert masking["mode"] == "adaptive" and masking["target_share"] == pytest.approx(1 / 3)
    assert masking["floor_structure_ratio"] <= masking["mean_structure_ratio"] and "history" not in masking
    shares = card["training"]["modality_shares"]
    assert list(shares) == ["hsi", "sar", "dsm"] and sum(shares.values()) == pytest.approx(1.0)
    assert card["network"]["ddpm"]["feature_timesteps"] == card["diffusion"]["timesteps"]
    assert {"torch", "onnx", "numpy", "gdal"} <= set(card["software"])
    names = set(package.tensors(strip=False))
    assert names and all(n.startswith(("ddpm.", "classifier.")) for n in names)
    assert any(n.startswith("ddpm.") for n in names) and any(n.startswith("classifier.") for n in names)


def _tensors(path):
    return ModelPackage(path).tensors(strip=False)


def test_resume_after_kills_matches_uninterrupted(quick_run, fixture_scene, tmp_path):
    """SIGKILL during DDPM pre-training, resume and stop after classifier epoch 5, resume to the end:
    the same weights and metrics, bit for bit, as the uninterrupted run."""
    out = tmp_path / "resumed"
    proc = subprocess.Popen(command(fixture_scene["config"], out), cwd=REPO, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kill_when(out / "ckpt" / "ddpm.json", proc) == -signal.SIGKILL
    assert not (out / "model.bdgf").exists()
    second = train(fixture_scene["config"], out, "--resume", "--stop-after", "classifier:5")
    assert second.returncode == 3, second.stderr[-3000:]
    assert "DDPM: resumed at step" in (out / "train.log").read_text()
    third = train(fixture_scene["config"], out, "--resume")
    assert third.returncode == 0, third.stderr[-3000:]
    assert "classifier: resumed after epoch 5" in (out / "train.log").read_text()
    a, b = _tensors(quick_run / "model.bdgf"), _tensors(out / "model.bdgf")
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (quick_run, out))
    assert (ma["oa"], ma["aa"], ma["kappa"], ma["confusion_matrix"]) == \
        (mb["oa"], mb["aa"], mb["kappa"], mb["confusion_matrix"])


def test_torchrun_two_processes_gloo(fixture_scene, tmp_path):
    config = tmp_path / "tiny.toml"
    text = Path(fixture_scene["config"]).read_text()
    base = Path(fixture_scene["config"]).parent
    for name in ("hsi.tif", "sar.tif", "dsm.tif", "train.tif", "test.tif"):
        text = text.replace(f'"{name}"', f'"{base / name}"')
    config.write_text(text + "\n[training]\nddpm_steps = 12\nepochs = 2\ntsne_points = 100\n")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = train(config, tmp_path / "ddp", launcher=launcher)
    assert result.returncode == 0, result.stderr[-3000:]
    card = ModelPackage(tmp_path / "ddp" / "model.bdgf").card
    assert card["training"]["world_size"] == 2
    shards = json.loads((tmp_path / "ddp" / "metrics.json").read_text())["selection"]["ddp_shards"]
    assert sorted(shards) == ["0", "1"]
    first, second = set(shards["0"]), set(shards["1"])
    assert first and second and first != second
    assert len(first & second) <= 1  # DistributedSampler pads an odd count with one repeated pixel
    assert len(first | second) == card["training"]["fit_pixels"]


def test_cross_model_ddpm_loads_another_runs_ddpm(quick_run):
    from engine.nn.config import BDGFConfig
    from training.config import ConfigError
    from training.run import load_cross_model

    card = ModelPackage(quick_run / "model.bdgf").card
    net = BDGFConfig.from_dict(card["network"])
    ddpm, merged, info = load_cross_model(str(quick_run), net)
    assert merged.ddpm == net.ddpm and info["content_hash"] == card["content_hash"]
    weights = ModelPackage(quick_run / "model.bdgf").tensors("ddpm.")
    assert all(np.array_equal(v.numpy(), weights[k]) for k, v in ddpm.state_dict().items())
    other = BDGFConfig.from_dict({**card["network"], "modality_channels": [20, 4, 1]})
    with pytest.raises(ConfigError, match="modality channels"):
        load_cross_model(str(quick_run), other)
