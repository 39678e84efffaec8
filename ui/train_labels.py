"""The user's label layer as training labels: its classes (names and colours from a categorized style on the
class field, else the field's values and the default palette; a text field gets codes 1, 2, ...) and its
features, reprojected by QGIS onto the spectral layer's CRS and written as a GeoPackage with an integer
`class_code` field that training reads (engine/raster/points.py writes it, all or nothing).
"""
from dataclasses import dataclass, field

from qgis.core import (
    NULL,
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProcessingException,
    QgsWkbTypes,
)

from ..engine.palette import default_colour
from .i18n import tr

CODE_FIELD = "class_code"
LAYER_NAME = "labels"


@dataclass
class LabelClasses:
    """The model's classes, in order ({"value": code, "name", "color"}), and each field value's code."""

    classes: list = field(default_factory=list)
    codes: dict = field(default_factory=dict)  # field value (as the layer gives it) -> class code
    text: bool = False  # the field holds text: codes were assigned


def _present(value):
    return value is not None and value != NULL and str(value).strip() != ""


def _whole(value):
    """The whole number a value means (7, 7.0, "7"), or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def class_key(value):
    """The key two layers' class values are matched by: the whole number (7, 7.0 and "7" alike), else
    the text."""
    number = _whole(value)
    return str(number) if number is not None else str(value).strip()


def layer_style(layer):
    """(class field, [(value, legend label, colour)]) of a layer styled 'Categorized', else (None, []).
    Read on the main thread (QgsProcessingAlgorithm.prepareAlgorithm): a layer's renderer belongs there."""
    renderer = layer.renderer() if layer is not None else None
    if not isinstance(renderer, QgsCategorizedSymbolRenderer):
        return None, []
    return renderer.classAttribute(), [(c.value(), c.label() or str(c.value()), c.symbol().color().name())
                                       for c in renderer.categories() if _present(c.value())]


def label_classes(style, field_name, values):
    """Classes for the field values found (`values`, in the layer's order): from the layer's categorized
    style (layer_style) when it is on `field_name` (its legend labels and colours, in its order), else the
    values (numbers ascending, or text in alphabetical order) with the default palette.
    QgsProcessingException for a number that is not whole, or a code outside 1..65535."""
    found = [v for v in dict.fromkeys(values) if _present(v)]
    numbers = {v: _whole(v) for v in found}
    text = any(n is None for n in numbers.values())
    if text and all(not isinstance(v, str) for v in found):  # a real field with fractions
        bad = next(v for v, n in numbers.items() if n is None)
        raise QgsProcessingException(tr(
            "The class field '{}' holds {}, not a whole number: class values are integers (1, 2, ...) or "
            "text (each text becomes a class). Use another field, or recode the classes.").format(
                field_name, bad))
    styled_field, categories = style or (None, [])
    styled = categories if styled_field == field_name else []
    style = {str(v): (label, colour) for v, label, colour in styled}
    order = [v for v, _label, _colour in styled if str(v) in {str(f) for f in found}]
    rest = [v for v in found if str(v) not in style]
    rest.sort(key=(lambda v: str(v).casefold()) if text else (lambda v: numbers[v]))
    result = LabelClasses(text=text)
    for i, value in enumerate([*order, *rest]):
        code = i + 1 if text else _whole(value)
        if not 1 <= code <= 65535:
            raise QgsProcessingException(tr(
                "The class field '{}' holds the value {}: class values must lie in 1..65535 (0 means "
                "unlabelled). Recode the classes.").format(field_name, value))
        label, colour = style.get(str(value), (str(value), default_colour(i)))
        result.classes.append({"value": code, "name": label, "color": colour.lower()})
        for original in found:
            if str(original) == str(value):
                result.codes[original] = code
    return result


def features_of(source, field_name):
    """[(QgsGeometry, field value)] of the source's features with a geometry and a class value (a
    QgsProcessingFeatureSource gives only the selected features when the user asks for that)."""
    index = source.fields().lookupField(field_name)
    if index < 0:
        raise QgsProcessingException(tr("The label layer has no field '{}' (fields: {}).").format(
            field_name, ", ".join(source.fields().names())))
    out = []
    for feature in source.getFeatures():
        geometry, value = feature.geometry(), feature.attribute(index)
        if geometry is None or geometry.isEmpty() or not _present(value):
            continue
        out.append((geometry, value))
    return out


def label_shapes(features, codes, source_crs, target_wkt, context):
    """[(WKB in the target CRS, {"class_code": code})] for `features` whose value has a code."""
    crs = QgsCoordinateReferenceSystem.fromWkt(target_wkt)
    transform = QgsCoordinateTransform(source_crs, crs, context.transformContext())
    shapes = []
    for geometry, value in features:
        if value not in codes:
            continue
        moved = type(geometry)(geometry)  # a copy: the caller's geometry stays in its CRS
        moved.transform(transform)
        shapes.append((bytes(moved.asWkb()), {CODE_FIELD: codes[value]}))
    return shapes


def all_points(features):
    """Whether every feature is a point (a point layer splits by spatial blocks, polygons by feature)."""
    # by the type's name, not an enum: QGIS 3.22 and 4.x name the geometry type enums differently
    names = [QgsWkbTypes.displayString(g.wkbType()).removeprefix("Multi") for g, _v in features]
    return bool(names) and all(name.startswith("Point") for name in names)
