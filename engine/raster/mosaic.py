"""Mosaics of a batch job's blocks: a VRT over the block files and, optionally, one Cloud-Optimized
GeoTIFF, each written all or nothing like the window writers (built under a temporary name, read back,
renamed with its .aux.xml and sidecar style).

    write_vrt("scene/classes.vrt", block_paths, classes=card["classes"])
    write_cog("scene/classes.tif", "scene/classes.vrt", classes=card["classes"])
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from osgeo import gdal

from ..errors import BDGFError
from .atomic import remove_quietly, replace_all, temp_path
from .read import GdalMessages
from .style import paletted_qml, qml_path_for
from .write import raster_moves, read_back_problems

COG_OPTIONS = ("COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS")


def write_vrt(path: str | os.PathLike, sources: Sequence[str], classes: Sequence[Mapping] | None = None,
              band_names: Sequence[str] | None = None, metadata: Mapping[str, str] | None = None,
              qml: str | None = None) -> str:
    """A VRT mosaic of `sources` (rasters of one grid's blocks, same bands), all or nothing like the
    writers: built under a temporary name beside `path` (sources relative to it), checked, renamed.
    With `classes`: the class raster's colour table, category names and sidecar `.qml`; `qml`: a
    sidecar style of another raster (a trust output's ramp)."""
    staged = _Staged(path)
    try:
        size = None
        with GdalMessages() as messages:
            try:
                ds = gdal.BuildVRT(staged.temp_path, [os.path.abspath(s) for s in sources])
                if ds is not None:
                    _describe_bands(ds, classes, band_names, metadata)
                    ds.FlushCache()
                    size = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
                    ds = None
            except RuntimeError as exc:
                messages.errors.append(str(exc))
                ds, size = None, None
        if size is None or messages.errors:
            raise staged.failure(messages.errors, "build")
        return staged.commit(size, _sidecars(staged.path, classes, qml))
    except BaseException:
        staged.abort()
        raise


def write_cog(path: str | os.PathLike, source: str, classes: Sequence[Mapping] | None = None,
              qml: str | None = None) -> str:
    """`source` (e.g. the scene's VRT) copied into one Cloud-Optimized GeoTIFF (GDAL's COG driver: tiled,
    DEFLATE, overviews; nearest-neighbour overviews for a class raster), all or nothing like the writers.
    Colour table, category names (its .aux.xml) and band descriptions come from `source`; with `classes`
    the sidecar `.qml` too (`qml`: another raster's style, as in write_vrt)."""
    staged = _Staged(path)
    options = list(COG_OPTIONS) + (["RESAMPLING=NEAREST"] if classes else [])
    try:
        with GdalMessages() as messages:
            try:
                src = gdal.Open(os.fspath(source))
                ok = src is not None  # a source that cannot be opened (GDAL's exceptions off): its message
                if ok:
                    size = src.RasterXSize, src.RasterYSize, src.RasterCount
                    out = gdal.Translate(staged.temp_path, src, format="COG", creationOptions=options)
                    ok = out is not None
                    out = src = None
            except RuntimeError as exc:
                messages.errors.append(str(exc))
                ok = False
        if not ok or messages.errors:
            raise staged.failure(messages.errors, "write")
        return staged.commit(size, _sidecars(staged.path, classes, qml))
    except BaseException:
        staged.abort()
        raise


def _describe_bands(ds: gdal.Dataset, classes, band_names, metadata) -> None:
    if metadata:
        ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
    for i, name in enumerate(band_names or []):
        ds.GetRasterBand(i + 1).SetDescription(str(name))
    if classes:
        band = ds.GetRasterBand(1)
        names = [""] * (max(int(c["value"]) for c in classes) + 1)
        for c in classes:
            names[int(c["value"])] = str(c["name"])
        band.SetCategoryNames(names)


def _sidecars(path: str, classes, qml: str | None = None) -> dict[str, str]:
    if classes:
        return {qml_path_for(path): paletted_qml(classes)}
    return {qml_path_for(path): qml} if qml else {}


class _Staged:
    """A file GDAL writes whole (VRT, COG) under `<stem>.partial-<id><ext>` beside `path`, then checked and
    renamed with its .aux.xml and sidecars: the GeoTiffWriter rule for files not written window by window."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise BDGFError(f"Output folder does not exist: {directory}")
        self.temp_path = temp_path(self.path, os.path.splitext(self.path)[1])
        self._temps = [self.temp_path, self.temp_path + ".aux.xml"]

    def commit(self, size: tuple[int, int, int], sidecars: Mapping[str, str]) -> str:
        problems = read_back_problems(self.temp_path, *size)
        if problems:
            raise self.failure(problems, "write")
        moves = raster_moves(self.temp_path, self.path)
        try:
            for final, text in sidecars.items():
                temp = temp_path(final)
                self._temps.append(temp)
                with open(temp, "w", encoding="utf-8") as fh:
                    fh.write(text)
                moves.append((temp, final))
            replace_all(moves)
        except OSError as exc:
            raise self.failure([exc.strerror or str(exc)], "write") from None
        return self.path

    def abort(self) -> None:
        remove_quietly(*self._temps)

    def failure(self, messages: Sequence[str], what: str) -> BDGFError:
        reason = messages[0] if messages else gdal.GetLastErrorMsg() or "GDAL failed"
        return BDGFError(f"Cannot {what} the output {self.path}: {reason}. Nothing was written under that "
                         "name (an earlier file there is kept).")
