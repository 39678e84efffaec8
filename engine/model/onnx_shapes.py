"""Declared input / output shapes of an ONNX graph, read from its protobuf bytes with no dependency.

The plugin needs only numpy and onnxruntime at run time, and building an ONNX Runtime session just to
read shapes costs as much as loading the model; so the few fields needed (ModelProto.graph ->
GraphProto.input / output -> ValueInfoProto name and tensor shape) are read with a tiny protobuf
reader. Everything else, the weights included, is skipped by its length without being decoded.

    shapes = graph_shapes(package.onnx("classifier"))
    shapes.inputs["x"]   # ['batch', 29, 7, 7]: an int per fixed dimension, the symbol (or None) otherwise
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

# Field numbers of onnx.proto3 (stable since IR version 1).
_MODEL_GRAPH = 7
_GRAPH_INPUT, _GRAPH_OUTPUT = 11, 12
_VALUE_NAME, _VALUE_TYPE = 1, 2
_TYPE_TENSOR = 1
_TENSOR_SHAPE = 2
_SHAPE_DIM = 1
_DIM_VALUE, _DIM_PARAM = 1, 2

Dim = Union[int, str, None]  # typing.Union: a module-level `|` needs Python 3.10 (QGIS 3.22 ships 3.9)


class GraphFormatError(ValueError):
    """The bytes are not a readable ONNX model."""


@dataclass(frozen=True)
class GraphShapes:
    inputs: dict[str, list[Dim]]
    outputs: dict[str, list[Dim]]


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise GraphFormatError("truncated or malformed varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes, start: int = 0, end: int | None = None):
    """Yield (field number, wire type, value) of one message; length-delimited values as (start, end)."""
    pos, end = start, len(buf) if end is None else end
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise GraphFormatError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = (pos, pos + size), pos + size
        elif wire == 5:
            value, pos = None, pos + 4
        else:  # groups (3, 4) are not used by ONNX
            raise GraphFormatError(f"unsupported wire type {wire}")
        if pos > end:
            raise GraphFormatError("field runs past the end of its message")
        yield number, wire, value


def _sub(buf: bytes, number: int, start: int, end: int) -> list[tuple[int, int]]:
    return [v for n, w, v in _fields(buf, start, end) if n == number and w == 2]


def _value_info(buf: bytes, start: int, end: int) -> tuple[str, list[Dim]]:
    name, dims = "", []
    for number, wire, value in _fields(buf, start, end):
        if number == _VALUE_NAME and wire == 2:
            name = buf[value[0]:value[1]].decode("utf-8", "replace")
        elif number == _VALUE_TYPE and wire == 2:
            for tensor in _sub(buf, _TYPE_TENSOR, *value):
                for shape in _sub(buf, _TENSOR_SHAPE, *tensor):
                    dims = [_dim(buf, *dim) for dim in _sub(buf, _SHAPE_DIM, *shape)]
    return name, dims


def _dim(buf: bytes, start: int, end: int) -> Dim:
    for number, wire, value in _fields(buf, start, end):
        if number == _DIM_VALUE and wire == 0:
            return value
        if number == _DIM_PARAM and wire == 2:
            return buf[value[0]:value[1]].decode("utf-8", "replace")
    return None


def graph_shapes(model: bytes) -> GraphShapes:
    """Inputs and outputs of a serialized ONNX model with their declared shapes (GraphFormatError)."""
    graphs = _sub(model, _MODEL_GRAPH, 0, len(model))
    if not graphs:
        raise GraphFormatError("no graph in the model")
    inputs, outputs = {}, {}
    for number, wire, value in _fields(model, *graphs[-1]):
        if wire == 2 and number in (_GRAPH_INPUT, _GRAPH_OUTPUT):
            name, dims = _value_info(model, *value)
            (inputs if number == _GRAPH_INPUT else outputs)[name] = dims
    return GraphShapes(inputs, outputs)
