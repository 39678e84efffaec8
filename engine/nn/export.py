"""ONNX export of the feature extractor (features.onnx) and of the classifier (classifier.onnx).

Uses the TorchScript exporter (dynamo=False, opset 17): ~1 s instead of ~15 s with dynamo for the
unrolled scan, with the same parity. Input/output names follow ARCHITECTURE.md.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch

OPSET = 17


def _export(module, args, target, input_names, output_names, dynamic_axes) -> bytes:
    buf = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, buf, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False,
                              do_constant_folding=True)
    finally:
        module.train(was_training)
    data = _keep_inputs(buf.getvalue(), args, input_names, dynamic_axes)
    if target is not None:
        if isinstance(target, (str, Path)):
            Path(target).write_bytes(data)
        else:
            target.write(data)
    return data


def _keep_inputs(data: bytes, args, input_names, dynamic_axes) -> bytes:
    """Re-add graph inputs the exporter dropped because they are unused (e.g. `d` when no branch is
    guided), so every graph has the documented input names (and dynamic dimensions)."""
    import onnx

    model = onnx.load_from_string(data)
    present = {i.name for i in model.graph.input}
    missing = [(n, a) for n, a in zip(input_names, args) if n not in present]
    if not missing:
        return data
    for name, arg in missing:
        dims = [dynamic_axes.get(name, {}).get(i, size) for i, size in enumerate(arg.shape)]
        model.graph.input.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims))
    return model.SerializeToString()


def export_features(extractor, target=None, tile: int = 32) -> bytes:
    """features.onnx: inputs x (1, C, H, W), noise (K, C, H, W); output feats (1, F, H, W); H, W dynamic
    (multiples of the stride). `target`: path, binary file object or None. Returns the bytes."""
    c = extractor.ddpm.cfg.in_channels
    k = len(extractor.timesteps)
    tile = max(extractor.stride(), tile - tile % extractor.stride())
    x = torch.zeros(1, c, tile, tile)
    noise = torch.zeros(k, c, tile, tile)
    axes = {"x": {2: "H", 3: "W"}, "noise": {2: "H", 3: "W"}, "feats": {2: "H", 3: "W"}}
    return _export(extractor, (x, noise), target, ["x", "noise"], ["feats"], axes)


BRANCH_OUTPUT = "branch_probs"  # the branch softmaxes (B, n_branches, n_classes), model/package.py reads it


def export_classifier(classifier, target=None, batch: int = 2, branches: bool = True) -> bytes:
    """classifier.onnx: inputs x (B, C, P, P), d (B, F, P, P); output probs (B, n_classes) and, with
    `branches`, branch_probs (B, n_branches, n_classes) (BDGFClassifier.forward_branches: probs computed
    as without it); B dynamic."""
    p = classifier.cfg.patch_size
    x = torch.zeros(batch, classifier.in_channels, p, p)
    d = torch.zeros(batch, sum(classifier.feature_channels), p, p)
    outputs = ["probs", BRANCH_OUTPUT] if branches else ["probs"]
    axes = {"x": {0: "batch"}, "d": {0: "batch"}, **{n: {0: "batch"} for n in outputs}}
    module = _Method(classifier, "forward_branches") if branches else classifier
    return _export(module, (x, d), target, ["x", "d"], outputs, axes)


def export_dense(classifier, window: int | None = None, branches: bool = True) -> tuple[bytes, bytes]:
    """The dense classifier (engine.nn.dense) as two graphs:

    classifier_maps.onnx: x (1, C, H, W), d (1, F, H, W) -> one pixel-major table per branch,
    `<branch>_table` (H*W, M_branch); H, W dynamic.
    classifier_pixels.onnx: the tables and index (B, P*P) int64 -> probs (B, n_classes) and, with
    `branches`, branch_probs (B, n_branches, n_classes); B and the table rows dynamic."""
    from .dense_versions import dense_classifier

    dense = dense_classifier(classifier).train(classifier.training)  # export restores that mode
    p = classifier.cfg.patch_size
    side = window or p + 3
    x = torch.zeros(1, classifier.in_channels, side, side)
    d = torch.zeros(1, sum(classifier.feature_channels), side, side)
    names = dense.table_names
    hw = {"x": {2: "H", 3: "W"}, "d": {2: "H", 3: "W"}, **{n: {0: "pixels"} for n in names}}
    maps = _export(_Method(dense, "maps"), (x, d), None, ["x", "d"], names, hw)
    with torch.no_grad():
        tables = dense.maps(x, d)
    index = torch.zeros(2, p * p, dtype=torch.int64)
    outputs = ["probs", BRANCH_OUTPUT] if branches else ["probs"]
    axes = {**{n: {0: "pixels"} for n in names}, "index": {0: "batch"}, **{n: {0: "batch"} for n in outputs}}
    method = _Method(dense, "pixels_branches" if branches else "pixels")
    pixels = _export(method, (*tables, index), None, [*names, "index"], outputs, axes)
    return maps, pixels


class _Method(torch.nn.Module):
    """One method of a module as forward (torch.onnx.export traces forward)."""

    def __init__(self, module, method: str):
        super().__init__()
        self.module, self.method = module, method
        self.train(module.training)  # _export restores this mode: the wrapped module's own

    def forward(self, *args):
        return getattr(self.module, self.method)(*args)
