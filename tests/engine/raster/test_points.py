"""engine.raster.points: point layers written as a GeoPackage all or nothing (read back, then renamed)."""
from __future__ import annotations

import os

import pytest
from osgeo import ogr, osr

from engine.errors import BDGFError
from engine.raster.points import write_points

FIELDS = [("rank", "int"), ("score", "real"), ("name", "str"), ("label", "int")]


def _utm() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    return srs.ExportToWkt()


def test_points_read_back_with_their_fields_crs_and_nulls(tmp_path):
    points = [(500001.0, 5300001.0, {"rank": 1, "score": 0.75, "name": "Trees & <grass>"}),
              (500011.0, 5299991.0, {"rank": 2, "score": None, "name": "Roof", "label": 3})]
    path = write_points(tmp_path / "points.gpkg", "to_label", FIELDS, points, _utm())
    assert path == str(tmp_path / "points.gpkg") and os.path.isabs(path)
    assert os.listdir(tmp_path) == ["points.gpkg"]  # no temporary file, journal or WAL left
    source = ogr.Open(path)
    layer = source.GetLayerByName("to_label")
    defn = layer.GetLayerDefn()
    assert [(defn.GetFieldDefn(i).GetName(), defn.GetFieldDefn(i).GetType())
            for i in range(defn.GetFieldCount())] == [("rank", ogr.OFTInteger), ("score", ogr.OFTReal),
                                                      ("name", ogr.OFTString), ("label", ogr.OFTInteger)]
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32632"
    first, second = list(layer)
    assert (first.GetGeometryRef().GetX(), first.GetGeometryRef().GetY()) == (500001.0, 5300001.0)
    assert first["rank"] == 1 and first["score"] == 0.75 and first["name"] == "Trees & <grass>"
    assert first.IsFieldNull("label")  # a field the point does not give stays empty
    assert second.IsFieldNull("score") and second["label"] == 3  # None is NULL, not 0
    source = None


def test_a_failure_leaves_no_file_and_a_rewrite_replaces_the_earlier_file_whole(tmp_path):
    missing = tmp_path / "no_such_folder" / "points.gpkg"
    with pytest.raises(BDGFError, match="Nothing was written under that name"):
        write_points(missing, "to_label", FIELDS, [(1.0, 2.0, {"rank": 1})], _utm())
    assert os.listdir(tmp_path) == []  # not even the folder
    path = tmp_path / "points.gpkg"
    write_points(path, "to_label", FIELDS, [(1.0, 2.0, {"rank": 1}), (3.0, 4.0, {"rank": 2})], _utm())
    write_points(path, "to_label", FIELDS, [(5.0, 6.0, {"rank": 9})], _utm())
    assert os.listdir(tmp_path) == ["points.gpkg"]
    source = ogr.Open(str(path))
    assert [f["rank"] for f in source.GetLayerByName("to_label")] == [9]  # the new layer, not appended to
    source = None
