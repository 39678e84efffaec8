"""Build the installable plugin zip: dist/bdgf-<version>.zip with a top folder `bdgf/`.

Only what QGIS needs at run time goes in (metadata, entry points, ui/, engine/, training/ (bdgf:train runs
`python -m training.run` from the plugin folder; QGIS's own process imports only its config writer and
progress reader), resources/, help/, README, LICENSE): an allow-list, so tests/, scripts/, docs/, bench/,
the venv and caches stay out, and compiled binaries are skipped (plugins.qgis.org rejects them). Pure
Python (zipfile), reproducible: sorted entries and fixed timestamps.
"""
from __future__ import annotations

import argparse
import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN_NAME = "bdgf"
TOP_FILES = ("metadata.txt", "__init__.py", "plugin.py", "README.md", "LICENSE", "LICENSE.txt",
             "CHANGELOG.md")
TOP_DIRS = ("ui", "engine", "training", "resources", "help", "i18n")  # allow-list: nothing else

REQUIRED = ("metadata.txt", "__init__.py", "plugin.py", "LICENSE", "help/index.html")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "_build", "build", "__MACOSX"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", ".swp", "~",
                 ".so", ".dll", ".dylib", ".pyd", ".exe")  # binaries: plugins.qgis.org rejects them
SKIP_NAMES = {".DS_Store", "Thumbs.db", ".gitignore"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def plugin_version(repo: Path = REPO) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(repo / "metadata.txt", encoding="utf-8")
    return parser["general"]["version"].strip()


def wanted(path: Path) -> bool:
    return not (
        any(part in SKIP_DIRS or part.startswith(".") for part in path.parts)
        or path.name in SKIP_NAMES
        or path.name.endswith(SKIP_SUFFIXES)
    )


def git_ignored(repo: Path, paths: list[Path]) -> set[Path]:
    """Paths git ignores (caches QGIS writes next to the demo layers, …); empty outside a checkout."""
    if not (repo / ".git").exists() or not paths:
        return set()
    done = subprocess.run(["git", "check-ignore", "--stdin"], cwd=repo, capture_output=True, text=True,
                          input="\n".join(p.as_posix() for p in paths))
    return {Path(line) for line in done.stdout.splitlines() if line}


def plugin_files(repo: Path = REPO) -> list[Path]:
    """Repository-relative paths of the files the plugin zip holds, sorted."""
    files = [Path(name) for name in TOP_FILES if (repo / name).is_file()]
    for folder in TOP_DIRS:
        if (repo / folder).is_dir():
            files += [p.relative_to(repo) for p in (repo / folder).rglob("*") if p.is_file()]
    ignored = git_ignored(repo, files)
    return sorted(p for p in files if wanted(p) and p not in ignored)


def build(out_dir: Path, repo: Path = REPO) -> Path:
    missing = [name for name in REQUIRED if not (repo / name).is_file()]
    if missing:
        raise SystemExit(f"package: missing {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PLUGIN_NAME}-{plugin_version(repo)}.zip"
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in plugin_files(repo):
            info = zipfile.ZipInfo(f"{PLUGIN_NAME}/{rel.as_posix()}", ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (repo / rel).read_bytes())
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "dist",
                        help="where the zip goes (default dist/)")
    args = parser.parse_args(argv)
    target = build(args.out_dir)
    with zipfile.ZipFile(target) as zf:
        count = len(zf.namelist())
    print(f"{target} ({count} files, {target.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
