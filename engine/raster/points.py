"""Point layers (GeoPackage), written all or nothing: built under a temporary name beside the final file,
read back (the feature count), then renamed; a failure leaves no file and keeps an earlier one.

    write_points("to_label.gpkg", "suggested_samples", [("rank", "int"), ("label", "int")],
                 [(x, y, {"rank": 1}), ...], crs_wkt)   # a field a point does not give stays empty
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from osgeo import gdal, ogr, osr

from ..errors import BDGFError
from .atomic import remove_quietly, replace_all, temp_path
from .read import GdalMessages

FIELD_TYPES = {"int": ogr.OFTInteger, "real": ogr.OFTReal, "str": ogr.OFTString}
Point = tuple[float, float, Mapping[str, object]]


def write_points(path: str | os.PathLike, layer_name: str, fields: Sequence[tuple[str, str]],
                 points: Sequence[Point], crs_wkt: str = "", what: str = "points") -> str:
    """The GeoPackage `path` with one point layer: `fields` ((name, 'int' | 'real' | 'str'), in order) and
    one feature per (x, y, values). Returns the absolute path."""
    path = os.path.abspath(os.fspath(path))
    temp = temp_path(path, ".gpkg")
    try:
        with GdalMessages() as messages:
            try:
                _write(temp, layer_name, fields, points, crs_wkt)
                written = ogr.Open(temp)
                count = written.GetLayerByName(layer_name).GetFeatureCount() if written else -1
                written = None
            except RuntimeError as exc:  # when the host enabled exceptions
                messages.errors.append(str(exc))
                count = -1
        if messages.errors or count != len(points):
            reason = messages.errors[0] if messages.errors else "it does not read back"
            raise BDGFError(f"Cannot write the {what} to {path}: {reason}. Nothing was written under that "
                            "name (an earlier file there is kept).")
        replace_all([(temp, path)])
    finally:
        remove_quietly(temp, temp + "-wal", temp + "-shm", temp + "-journal")
    return path


def _write(temp: str, layer_name: str, fields: Sequence[tuple[str, str]], points: Sequence[Point],
           crs_wkt: str) -> None:
    source = ogr.GetDriverByName("GPKG").CreateDataSource(temp)
    if source is None:
        raise RuntimeError(gdal.GetLastErrorMsg() or "GeoPackage driver failed")
    srs = None
    if crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    layer = source.CreateLayer(layer_name, srs, ogr.wkbPoint)
    for name, kind in fields:
        layer.CreateField(ogr.FieldDefn(name, FIELD_TYPES[kind]))
    defn = layer.GetLayerDefn()
    layer.StartTransaction()
    for x, y, values in points:
        feature = ogr.Feature(defn)
        for name, _ in fields:
            if values.get(name) is None:
                feature.SetFieldNull(name)
            else:
                feature.SetField(name, values[name])
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(float(x), float(y))
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    layer.CommitTransaction()
    source = None  # closes: the file is complete
