"""GeoPackage vector layers written all or nothing: built under a temporary name beside the final file, read
back (the feature count), then renamed; a failure leaves no file and keeps an earlier one. Points (the
suggested samples to label) and shapes given as WKB (the label polygons bdgf:train hands to training).

    write_points("to_label.gpkg", "suggested_samples", [("rank", "int"), ("label", "int")],
                 [(x, y, {"rank": 1}), ...], crs_wkt)   # a field a point does not give stays empty
    write_shapes("labels.gpkg", "labels", [("class_code", "int")], [(wkb, {"class_code": 3}), ...], crs_wkt)
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
    def point(x, y):
        geometry = ogr.Geometry(ogr.wkbPoint)
        geometry.AddPoint_2D(float(x), float(y))
        return geometry

    rows = [(lambda x=x, y=y: point(x, y), values) for x, y, values in points]
    return _write_layer(path, layer_name, fields, rows, crs_wkt, ogr.wkbPoint, what)


def write_shapes(path: str | os.PathLike, layer_name: str, fields: Sequence[tuple[str, str]],
                 shapes: Sequence[tuple[bytes, Mapping[str, object]]], crs_wkt: str = "",
                 what: str = "shapes") -> str:
    """The GeoPackage `path` with one layer of any geometry: one feature per (WKB in `crs_wkt`, values)."""
    rows = [(lambda wkb=wkb: ogr.CreateGeometryFromWkb(bytes(wkb)), values) for wkb, values in shapes]
    return _write_layer(path, layer_name, fields, rows, crs_wkt, ogr.wkbUnknown, what)


def _write_layer(path, layer_name, fields, rows, crs_wkt, geometry_type, what) -> str:
    path = os.path.abspath(os.fspath(path))
    temp = temp_path(path, ".gpkg")
    try:
        with GdalMessages() as messages:
            try:
                _write(temp, layer_name, fields, rows, crs_wkt, geometry_type)
                written = ogr.Open(temp)
                count = written.GetLayerByName(layer_name).GetFeatureCount() if written else -1
                written = None
            except RuntimeError as exc:  # when the host enabled exceptions
                messages.errors.append(str(exc))
                count = -1
        if messages.errors or count != len(rows):
            reason = messages.errors[0] if messages.errors else "it does not read back"
            raise BDGFError(f"Cannot write the {what} to {path}: {reason}. Nothing was written under that "
                            "name (an earlier file there is kept).")
        replace_all([(temp, path)])
    finally:
        remove_quietly(temp, temp + "-wal", temp + "-shm", temp + "-journal")
    return path


def _write(temp: str, layer_name: str, fields: Sequence[tuple[str, str]], rows, crs_wkt: str,
           geometry_type) -> None:
    source = ogr.GetDriverByName("GPKG").CreateDataSource(temp)
    if source is None:
        raise RuntimeError(gdal.GetLastErrorMsg() or "GeoPackage driver failed")
    srs = None
    if crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    try:
        layer = source.CreateLayer(layer_name, srs, geometry_type)
        for name, kind in fields:
            layer.CreateField(ogr.FieldDefn(name, FIELD_TYPES[kind]))
        defn = layer.GetLayerDefn()
        layer.StartTransaction()
        for geometry, values in rows:
            feature = ogr.Feature(defn)
            for name, _ in fields:
                if values.get(name) is None:
                    feature.SetFieldNull(name)
                else:
                    feature.SetField(name, values[name])
            feature.SetGeometry(geometry())
            layer.CreateFeature(feature)
        layer.CommitTransaction()
    finally:
        layer = source = None  # closed here, complete or not (never later, in a destructor)
