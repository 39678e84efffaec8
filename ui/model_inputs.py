"""The opened model (each package opened once per file version) and which layer feeds which modality."""
import os
import threading

from .i18n import tr

SLOT_ROLES = (("SPECTRAL", "spectral"), ("SAR", "sar"), ("LIDAR", "lidar"))

# Opened packages by absolute path, with the file's (size, mtime) when it was opened. The dock, the
# algorithm's parameter check and its run (on a worker thread) all ask for the same package; opening
# means hashing every member, so it happens once per file version, not once per caller.
_OPENED = {}
_OPENED_LOCK = threading.Lock()
_OPENED_MAX = 4


def open_package(path):
    """(ModelPackage, None) or (None, plain error message); reopened only when the file changed."""
    if not path:
        return None, tr("No model package chosen.")
    try:
        from ..engine.model.package import ModelPackage
    except ImportError as exc:
        return None, tr("Cannot read model packages: {}").format(exc)
    from ..engine.errors import BDGFError

    key = os.path.abspath(path)
    try:
        info = os.stat(key)
    except OSError:
        info = None  # ModelPackage words the error
    stamp = (info.st_size, info.st_mtime_ns) if info else None
    with _OPENED_LOCK:
        cached = _OPENED.get(key)
        if cached is not None and stamp is not None and cached[0] == stamp:
            return cached[1], None
        try:
            package = ModelPackage(key)
        except BDGFError as exc:
            return None, str(exc)
        except OSError as exc:
            return None, tr("Cannot open the model package {}: {}").format(path, exc.strerror or exc)
        _OPENED.pop(key, None)
        _OPENED[key] = (stamp, package)
        while len(_OPENED) > _OPENED_MAX:
            _OPENED.pop(next(iter(_OPENED)))
        return package, None


def load_card(path):
    """(card, None) or (None, plain error message)."""
    package, error = open_package(path)
    return (package.card, None) if package is not None else (None, error)


def assign_modalities(card, slots):
    """Pairs each card modality with a slot and a layer.

    slots = {SPECTRAL, SAR, LIDAR: layer or None, EXTRA_AUX: [layers]}. The spectral, SAR and LiDAR
    slots take the first modality with that role; every other modality takes the next EXTRA_AUX
    layer, in card order. Returns [(modality dict, slot name, layer or None)].
    """
    free = dict(SLOT_ROLES)
    extra = list(slots.get("EXTRA_AUX") or [])
    pairs = []
    for modality in card["modalities"]:
        slot = next((s for s, r in free.items() if r == modality.get("role")), None)
        if slot is not None:
            del free[slot]
            pairs.append((modality, slot, slots.get(slot)))
        else:
            pairs.append((modality, "EXTRA_AUX", extra.pop(0) if extra else None))
    return pairs


def describe_modality(modality):
    return tr("{name} ({role}, {bands} bands)").format(
        name=modality["name"], role=modality.get("role", "auxiliary"), bands=modality["bands"]
    )


def mismatch_messages(card, slots, check_layers=True, nodata=None, scale=None):
    """Plain messages with expected and found values; [] when the layers fit the card.

    Band counts, missing layers and the per-layer nodata / input scale are the engine's rule
    (engine.classify.inputs.check_inputs, called here when check_layers); the rest is what the engine cannot
    know: layers given in slots the model does not use.
    """
    pairs = assign_modalities(card, slots)
    expected = ", ".join(describe_modality(m) for m in card["modalities"])
    problems = []
    used = {slot for _m, slot, _layer in pairs}
    for slot, role in SLOT_ROLES:
        if slots.get(slot) is not None and slot not in used:
            problems.append(tr("A {} layer was given, but the model has no {} modality (it expects: {}).")
                            .format(role, role, expected))
    n_extra = sum(1 for _m, slot, _layer in pairs if slot == "EXTRA_AUX")
    if len(slots.get("EXTRA_AUX") or []) > n_extra:
        problems.append(tr("{found} extra auxiliary layer(s) given, but the model uses {expected} "
                           "(it expects: {all}).").format(
            found=len(slots["EXTRA_AUX"]), expected=n_extra, all=expected))
    if not check_layers:
        return problems
    from ..engine.classify.inputs import check_inputs
    from ..engine.errors import BDGFError

    try:
        check_inputs(card, engine_inputs(pairs), nodata=nodata, scale=scale)
    except BDGFError as exc:
        problems.insert(0, str(exc))
    return problems


def engine_inputs(pairs):
    """{modality name: raster source} for engine.classify.run (modalities without a layer left out)."""
    return {modality["name"]: layer.source() for modality, _slot, layer in pairs if layer is not None}
