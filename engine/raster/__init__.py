"""raster/: GDAL read and write (the only room that imports osgeo at module level).

grid      pixel grids and CRSs: footprints, the window other layers cover, a pixel's area
read      opening layers, warping them onto the reference grid, windows with nodata masks, samples
write     GeoTIFF writers (temporary file, checked, renamed with sidecars); the classes a map stores
mosaic    a batch job's VRT and COG mosaics, all or nothing
style     QGIS .qml sidecars (paletted classes, 0..1 ramps); no GDAL
points    GeoPackage point layers, all or nothing (the suggested samples)
nodata    the user's per-layer nodata setting (GDAL-free, for configs and settings)
labels    label and reference layers (raster or vector) burnt onto a grid
guard     the one guard of every writer: outputs vs what inputs read, the model, each other; room
atomic    all-or-nothing files: a temporary name beside the final one, renamed when complete (stdlib)
"""
