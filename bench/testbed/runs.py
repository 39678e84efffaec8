"""Scenes and training runs of the testbed benchmark: `python -m training.run` in subprocesses, reused
when a finished run with the same settings exists (a fingerprint in WORK/runs/ROW/seed_S/bench_run.json)."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from bench.report import repo_relative
from bench.stamp import REPO
from bench.testbed.rows import Settings
from engine.nn.config import NETWORK_VERSION


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} bench.testbed: {message}", flush=True)


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def make_testbed(out: Path, st: Settings, seed: int, training: dict) -> dict:
    """Write (or reuse) a scene and its benchmark config (the scene config + a [training] table).
    The hard testbed's configs are written per run seed by `seed_config`."""
    from training.synthetic import make_scene, write_scene

    params = {"size": st.size, "bands": st.bands, "seed": seed, "train_per_class": st.train_per_class,
              "training": training, "version": 1}
    if st.testbed != "easy":
        params.update(testbed=st.testbed, aux_bands=st.aux_bands, split=st.split, version=2)
    params = json.loads(json.dumps(params))  # as the stamp reads back (tuples become lists)
    stamp = out / "bench_scene.json"
    config = out / "bench.toml"
    if stamp.is_file() and json.loads(stamp.read_text())["params"] == params and (
            config.is_file() or st.testbed != "easy"):  # the hard testbed writes its configs per seed
        return json.loads(stamp.read_text())["info"]
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    scene = make_scene(st.size[0], st.size[1], seed=seed, n_bands=st.bands)
    paths = write_scene(scene, out, "same", train_per_class=st.train_per_class)
    text = Path(paths["config"]).read_text(encoding="utf-8")
    text += _training_table(training)
    config.write_text(text, encoding="utf-8")
    meta = json.loads(Path(paths["meta"]).read_text(encoding="utf-8"))
    info = {"dir": str(out), "config": str(config), "inputs": [paths["hsi"], paths["sar"], paths["dsm"]],
            "meta": meta, "seconds": time.perf_counter() - t0, "testbed": st.testbed,
            "aux_bands": st.aux_bands, "split": st.split, "training": training}
    if st.testbed != "easy":  # the easy config's blob labels are not used: one config per seed instead
        config.unlink()
        info["config"] = None
    stamp.write_text(json.dumps({"params": params, "info": info}, indent=1), encoding="utf-8")
    return info


def _training_table(training: dict) -> str:
    return "\n[training]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in training.items())


def _hard_layers(scene: dict) -> tuple[dict, dict, list[dict]]:
    """(config.toml as written by write_scene, its spectral entry, its aux entries with the testbed's band
    selection: `bands` and the matching `band_names`)."""
    import tomllib

    base = tomllib.loads((Path(scene["dir"]) / "config.toml").read_text(encoding="utf-8"))
    aux = []
    for entry in base["data"]["aux"]:
        entry = dict(entry)
        bands = scene["aux_bands"].get(entry["name"])
        if bands:
            entry["bands"] = list(bands)
            if "band_names" in entry:
                entry["band_names"] = [entry["band_names"][b - 1] for b in bands]
        aux.append(entry)
    return base, base["data"]["spectral"], aux


PINNED_NETWORK = {"classifier": {"version": NETWORK_VERSION}}


def seed_config(scene: dict, seed: int, tag: str = "", split: dict | None = None,
                training: dict | None = None, network: dict | None = None) -> str:
    """The training config of one run seed. Easy testbed: the scene's one config. Hard testbed:
    bench{TAG}_sSEED.toml, labels.tif with a block [labels.split] whose seed is the run seed (`split`
    overrides the scene's split settings), the auxiliary band selection, the [training] table (the
    scene's, or `training`) and `network`: {part: {key: value}} as [network.PART] tables (default: the
    current network version pinned, PINNED_NETWORK, so that every row of a benchmark trains the same
    network whatever the label-count rule of training.presets.network_version_for would pick)."""
    if scene.get("testbed", "easy") == "easy":
        return scene["config"]
    from training.config_writer import write_config

    path = Path(scene["dir"]) / f"bench{tag}_s{seed}.toml"
    base, spectral, aux = _hard_layers(scene)
    write_config(str(path), name=base["dataset"]["name"], spectral=spectral, aux=aux,
                 labels={"raster": "labels.tif", "split": {**scene["split"], **(split or {}), "seed": seed}},
                 classes=base["classes"],
                 dataset={k: v for k, v in base["dataset"].items() if k != "name"})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(_training_table(scene["training"] if training is None else training))
        for part, values in (PINNED_NETWORK if network is None else network).items():
            fh.write(f"\n[network.{part}]\n")
            fh.write("".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items()))
    return str(path)


