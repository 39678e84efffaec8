"""Reference labels on the classification raster's pixel grid (vector layers reprojected by QGIS, burnt
by engine/raster/labels.py)."""
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
    crs = QgsCoordinateReferenceSystem.fromWkt(grid.crs_wkt)
    transform = QgsCoordinateTransform(layer.crs(), crs, context.transformContext())
    shapes, skipped = [], 0
    for feature in layer.getFeatures():
        value, geometry = feature.attribute(index), feature.geometry()
        if value is None or value == NULL or geometry.isEmpty() or str(value).strip() == "":
            continue
        try:
            number = float(value)
        except (ValueError, TypeError):
            number = None
        if number is None or not number.is_integer():  # QGIS would truncate 2.7 to 2 without a word
            raise QgsProcessingException(tr(
                "The reference layer's class field '{}' holds {!r}, not a whole number: class values are "
                "integers (1, 2, ...), as in the map. Use an integer field, or recode the classes.").format(
                field, value))
        try:
            geometry.transform(transform)
            shapes.append((bytes(geometry.asWkb()), int(number)))
        except (ValueError, TypeError):
            skipped += 1
    if skipped:
        feedback.reportError(tr("{} feature(s) skipped: their geometry could not be reprojected.")
                             .format(skipped))
    from ..engine.raster.labels import burn_shapes

    return burn_shapes(shapes, grid)


def class_and_reference(class_path, layer, field, context, feedback):
    """(classification, reference) int arrays on the classification grid; 0 = nodata / unlabelled."""
    from ..engine.errors import BDGFError
    from ..engine.raster.labels import read_labels
    from ..engine.raster.read import grid_of

    try:
        grid = grid_of(class_path)
        classes = read_labels(class_path, grid, what="classification")
        if isinstance(layer, QgsVectorLayer):
            return classes, rasterize_vector(layer, field, grid, context, feedback)
        return classes, read_labels(layer.source(), grid, what="reference")
    except BDGFError as exc:
        raise QgsProcessingException(str(exc)) from None
