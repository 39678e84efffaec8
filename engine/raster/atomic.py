"""All-or-nothing files: written under a temporary name beside the final one, renamed into place only when
complete. The one rule of every writer of the engine and of training (rasters, mosaics, the model package,
job files, block manifests, reports, configs, checkpoints). Standard library only.

    with atomic_file("report.html", "w") as fh:   # an exception inside: no report.html is touched
        fh.write(html)
    temp = temp_path("map.tif")                     # for writers that open the file themselves (GDAL)

The temporary name is `<name>.partial-<8 hex>[suffix]` in the same folder, so the rename never crosses a
file system (os.replace is atomic there, on Windows too) and a leftover after a crash is recognisable.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

PARTIAL = ".partial-"  # every temporary file's name holds this


def temp_path(path: str | os.PathLike, suffix: str = "") -> str:
    """A fresh temporary name beside `path` (same folder): `<path>.partial-<8 hex><suffix>`; with a
    suffix, the stem keeps the extension out of the way of drivers that choose a format by extension:
    temp_path('a/map.tif', '.tif') -> 'a/map.partial-1a2b3c4d.tif'."""
    path = os.fspath(path)
    tag = f"{PARTIAL}{uuid.uuid4().hex[:8]}"
    if suffix:
        stem, _ = os.path.splitext(path)
        return f"{stem}{tag}{suffix}"
    return f"{path}{tag}"


def remove_quietly(*paths: str) -> None:
    """Remove files that may not exist (temporaries on the way out of a failure)."""
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # e.g. still open on Windows: a leftover .partial file, never a final name


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                sync: bool = False) -> Iterator[IO]:
    """Open a temporary file beside `path`; on a clean exit close it (fsync with `sync`) and rename it onto
    `path`; on any exception, KeyboardInterrupt included, remove it and keep the earlier file."""
    path = os.fspath(path)
    temp = temp_path(path)
    binary = "b" in mode
    try:
        with open(temp, mode, **({} if binary else {"encoding": encoding})) as fh:
            yield fh
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        remove_quietly(temp)
        raise


def write_text(path: str | os.PathLike, text: str) -> str:
    """`text` written to `path` all or nothing; returns the path."""
    with atomic_file(path, "w") as fh:
        fh.write(text)
    return os.fspath(path)


def write_bytes(path: str | os.PathLike, data: bytes, sync: bool = False) -> str:
    """`data` written to `path` all or nothing; returns the path."""
    with atomic_file(path, "wb", sync=sync) as fh:
        fh.write(data)
    return os.fspath(path)


def replace_all(moves: Iterable[tuple[str, str]]) -> None:
    """Rename each (temporary, final) pair, in order: the last step of a multi-file output (a raster and
    its sidecars), after every file has been written and checked."""
    for temp, final in moves:
        os.replace(temp, final)
