"""engine.raster.nodata: a user's nodata setting is a finite number, 'none' (the layer has no nodata) or
None (the file's own); anything else is refused with the setting's place named."""
from __future__ import annotations

import math

import pytest

from engine.errors import BDGFError
from engine.raster.nodata import NO_NODATA, check_nodata


def test_numbers_none_and_the_files_own_are_accepted():
    assert check_nodata(None, "hsi") is None
    assert check_nodata(-9999, "hsi") == -9999.0 and isinstance(check_nodata(-9999, "hsi"), float)
    assert check_nodata("-9999.5", "hsi") == -9999.5
    assert check_nodata(" None ", "sar") == NO_NODATA == check_nodata("NONE", "sar") == "none"


@pytest.mark.parametrize("value", ["nan", math.inf, "abc", True, [0], ""])
def test_other_values_are_refused_naming_where(value):
    with pytest.raises(BDGFError, match=r"config \[layers\.dsm\]: nodata must be a number or 'none'") as info:
        check_nodata(value, "config [layers.dsm]")
    assert repr(value) in str(info.value)
