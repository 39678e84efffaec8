"""The one guard of every writer, before any work: an output may not be (or have a sidecar that is) a file
an input dataset reads (GDAL's own file list: a VRT's sources, an ENVI file's .hdr, a shapefile's .dbf),
the model, or another output or its sidecar; its folder must exist and take files; the outputs must fit
the free space. The writers then write under a temporary name and rename (engine/raster/atomic.py).

    check_outputs({"HTML report": "acc.html"}, inputs={"class map": "map.tif", "reference": "ref.gpkg"})
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Mapping

from osgeo import gdal

from ..errors import BDGFError
from ..settings import same_file
from .style import qml_path_for
from .write import format_bytes


def dataset_files(path: str) -> list[str]:
    """Every file GDAL reads for the dataset at `path` (raster or vector), the path first; [path] when GDAL
    cannot open it (a model package, a folder, a file that does not exist yet)."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = gdal.OpenEx(os.fspath(path), gdal.OF_RASTER | gdal.OF_VECTOR)
        listed = (ds.GetFileList() or []) if ds is not None else []
    except RuntimeError:  # when the host enabled exceptions
        listed = []
    finally:
        gdal.PopErrorHandler()
    files = [os.fspath(path)]
    files += [f for f in listed if not same_file(f, path) and not f.startswith("/vsi")]
    return files


def raster_sidecars(path: str) -> list[str]:
    """What a raster writer also writes beside `path`: its .aux.xml and its QGIS style."""
    return [path + ".aux.xml", qml_path_for(path)]


def no_sidecars(path: str) -> list[str]:
    return []


def check_outputs(outputs: Mapping[str, str], inputs: Mapping[str, str] | None = None,
                  protected: Mapping[str, str] | None = None,
                  sidecars: Callable[[str], Iterable[str]] = no_sidecars,
                  sizes: Mapping[str, int] | None = None, size_note: str = "",
                  space_advice: Callable[[list[str]], str] | None = None) -> None:
    """BDGFError, before any work, naming the output and what it would destroy or why it cannot be
    written. outputs: {label: path}; inputs: {label: dataset path} (every file GDAL reads for it is
    protected); protected: {label: path} protected as they are (the model); sidecars(path): the files a
    writer puts beside an output; sizes: {label: bytes} that must fit the free space of each disk."""
    guarded = []
    for label, path in (inputs or {}).items():
        guarded += [(f"the {label}", f) for f in dataset_files(path)]
    guarded += [(f"the {label}", path) for label, path in (protected or {}).items()]
    written: list[tuple[str, str]] = []
    for label, path in outputs.items():
        if not path:
            continue
        for target in (path, *sidecars(path)):
            for what, other in guarded:
                if same_file(target, other):
                    own = "" if target == path else f" (its sidecar {os.path.basename(target)})"
                    raise BDGFError(f"The {label} output {path}{own} is {what} ({other}); writing it would "
                                    "destroy that file. Choose another output path.")
            for other_label, other in written:
                if same_file(target, other):
                    raise BDGFError(f"The {label} output {path} and the {other_label} output write the same "
                                    f"file ({target}); give each output its own name.")
            written.append((label, target))
        _check_folder(label, path)
    if sizes:
        _check_space(outputs, sizes, size_note, space_advice)


def _check_folder(label: str, path: str) -> None:
    if os.path.isdir(path):
        raise BDGFError(f"The {label} output {path} is an existing folder; give a file name in it.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BDGFError(f"Output folder does not exist: {folder} (for the {label} output). Create it or "
                        "choose another output path.")
    if not os.access(folder, os.W_OK):
        raise BDGFError(f"The folder of the {label} output is not writable: {folder}. Choose another output "
                        "path.")


def _check_space(outputs: Mapping[str, str], sizes: Mapping[str, int], note: str,
                 advice: Callable[[list[str]], str] | None) -> None:
    by_disk: dict[int, list] = {}
    for label, path in outputs.items():
        if path and label in sizes:
            folder = os.path.dirname(os.path.abspath(path))
            by_disk.setdefault(os.stat(folder).st_dev, []).append((label, folder))
    for entries in by_disk.values():
        folder = entries[0][1]
        need = sum(sizes[label] for label, _ in entries)
        free = shutil.disk_usage(folder).free
        if need > free:
            what = ", ".join(f"{label} {format_bytes(sizes[label])}" for label, _ in entries)
            more = advice([label for label, _ in entries]) if advice else ""
            what += f", {note}" if note else ""
            raise BDGFError(f"The outputs need up to {format_bytes(need)} ({what}), but only "
                            f"{format_bytes(free)} are free in {folder}. Free some space, write to another "
                            f"disk{more}.")
