"""A layer's nodata as the user sets it (training config `nodata`, CLI --nodata, QGIS): a number replaces
the value the file declares, NO_NODATA drops it (a layer whose declared nodata is a real value), None keeps
the file's own. No GDAL here: settings and configs are checked where GDAL is absent too (engine.raster.read
applies them)."""
from __future__ import annotations

import math
from typing import Union

from ..errors import BDGFError

NO_NODATA = "none"
Nodata = Union[float, str, None]  # typing.Union: a module-level `|` needs Python 3.10 (QGIS 3.22 ships 3.9)


def check_nodata(value, where: str) -> Nodata:
    """A user's nodata setting: a finite number, NO_NODATA ("none") or None; BDGFError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() == NO_NODATA):
        return None if value is None else NO_NODATA
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise BDGFError(f"{where}: nodata must be a number or '{NO_NODATA}' (the layer has no nodata value), "
                        f"found {value!r}.")
    return number
