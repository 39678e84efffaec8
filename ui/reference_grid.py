"""Reference labels on the classification raster's pixel grid (vector layers rasterised with GDAL)."""
from osgeo import ogr, osr
from qgis.core import (
    NULL,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProcessingException,
    QgsVectorLayer,
)

from .i18n import tr


def rasterize_vector(layer, field, grid, context, feedback):
    """Burn `field` of the layer's features (0 = unlabelled) into an int32 array on an engine Grid."""
    index = layer.fields().lookupField(field) if field else -1
    if index < 0:
        raise QgsProcessingException(tr("The reference layer '{}' has no class field '{}' (fields: {}).")
                                     .format(layer.name(), field, ", ".join(layer.fields().names())))
    srs = osr.SpatialReference()
    srs.ImportFromWkt(grid.crs_wkt)
    crs = QgsCoordinateReferenceSystem.fromWkt(grid.crs_wkt)
    transform = QgsCoordinateTransform(layer.crs(), crs, context.transformContext())
    source = ogr.GetDriverByName("Memory").CreateDataSource("reference")
    ogr_layer = source.CreateLayer("reference", srs)
    ogr_layer.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
    skipped = 0
    for feature in layer.getFeatures():
        value, geometry = feature.attribute(index), feature.geometry()
        if value is None or value == NULL or geometry.isEmpty() or str(value).strip() == "":
            continue
        try:
            geometry.transform(transform)
            out = ogr.Feature(ogr_layer.GetLayerDefn())
            out.SetField("class", int(value))
        except (ValueError, TypeError):
            skipped += 1
            continue
        out.SetGeometry(ogr.CreateGeometryFromWkb(bytes(geometry.asWkb())))
        ogr_layer.CreateFeature(out)
    if skipped:
        feedback.reportError(tr("{} feature(s) skipped: class value not an integer.").format(skipped))
    from ..engine.raster.labels import burn_field

    return burn_field(ogr_layer, "class", grid)


def class_and_reference(class_path, layer, field, context, feedback):
    """(classification, reference) int arrays on the classification grid; 0 = nodata / unlabelled."""
    from ..engine.errors import BDGFError
    from ..engine.raster.labels import read_labels
    from ..engine.raster.read import grid_of

    try:
        grid = grid_of(class_path)
        classes = read_labels(class_path, grid)
        if isinstance(layer, QgsVectorLayer):
            return classes, rasterize_vector(layer, field, grid, context, feedback)
        return classes, read_labels(layer.source(), grid)
    except BDGFError as exc:
        raise QgsProcessingException(str(exc)) from None
