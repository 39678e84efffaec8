"""`python -m engine suggest` (engine/trust/cli.py): the points of suggest_samples written as a GeoPackage,
user errors as exit code 2."""
from __future__ import annotations

from osgeo import ogr

from engine.trust.suggest import SuggestSettings, suggest_samples
from tests.engine.trust import test_suggest
from tests.engine.trust.test_suggest import _collect_gdal_objects  # noqa: F401 (an autouse fixture)

scene = test_suggest.scene  # fixture


def test_the_command_line_writes_the_points(scene, tmp_path, capsys):
    from engine.__main__ import main

    out = tmp_path / "cli.gpkg"
    args = ["suggest", "--map", scene["classes"], "--uncertainty", scene["uncertainty"], "--out", str(out),
            "--count", "12", "--min-distance", "5"]
    assert main(args) == 0
    assert "12 points to label" in capsys.readouterr().out
    expected = suggest_samples(scene["classes"], scene["uncertainty"], SuggestSettings(12, 5.0))
    source = ogr.Open(str(out))
    assert [(f["row"], f["col"]) for f in source.GetLayer(0)] == [(p.row, p.col) for p in expected.points]
    source = None
    assert main([*args[:-4], "--count", "0"]) == 2  # a user error: one line, exit code 2
    assert "count must be a whole number >= 1" in capsys.readouterr().err


def test_json_lists_the_points_written_and_a_short_count_is_warned_about(scene, tmp_path, capsys):
    import json

    from engine.__main__ import main

    out = tmp_path / "json.gpkg"
    inputs = ["suggest", "--map", scene["classes"], "--uncertainty", scene["uncertainty"]]
    assert main([*inputs, "--out", str(out), "--count", "6", "--seed", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["out"] == str(out) and [p["rank"] for p in data["points"]] == [1, 2, 3, 4, 5, 6]
    assert sum(data["per_class"].values()) == 6
    source = ogr.Open(str(out))
    written = [(f["row"], f["col"]) for f in source.GetLayer(0)]
    assert written == [(p["row"], p["col"]) for p in data["points"]]
    source = None
    assert main([*inputs, "--out", str(tmp_path / "few.gpkg"), "--count", "500", "--min-distance", "30"]) == 0
    first, *rest = capsys.readouterr().out.splitlines()
    count = int(first.split(": ")[1].split(" points")[0])
    assert 0 < count < 500 and len(rest) == 1
    assert rest[0].startswith(f"warning: {count} of the 500 points asked for: no other candidate is")


def test_with_json_the_warnings_go_to_stderr_and_stdout_stays_json(scene, tmp_path, capsys):
    import json

    from engine.__main__ import main

    assert main(["suggest", "--map", scene["classes"], "--uncertainty", scene["uncertainty"], "--out",
                 str(tmp_path / "few.gpkg"), "--count", "500", "--min-distance", "30", "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["points"]) < 500
    assert captured.err.startswith("warning: ") and "points asked for" in captured.err
