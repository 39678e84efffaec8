"""The stamp every benchmark result carries: which code ran, on what machine, when.

    from bench.stamp import make_stamp; stamp = make_stamp("python -m bench.scan --threads 1")

Fields:
- commit: the full git hash of HEAD (None outside a git checkout); commit_short: its first 7 digits;
- clean: True when `git status --porcelain` prints nothing (no modified, staged or untracked file;
  only what .gitignore lists is not looked at), False otherwise, None without git;
- changes: the lines `git status --porcelain` printed (at most 40, then a count);
- date: UTC, ISO 8601 to the second;
- machine: CPU, cores, GPU, Python and library versions (machine_info);
- command: the command line that produced the result;
- sources_sha256: digest of the engine/, training/ and bench/ sources (tells two dirty trees apart).
Results made before the stamp existed carry `tree_note`, saying where commit and cleanliness come from.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_CHANGES = 40


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


# A copy of the tree made elsewhere (the GPU device machine: its .git, where there is one, is an older
# snapshot, so git there names the wrong commit): the caller names the commit the copy came from and
# whether that tree was clean, and that takes precedence; sources_sha256 lets anyone check the claim.
GIVEN_COMMIT, GIVEN_CLEAN = "BENCH_GIT_COMMIT", "BENCH_GIT_CLEAN"


def git_state() -> dict:
    """commit, commit_short, clean, changes of the working tree at REPO (or the commit and cleanliness
    given in BENCH_GIT_COMMIT / BENCH_GIT_CLEAN, with a tree_note saying so)."""
    given = os.environ.get(GIVEN_COMMIT, "").strip()
    if given:
        return {"commit": given, "commit_short": given[:7], "clean": os.environ.get(GIVEN_CLEAN) == "1",
                "changes": [], "tree_note": f"run on a copy of the tree: commit and cleanliness from "
                                            f"{GIVEN_COMMIT} and {GIVEN_CLEAN} (check sources_sha256 against "
                                            "that commit)"}
    head = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if head else None
    lines = status.splitlines() if status is not None else []
    changes = lines[:MAX_CHANGES] + ([f"... and {len(lines) - MAX_CHANGES} more"]
                                     if len(lines) > MAX_CHANGES else [])
    commit = head.strip() if head else None
    return {"commit": commit, "commit_short": commit[:7] if commit else None,
            "clean": None if status is None else not lines, "changes": changes}


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("engine/**/*.py"), *REPO.glob("training/**/*.py"),
                        *REPO.glob("bench/**/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def machine_info() -> dict:
    """CPU model, cores, GPU (when torch sees one), Python and library versions; never fails."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    for mod in ("numpy", "torch", "onnxruntime", "sklearn"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as exc:  # report, never fail on a missing optional package
            info[mod] = f"unavailable ({type(exc).__name__})"
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    try:
        from osgeo import gdal

        info["gdal"] = gdal.__version__
    except Exception as exc:
        info["gdal"] = f"unavailable ({type(exc).__name__})"
    return info


def repo_relative(path) -> str:
    """A path relative to the repository, also outside it (`../bench-work/...`): results never record
    machine paths, whichever folder a benchmark worked in."""
    path = os.path.abspath(os.fspath(path))
    try:
        return os.path.relpath(path, REPO)
    except ValueError:  # another drive (Windows): no relative form
        return path


def command_line(module: str, argv: list[str] | None = None) -> str:
    """`python -m MODULE ARGS` as invoked (argv None: this process's own arguments), absolute paths
    written relative to the repository. `--docs DIR` is left out: it says where the page went, not what
    was measured, and a scratch folder there would put a machine path on the page."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--docs" in args[:-1]:
        i = args.index("--docs")
        del args[i:i + 2]
    args = [a for a in args if not str(a).startswith("--docs=")]
    args = [repo_relative(a) if os.path.isabs(str(a)) else str(a) for a in args]
    return " ".join(["python -m " + module, *(shlex.quote(a) for a in args)])


def make_stamp(command: str) -> dict:
    """The stamp of a result produced now by `command` (take it when the run starts: the code it uses)."""
    return {**git_state(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(), "command": command, "sources_sha256": sources_digest()}


def describe_tree(stamp: dict) -> str:
    """'commit `abc1234`, tree clean' / '... tree not clean (3 changed paths: ...)'."""
    commit = f"commit `{stamp['commit_short']}`" if stamp.get("commit_short") else "no git commit"
    clean = stamp.get("clean")
    if clean is None:
        tree = "tree state unknown"
    elif clean:
        tree = "tree clean"
    else:
        changes = stamp.get("changes", [])
        paths = [c[3:] if len(c) > 3 and c[2] == " " else c for c in changes if not c.startswith("...")]
        more = f", ... ({len(changes)} entries in the JSON)" if len(changes) > 5 else ""
        tree = f"tree **not clean** ({', '.join(paths[:5])}{more})"
    return f"{commit}, {tree}"


def describe_machine(machine: dict) -> str:
    gpu = f", GPU {machine['gpu']}" if machine.get("gpu") else ""
    libs = ", ".join(f"{name} {machine[key]}" for key, name in (
        ("python", "Python"), ("numpy", "numpy"), ("torch", "torch"), ("onnxruntime", "onnxruntime"),
        ("sklearn", "scikit-learn"), ("gdal", "GDAL")) if machine.get(key))
    return f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores{gpu}; {libs}"
