"""engine.raster.atomic: files written under a temporary name beside the final one and renamed only when
complete; a failure (KeyboardInterrupt too) leaves the earlier file and no temporary file."""
from __future__ import annotations

import os

import pytest

from engine.raster.atomic import PARTIAL, atomic_file, replace_all, temp_path, write_bytes, write_text


def test_temp_path_is_a_fresh_name_in_the_same_folder(tmp_path):
    final = tmp_path / "maps" / "map.tif"
    plain, other, suffixed = temp_path(final), temp_path(final), temp_path(final, ".tif")
    assert plain != other  # two writers of one name never share a temporary file
    for temp in (plain, suffixed):
        assert os.path.dirname(temp) == str(final.parent) and PARTIAL in os.path.basename(temp)
    assert plain.startswith(str(final) + PARTIAL)
    stem = os.path.basename(suffixed)
    assert stem.startswith("map" + PARTIAL) and stem.endswith(".tif") and ".tif" + PARTIAL not in stem


def test_atomic_file_renames_on_success_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "report.txt"
    with atomic_file(path, "w") as fh:
        fh.write("first")
        assert not path.exists()  # the final name appears only when the file is complete
        assert PARTIAL in os.path.basename(fh.name) and os.path.dirname(fh.name) == str(tmp_path)
    assert path.read_text(encoding="utf-8") == "first"
    assert write_text(path, "second") == str(path) and path.read_text(encoding="utf-8") == "second"
    assert write_bytes(tmp_path / "data.bin", b"\x00\x01", sync=True) == str(tmp_path / "data.bin")
    assert (tmp_path / "data.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["data.bin", "report.txt"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()],
                         ids=["exception", "keyboard-interrupt"])
def test_a_failure_keeps_the_earlier_file_and_leaves_no_temporary_file(tmp_path, error):
    path = tmp_path / "job.json"
    path.write_text("earlier", encoding="utf-8")
    with pytest.raises(type(error)):
        with atomic_file(path, "w") as fh:
            fh.write("half of the new")
            raise error
    assert path.read_text(encoding="utf-8") == "earlier"
    assert os.listdir(tmp_path) == ["job.json"]


def test_replace_all_renames_each_pair_in_order(tmp_path):
    moves = []
    for name, text in (("map.tif", "raster"), ("map.qml", "style")):
        temp = temp_path(tmp_path / name)
        with open(temp, "w", encoding="utf-8") as fh:
            fh.write(text)
        moves.append((temp, str(tmp_path / name)))
    replace_all(moves)
    assert sorted(os.listdir(tmp_path)) == ["map.qml", "map.tif"]
    assert (tmp_path / "map.qml").read_text(encoding="utf-8") == "style"
