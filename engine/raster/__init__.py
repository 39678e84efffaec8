"""raster/: GDAL read and write (the only room that imports osgeo at module level).

read      grids, layers warped onto the reference grid, windows, nodata masks, samples, GDAL messages
write     GeoTIFF writers (temporary file, checked, then renamed with sidecars), VRT and COG mosaics
nodata    the user's per-layer nodata setting (GDAL-free, for configs and settings)
labels    label and reference layers (raster or vector) burnt onto a grid
"""
