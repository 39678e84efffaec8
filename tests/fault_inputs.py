"""Bad inputs for the fault tests (no tests here): copies of the fixture scene, rasters on its grid with
other values, a VRT declaring 10^6 x 10^6 px, a VRT GDAL warns about, a package whose card disagrees
with its ONNX graphs."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
from osgeo import gdal

LAYERS = ("hsi", "sar", "dsm")


def copy_scene(scene: dict, dest: Path) -> dict:
    """The scene's hsi / sar / dsm copied into `dest`: a test that may (on a broken engine) overwrite an
    input must never touch the session's fixture files."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in LAYERS:
        out[name] = str(dest / Path(scene[name]).name)
        shutil.copyfile(scene[name], out[name])
    return out


def write_like(template: str, path: Path, data: np.ndarray, dtype=gdal.GDT_Float32,
               nodata: float | None = None) -> str:
    """A GeoTIFF on `template`'s grid holding `data` (bands, h, w)."""
    src = gdal.Open(template)
    data = np.asarray(data).reshape(-1, src.RasterYSize, src.RasterXSize)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), src.RasterXSize, src.RasterYSize, len(data), dtype)
    ds.SetGeoTransform(src.GetGeoTransform())
    ds.SetProjection(src.GetProjection())
    for i, band in enumerate(data):
        ds.GetRasterBand(i + 1).WriteArray(band)
        if nodata is not None:
            ds.GetRasterBand(i + 1).SetNoDataValue(nodata)
    ds = None
    return str(path)


def read(path: str) -> np.ndarray:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray()


def huge_vrt(template: str, path: Path, side: int = 1_000_000) -> str:
    """A VRT declaring side x side px on `template`'s grid origin, with `template`'s bands in one corner."""
    src = gdal.Open(template)
    gt = ", ".join(map(repr, src.GetGeoTransform()))
    bands = "".join(
        f'<VRTRasterBand dataType="Float32" band="{b}"><NoDataValue>-9999</NoDataValue><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{template}</SourceFilename><SourceBand>{b}</SourceBand>'
        f'<SrcRect xOff="0" yOff="0" xSize="{src.RasterXSize}" ySize="{src.RasterYSize}"/>'
        f'<DstRect xOff="0" yOff="0" xSize="{src.RasterXSize}" ySize="{src.RasterYSize}"/>'
        "</SimpleSource></VRTRasterBand>" for b in range(1, src.RasterCount + 1))
    Path(path).write_text(f'<VRTDataset rasterXSize="{side}" rasterYSize="{side}"><SRS>'
                          f"{src.GetProjection().replace('<', '&lt;')}</SRS><GeoTransform>{gt}</GeoTransform>"
                          f"{bands}</VRTDataset>")
    return str(path)


def warning_vrt(template: str, path: Path) -> str:
    """`template` as a VRT whose sources ask for an unknown resampling: reading it makes GDAL warn
    "GDAL_RASTERIO_RESAMPLING = bogus not supported" (the pixels are read unchanged)."""
    xml = gdal.Translate("", gdal.Open(template), format="VRT").GetMetadata("xml:VRT")[0]
    Path(path).write_text(xml.replace("<SimpleSource>", '<SimpleSource resampling="bogus">'))
    return str(path)


def inconsistent_package(path: Path, scene: dict, monkeypatch) -> str:
    """A package whose card says hsi 64 bands (69 input channels), 7 classes and a 7 px patch while its
    graphs take 29 channels, give 6 classes and read 5 px patches, as an exporter that did not check
    would write it (write_package itself now refuses it: its check is switched off while writing)."""
    import engine.model.package as package_module
    from tests.ui.test_helpers import tiny_card, tiny_graphs

    card = tiny_card(scene)
    graphs = tiny_graphs(card)
    bad = card_disagreeing_with(card)
    with monkeypatch.context() as patched:
        patched.setattr(package_module, "check_graphs", lambda *args, **kwargs: [], raising=False)
        package_module.write_package(path, bad, graphs, {"classifier.tiny": np.zeros(1, np.float32)})
    return str(path)


def card_disagreeing_with(card: dict) -> dict:
    bad = copy.deepcopy(card)
    bad["modalities"][0]["bands"] = 64
    bad["normalization"]["low"][0], bad["normalization"]["high"][0] = [0.0] * 64, [1.0] * 64
    bad["classes"] = [*bad["classes"], {"value": 7, "name": "Snow", "color": "#ffffff"}]
    bad["patch_size"] = 7
    return bad