def baseline_config(scene: dict, seed: int, tag: str = "", split: dict | None = None) -> str:
    """A config the classical baselines can read (train + test label rasters). Easy testbed: the
    scene's config. Hard testbed: the split of seed_config(scene, seed) exactly as training.run draws it
    (training.prepare), written as train_sSEED.tif / test_sSEED.tif, and baseline_sSEED.toml naming them."""
    if scene.get("testbed", "easy") == "easy":
        return scene["config"]
    from osgeo import gdal

    from training.config import load_config
    from training.config_writer import write_config
    from training.prepare import prepare

    folder = Path(scene["dir"])
    path = folder / f"baseline{tag}_s{seed}.toml"
    prep = prepare(load_config(seed_config(scene, seed, tag, split)), log=lambda _msg: None)
    values = np.array([0] + [c.value for c in prep.classes], np.int32)
    template = gdal.Open(str(folder / "labels.tif"))
    r0, c0, h, w = prep.window
    for name, split in (("train", prep.train), ("test", prep.test)):
        full = np.zeros((template.RasterYSize, template.RasterXSize), np.uint8)
        full[r0:r0 + h, c0:c0 + w] = values[split.astype(np.int32) + 1]
        ds = gdal.GetDriverByName("GTiff").CreateCopy(str(folder / f"{name}{tag}_s{seed}.tif"), template)
        ds.GetRasterBand(1).WriteArray(full)
        ds = None
    template = None
    base, spectral, aux = _hard_layers(scene)
    write_config(str(path), name=base["dataset"]["name"], spectral=spectral, aux=aux,
                 labels={"train": f"train{tag}_s{seed}.tif", "test": f"test{tag}_s{seed}.tif"},
                 classes=base["classes"],
                 dataset={k: v for k, v in base["dataset"].items() if k != "name"})
    return str(path)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class NotFinished(Exception):
    """A run that is not finished while only finished runs may be used."""


def display_command(cmd: list[str]) -> str:
    """The command as recorded in results: `python`, repository-relative paths."""
    return " ".join(["python", *(repo_relative(a) if os.path.isabs(a) else a for a in cmd[1:])])


def training_run(run_dir: Path, config: str, st: Settings, seed: int, args: list[str], cache: Path,
                 ddpm_from: Path | None = None, fingerprint_extra: dict | None = None,
                 reuse_only: bool = False, ddpm_key: str | None = None) -> dict:
    """`python -m training.run` for one seed into run_dir (reused when finished with the same settings).
    `ddpm_key` names the DDPM's identity in the fingerprint instead of where it is copied from (a run that
    pre-trains it and one that copies the same DDPM from a store are the same run)."""
    stamp_obj = {"config": config, "preset": st.preset, "device": st.device, "threads": st.threads,
                 "seed": seed, "args": args,
                 "ddpm_from": ddpm_key or (str(ddpm_from) if ddpm_from else None),
                 **(fingerprint_extra or {})}
    stamp = fingerprint(stamp_obj)
    done = run_dir / "bench_run.json"
    if done.is_file() and (run_dir / "metrics.json").is_file():
        info = json.loads(done.read_text())
        if info.get("fingerprint") == stamp:
            info["cached"] = True
            return info
    if reuse_only:
        raise NotFinished(str(run_dir))
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    extra = []
    if ddpm_from is not None:  # start from the finished DDPM of another run (same seed, same settings)
        (run_dir / "ckpt").mkdir()
        for suffix in (".json", ".safetensors"):
            shutil.copy2(ddpm_from / "ckpt" / f"ddpm_final{suffix}", run_dir / "ckpt" / f"ddpm_final{suffix}")
        extra = ["--resume"]
    cmd = [sys.executable, "-m", "training.run", "--config", config, "--out", str(run_dir),
           "--preset", st.preset, "--device", st.device, "--seeds", str(seed), "--cache-dir", str(cache),
           *(["--threads", str(st.threads)] if st.threads > 0 else []), *args, *extra]
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with open(run_dir / "bench_stdout.log", "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        tail = (run_dir / "bench_stdout.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"training.run failed (exit {proc.returncode}) for {run_dir}:\n{tail}")
    info = {"fingerprint": stamp, "command": display_command(cmd), "wall_s": wall, "cpu_s": cpu,
            "cached": False}
    done.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def ddpm_masking(run_dir: Path) -> dict | None:
    """Final masking state of the run's DDPM pre-training (imbalance ratio, ratios, per-modality losses)."""
    path = run_dir / "ckpt" / "ddpm_final.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    hist = meta.get("history") or [{}]
    last = hist[-1]
    return {"imbalance": (meta.get("masking") or {}).get("imbalance"),
            "structure_ratio": last.get("structure_ratio"), "sample_ratio": last.get("sample_ratio"),
            "mean_structure_ratio": float(np.mean([h.get("structure_ratio", 0.0) for h in hist])),
            "mean_sample_ratio": float(np.mean([h.get("sample_ratio", 0.0) for h in hist])),
            "final_losses": [last[k] for k in sorted(last) if k.startswith("loss_")]}


def bdgf_result(run_dir: Path, info: dict) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    package = Path(m["package"]) if Path(m["package"]).is_absolute() else run_dir / m["package"]
    return {"ddpm_masking": ddpm_masking(run_dir), "masking": m.get("masking"), "oa": m["oa"], "aa": m["aa"],
            "kappa": m["kappa"], "classes": m["classes"],
            "confusion_matrix": m["confusion_matrix"], "n": m["n"], "modality_balance": m["modality_balance"],
            "modality_shares": m.get("modality_shares"), "branch_oa": m.get("branch_oa"),
            "selection": {k: m["selection"].get(k) for k in ("epoch", "val_oa")}, "timings": m["timings"],
            "package": repo_relative(package), "network_version": package_network_version(package),
            "wall_s": info["wall_s"], "cpu_s": info.get("cpu_s"),
            "cached": info.get("cached", False), "command": info["command"]}


def package_network_version(package: Path) -> int | None:
    """The classifier network version the run's model card records (None: no readable package)."""
    from engine.model.card import network_version

    try:
        with zipfile.ZipFile(package) as zf:
            return network_version(json.loads(zf.read("card.json")))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None


def networks_line(results: dict) -> str:
    """What the report's setup says of the networks its BDGF runs built (results: row -> seed -> result)."""
    versions = sorted({r["network_version"] for rows in results.values() for r in rows.values()
                       if isinstance(r, dict) and r.get("network_version") is not None})
    if not versions:
        return "- Network: not recorded by the runs (results written before the version was recorded)."
    return (f"- Network: classifier version {', '.join(map(str, versions))} in the BDGF runs (their model "
            "cards; benchmarks pin it, `bench/testbed/runs.py` PINNED_NETWORK), with the preset's few-label "
            "recipe and modality dropout (`training/presets.py`).")


def split_summary(work: Path, results: dict) -> dict:
    """Per seed: training / test pixels per class (data_summary.json) and the fit / validation pixels
    (the model card) of that seed's full BDGF run, or of the first BDGF row that ran."""
    out = {}
    for key in ("bdgf", *results):
        for seed in results.get(key, {}):
            run_dir = work / "runs" / key / f"seed_{seed}"
            if seed in out or not (run_dir / "data_summary.json").is_file():
                continue
            summary = json.loads((run_dir / "data_summary.json").read_text(encoding="utf-8"))
            entry = {"row": key, "train_per_class": summary.get("train_pixels_per_class"),
                     "test_per_class": summary.get("test_pixels_per_class")}
            try:
                with zipfile.ZipFile(run_dir / "model.bdgf") as zf:
                    card = json.loads(zf.read("card.json"))
                info = card.get("training") or {}
                entry.update(fit_pixels=info.get("fit_pixels"),
                             validation_pixels=info.get("validation_pixels"))
            except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
                pass
            out[seed] = entry
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))
